"""Query understanding: forces named in the question, acronyms, everyday words.

Pure functions over plain data; the retriever turns the plan into scores.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from ..forces import find_forces, names_of
from .vocabulary import EVERYDAY_TERMS

# Question words that carry no topic (bm25s's stop word list keeps most of them).
# The inspectorate's names: who found something ("what did HMICFRS find about ..."), not what
# about; never expanded to the long form, which every report's introduction spells out.
INSPECTORATE = frozenset({"hmicfrs", "hmic", "hmi"})
QUESTION_WORDS = frozenset(
    """how does do did what which who whom whose why when where is are was were can could
    should would will there their they them it its the a an about tell me please any some
    force forces police constabulary still""".split()
).union(INSPECTORATE)

_QUESTION_TEXT = " ".join(sorted(QUESTION_WORDS))

# Wording that asks across forces ("compare", "each force", "which forces", "the four forces").
COMPARE_INTENT = re.compile(
    r"\b(compar\w*|each force|every force|all (?:the )?forces|all four|the four forces"
    r"|which forces?|across (?:the )?forces|between (?:the )?forces"
    r"|which of the (?:four|forces))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class QueryPlan:
    """What the retriever should do for one question."""

    question: str
    dense_text: str
    topic: str  # the question without the force names (what it is about)
    terms: dict[str, float]  # lexical terms -> weight
    forces_named: tuple[str, ...] = ()
    forces_in_corpus: tuple[str, ...] = ()  # named forces the corpus covers (become a filter)
    forces_missing: tuple[str, ...] = ()  # named forces the corpus does not cover
    expansions: tuple[str, ...] = field(default=())
    # The user's own terms that an everyday-words entry translated (e.g. "under-18s"): the
    # corpus may never use them, so they do not count against how well it covers the topic.
    translated: frozenset[str] = frozenset()


@lru_cache(maxsize=8192)
def _whole_word(phrase: str, ignore_case: bool = False) -> re.Pattern[str]:
    """``phrase`` as a whole word or words (not inside a longer word or hyphenation)."""
    return re.compile(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", re.I if ignore_case else 0)


def _acronym_forms(acronym: str) -> tuple[str, ...]:
    """An acronym as a question may write it: one and many ("PVPUs" is also "PVPU", "RSO"
    also "RSOs"); a report defines one of the two. Two-letter ones ("DCs", "DO") only as
    defined: "DC" and "do" are too often something else."""
    if acronym.endswith("s") and acronym[-2:-1].isupper():
        return (acronym, acronym[:-1]) if len(acronym) > 3 else (acronym,)
    return (acronym, f"{acronym}s") if len(acronym) > 2 else (acronym,)


def _has_word(phrase: str, text: str, ignore_case: bool = False) -> bool:
    """Whether ``text`` contains ``phrase`` as a whole word; for lower-case matching pass
    ``ignore_case`` with ``text`` already lower-cased. A plain substring test first: most
    phrases are absent, and it is much cheaper than the pattern (this runs for every
    everyday-words entry and every acronym on every question)."""
    needle = phrase.lower() if ignore_case else phrase
    return needle in text and _whole_word(phrase, ignore_case).search(text) is not None


@lru_cache(maxsize=512)
def _possessive(name: str) -> re.Pattern[str]:
    """A force name as whole words, with any possessive ending."""
    return re.compile(rf"(?i)(?<![\w-]){re.escape(name)}(?![\w-])(?:’s|'s)?")


def plan_query(
    question: str,
    corpus_forces: Iterable[str],
    terms_of: Callable[[str], list[str]],
    acronyms: dict[str, str],
    expansion_weight: float = 0.5,
    expand_dense: bool = False,
    everyday: bool = True,
    force_words_removed: bool = True,
    spell: Callable[[str], str | None] | None = None,
) -> QueryPlan:
    """Turn a question into lexical terms, a dense text and force filters. ``spell`` gives the
    index term a mistyped word stands for (search/spelling.py), or None."""
    corpus = set(corpus_forces)
    named = tuple(find_forces(question))
    in_corpus = tuple(f for f in named if f in corpus)
    missing = tuple(f for f in named if f not in corpus)

    # The force is applied as a filter; its name would only bias the lexical scores.
    topic = question
    for force in named if force_words_removed else ():
        for name in names_of(force):
            topic = _possessive(name).sub(" ", topic)
    topic = " ".join(topic.split())

    skip = QUESTION_WORDS.union(terms_of(_QUESTION_TEXT))  # stemmed too
    fixes: dict[str, str] = {}
    if spell is not None:
        for word in re.findall(r"[A-Za-z]+", topic):
            fixed = spell(word)
            stems = terms_of(word) if fixed else []
            if fixed and len(stems) == 1:
                fixes[stems[0]] = fixed
    terms: dict[str, float] = {}
    for t in terms_of(topic):
        t = fixes.get(t, t)
        if t not in skip:
            terms[t] = terms.get(t, 0.0) + 1.0

    expansions: list[str] = []
    translated: set[str] = set()
    low = f" {topic.lower()} "
    for phrase, targets in EVERYDAY_TERMS.items() if everyday else ():
        if _has_word(phrase, low, ignore_case=True):
            expansions.extend(targets)
            translated.update(terms_of(phrase))
    # Acronyms: in the question (or its everyday-word translations) add the long form, and
    # the other way round.
    widened = low + " " + " ".join(expansions).lower() + " "
    for acronym, long in acronyms.items():
        if acronym.lower() in INSPECTORATE:
            continue
        if any(
            _has_word(form, topic)
            or (len(form) >= 3 and _has_word(form, widened, ignore_case=True))
            for form in _acronym_forms(acronym)
            if form == acronym or form not in acronyms  # the other number has its own entry
        ):
            expansions.append(long)
        elif long.lower() in widened:
            expansions.append(acronym)
    for phrase in expansions:
        for t in terms_of(phrase):
            if t not in skip and t not in terms:
                terms[t] = expansion_weight
    dense_text = question
    if expand_dense and expansions:
        dense_text = f"{question} ({', '.join(dict.fromkeys(expansions))})"
    return QueryPlan(
        question=question,
        dense_text=dense_text,
        topic=topic,
        terms=terms,
        forces_named=named,
        forces_in_corpus=in_corpus,
        forces_missing=missing,
        expansions=tuple(dict.fromkeys(expansions)),
        translated=frozenset(translated),
    )


def dense_text(plan: QueryPlan, on_topic: bool, expand: bool) -> str:
    """The text embedded for dense ranking: the topic (or the question), with the report
    words that the everyday-words list and acronyms translated it into when ``expand``."""
    text = plan.topic if on_topic else plan.question
    if expand and plan.expansions:
        text = f"{text} ({', '.join(plan.expansions)})"
    return text
