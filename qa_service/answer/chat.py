"""Chat: deterministic follow-up rewriting and extractive, cited answers. No language model.

The client sends the whole conversation each time (stateless). Every user turn is rewritten
in order, each against the previous rewritten question, so the same history always gives the
same searched question:

- "and Leicestershire?" / "what about Kent?"      -> the previous question, forces swapped
- "what about custody?" / "and missing children?" -> the new topic, with the previous forces
- "why was that?" / "how come?"                   -> "Why ..." + the previous question
- anything that reads as a new question           -> itself
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..forces import find_forces, names_of, short_name
from ..search.types import Filters, SearchResult
from .progress import progress_reply
from .reply import AnswerSentence, ChatReply, Turn
from .retriever import Retriever

_LEAD = re.compile(
    r"^\s*(?:and|also|but|ok(?:ay)?|so|then|same for|same in|what about|how about|and what about"
    r"|and how about|what of|and in|and for|and at|now|tell me about)\b[\s,]*",
    re.IGNORECASE,
)
_WHY = re.compile(
    r"^\s*(?:and\s+)?(?:why|how come|what(?:'s| is| was) the reason|for what reason)\b"
    r"(?:\s+(?:was|is|were|are|did|does|do|has|have)\s+(?:that|this|it|so|they))?\s*\??\s*$",
    re.IGNORECASE,
)
_MORE = re.compile(
    r"^\s*(?:tell me more|more|go on|and\?|details?\??|more detail\??)\s*\??\s*$", re.IGNORECASE
)
_FILLER = frozenset(
    """and also but ok okay so then what about how the in for at of same there their they it
    that this those them do does did is are was were police force constabulary please now
    tell me with regard regards to""".split()
)
_AUX = re.compile(
    r"^(does|do|did|is|are|was|were|has|have|had|can|could|will|would|should)\b", re.IGNORECASE
)


def _strip_forces(text: str, forces: Iterable[str]) -> str:
    for force in forces:
        names = names_of(force)
        for name in names:
            text = re.sub(
                rf"(?i)(?<![\w-])(?:in |for |at )?{re.escape(name)}(?:’s|'s)?(?![\w-])", " ", text
            )
    return " ".join(text.split())


def _content_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z0-9’'-]+", text.lower()) if w not in _FILLER]


def _force_names(forces: Sequence[str]) -> str:
    names = [short_name(f) for f in forces]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _swap_forces(previous: str, old: Sequence[str], new: Sequence[str]) -> str:
    """``previous`` with its forces replaced by ``new`` (or ``new`` added if it named none)."""
    text = previous
    if old:
        first = True
        for force in old:
            names = names_of(force)
            pattern = rf"(?i)(?<![\w-])(?:{'|'.join(re.escape(n) for n in names)})(?![\w-])"
            # The first old force becomes the new force(s); any others are dropped.
            text, n = re.subn(pattern, _force_names(new) if first else "", text, count=1)
            first = first and n == 0
            text = re.sub(pattern, "", text)
        return " ".join(re.sub(r"\s+([?,.])", r"\1", text).split())
    return f"{previous.rstrip(' ?')} in {_force_names(new)}?"


def rewrite_question(question: str, previous: str | None) -> str:
    """Rewrite one user turn against the previous rewritten question (None for the first)."""
    q = " ".join(question.split())
    if previous is None or not q:
        return q
    prev_forces = find_forces(previous)
    if _WHY.match(q):
        base = previous.rstrip(" ?")
        base = re.sub(r"(?i)^(?:what|how) about\s+", "", base)
        if _AUX.match(base):
            return f"Why {base[0].lower()}{base[1:]}?"
        return f"Why: {base}?"
    if _MORE.match(q):
        return previous
    forces = find_forces(q)
    rest = _LEAD.sub("", q)
    topic = _content_words(_strip_forces(rest, forces))
    # "what about custody?" or a bare "custody?" continue the conversation; a short question
    # of its own ("children detained overnight") starts a new one.
    elliptical = bool(_LEAD.match(q)) or len(q.split()) <= 2
    if forces and not topic:  # "and Leicestershire?" -> same question, other force
        return _swap_forces(previous, prev_forces, forces)
    if not forces and topic and elliptical and prev_forces:  # "what about custody?"
        body = _strip_forces(rest, []).rstrip(" ?")
        return f"What about {body} in {_force_names(prev_forces)}?"
    if not forces and prev_forces and re.search(r"(?i)\b(there|they|their)\b", q):
        return f"{q.rstrip(' ?')} ({_force_names(prev_forces)})?"
    return q


def rewrite_conversation(turns: Sequence[Turn]) -> list[str]:
    """The rewritten question of every user turn, in order."""
    out: list[str] = []
    previous: str | None = None
    for turn in turns:
        if turn.role != "user":
            continue
        previous = rewrite_question(turn.content, previous)
        out.append(previous)
    return out


def answer(
    retriever: Retriever,
    turns: Sequence[Turn],
    top_k: int = 5,
    max_sentences: int = 3,
    filters: Filters | None = None,
) -> ChatReply:
    """Rewrite the last user turn, search, and compose an answer from highlighted sentences
    of distinct passages, each sentence followed by the marker of the passage it comes from."""
    rewritten = rewrite_conversation(turns)
    if filters is not None and filters.forces and len(rewritten) > 1:
        # Forces chosen explicitly replace any force carried over from earlier turns.
        rewritten[-1] = rewrite_question(
            next(t.content for t in reversed(turns) if t.role == "user"), None
        )
    if not rewritten:
        raise ValueError("the conversation has no user message")
    question = next(t.content for t in reversed(turns) if t.role == "user")
    # Progress questions ("has Kent improved since the inspection?") are answered from the
    # recommendation tracker, not by search (answer/progress.py).
    progress = progress_reply(retriever, question, rewritten[-1], filters)
    if progress is not None:
        return progress
    result = retriever.search(rewritten[-1], top_k=top_k, filters=filters)
    sentences = answer_sentences(result, max_sentences)
    return ChatReply(
        question,
        rewritten[-1],
        answer_text(result, sentences),
        sentences,
        result,
        max((s.citation for s in sentences), default=0),
    )


def answer_sentences(result: SearchResult, max_sentences: int = 3) -> list[AnswerSentence]:
    """The answer's sentences, best first: the report's own words of each pick, cited by the
    1-based position of its passage (empty when the reports do not answer)."""
    if result.state == "not_answered":
        return []
    out: list[AnswerSentence] = []
    for pick in result.answer[:max_sentences]:
        hit = result.hits[pick.hit]
        text = " ".join(hit.chunk.text[pick.start : pick.end].split())
        if text:
            out.append(AnswerSentence(text, pick.hit + 1, pick.force))
    return out


def answer_text(result: SearchResult, sentences: Sequence[AnswerSentence]) -> str:
    """The answer as one string: each sentence followed by its marker; when it draws on more
    than one force's report, each sentence opens with the force it is about."""
    if not sentences:
        return result.message or "The reports in the corpus do not answer this question."
    several = len({s.force for s in sentences}) > 1
    body = " ".join(
        (f"{short_name(s.force)}: " if several and s.force else "") + f"{s.text} [{s.citation}]"
        for s in sentences
    )
    if result.state == "partial" and result.message:
        return f"{result.message} What they do say: {body}"
    return body
