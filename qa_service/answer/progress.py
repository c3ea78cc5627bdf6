"""Progress questions: "has Kent improved since the inspection?", "what did the review find about
custody in Lincolnshire?", "is Leicestershire doing better on missing children?".

``detect`` is pure: it recognises a question about a force's progress on its inspection's
recommendations and says which forces and which area or topic it asks about. ``progress_reply``
answers it from the recommendation tracker (``answer/tracker.py``): a line counting the review's
verdicts, then the review's own sentences that decided them, each cited to the passage it is
in, with the recommendation itself when the question asks about one area. Where the corpus has
no post-inspection review of a force, the reply says so and is not an answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..forces import find_forces, names_of, short_name
from ..search.query import QueryPlan
from ..search.types import Filters, Hit, SearchResult
from ..types import Chunk, Document
from .answerability import named_years
from .recommendations import AREAS
from .reply import AnswerSentence, ChatReply
from .retriever import Retriever
from .tracker import Finding, TrackerRow, build_tracker, counts, filter_rows, split_sentences

_SINCE = re.compile(r"\b(?:since|after)\s+(?:(?:the|its|their)\s+)?((?:19|20)\d\d)\b", re.I)
_PROGRESS = re.compile(
    r"\b(?:has|have|had|did)\b.*\b(?:improved?|got(?:ten)? better|made (?:any |much |some )?"
    r"progress|progressed|acted on|implemented|met(?![’']))\b"
    r"|\b(?:is|are|was|were)\b.*\b(?:doing better|better now|improving|making progress)\b"
    r"|\bwhat did (?:the |its |their |hmicfrs'?s? )?(?:post[- ]inspection )?(?:re)?visit"
    r"|\bwhat did (?:the |its |their |hmicfrs'?s? )?(?:post[- ]inspection )?review"
    r"|\b(?:post[- ]inspection review|the review) (?:find|found|say|said|conclude)"
    r"|\bsince (?:the|its|their|our) (?:\d{4} )?inspection\b"
    r"|\bprogress (?:on|with|against|since|in)\b"
    r"|\bverdicts?\b|\brecommendations? (?:been )?(?:met|implemented|acted on)\b",
    re.IGNORECASE,
)
# Words for each area beyond its own name; the area's name itself always counts.
_AREA_WORDS: dict[str, str] = {
    "police detention": r"custody|detention|detained|appropriate adults?|cells?",
    "initial contact": r"initial contact|first response|call handl\w+|control room|999|"
    r"frontline response",
    "assessment and help": r"assessment and help|referrals?|early help",
    "investigation": r"investigations?|investigating",
    "decision making": r"decision[- ]making|protective powers?|strategy discussions?",
    "trusted adult": r"trusted adults?|voice of the child|children'?s views",
    "managing those posing a risk to children": r"offenders?|sex offenders?|rso|mosovo",
    "leadership, management and governance": r"leadership|governance|management",
}
_FILLER = frozenset(
    """has have had did does do is are was were the a an its their our it they what about
    on in for at of with since to find found say said review reviews post inspection
    inspections improved improve improving better progress doing made make making got gotten
    any much some how been recommendation recommendations now police force constabulary
    hmicfrs there this that which and or conclude verdict verdicts revisit not met
    post-inspection""".split()
)


# A progress question asks about a force, an area or a short topic ("missing children"); one
# asking about a detail ("the quality of custody carer activity", "extra training for call
# handlers", "MOSOVO training") is left to search: at most two topic words, or an area alone.
_MAX_TOPIC_WORDS = 2


@dataclass(frozen=True)
class ProgressQuestion:
    """What a progress question asks about."""

    forces: tuple[str, ...]  # official names, as named (empty: every force)
    area: str | None  # one of recommendations.AREAS, when the question names one
    topic: tuple[str, ...]  # other words it asks about ("missing", "children")


def detect(question: str) -> ProgressQuestion | None:
    """The progress question ``question`` asks, or None when it asks something else."""
    q = " ".join(question.split())
    if not _PROGRESS.search(q):
        return None
    forces = tuple(find_forces(q))
    low = q.lower()
    area = next(
        (a for a in AREAS if a in _AREA_WORDS and re.search(rf"\b(?:{_AREA_WORDS[a]})\b", low)),
        None,
    )
    rest = low
    for force in forces:
        for name in names_of(force):
            rest = re.sub(rf"(?<![\w-]){re.escape(name.lower())}(?:[’']s)?(?![\w-])", " ", rest)
    if area is not None:
        rest = re.sub(rf"\b(?:{_AREA_WORDS[area]})\b", " ", rest)
    words = re.findall(r"[a-z][a-z’'-]+", rest)
    topic = tuple(w for w in words if w not in _FILLER and w not in {"children", "child"})
    if len(topic) > (0 if area is not None else _MAX_TOPIC_WORDS):
        return None  # a question about a detail, better answered by search
    return ProgressQuestion(forces, area, topic)


_TRACKERS: dict[str, list[TrackerRow]] = {}


def _tracker(retriever: Retriever) -> list[TrackerRow]:
    version = retriever.index.version
    if version not in _TRACKERS:
        _TRACKERS.clear()  # one index at a time
        _TRACKERS[version] = build_tracker(retriever.index.documents.values())
    return _TRACKERS[version]


def _about(text: str, topic: Sequence[str]) -> bool:
    """Whether ``text`` uses a topic word (or a word starting as it does: missing, misses)."""
    return any(re.search(rf"\b{re.escape(w[:6])}", text.lower()) for w in topic)


class _Citations:
    """The passages cited so far, each once, with the sentences highlighted in it."""

    def __init__(self, retriever: Retriever) -> None:
        self.index = retriever.index
        self.hits: list[Hit] = []

    def cite(self, doc: Document, sentence: str, start: int, end: int) -> int | None:
        """The marker of the passage holding ``sentence`` (within [start, end) of the
        report), adding the passage or its highlight as needed; None if no passage has it."""
        words = sentence.split()
        if not words:
            return None
        pattern = re.compile(r"\s*".join(re.escape(w) for w in words))
        chunks = [
            c
            for c in self.index.chunks
            if c.doc_id == doc.doc_id and c.start < end and c.end > start and "+" not in c.chunk_id
        ]
        for chunk in sorted(chunks, key=lambda c: c.start):
            m = pattern.search(chunk.text)
            if m:
                return self._add(chunk, doc, (m.start(), m.end()))
        return None

    def _add(self, chunk: Chunk, doc: Document, span: tuple[int, int]) -> int:
        for n, hit in enumerate(self.hits):
            if hit.chunk.chunk_id == chunk.chunk_id:
                spans = tuple(sorted({*hit.highlights, span}))
                self.hits[n] = Hit(hit.chunk, doc, 1.0, 0.0, 0.0, spans, hit.row)
                return n + 1
        row = self.index.row_of.get(chunk.chunk_id, -1)
        self.hits.append(Hit(chunk, doc, 1.0, 0.0, 0.0, (span,), row))
        return len(self.hits)


def _verdict_line(force: str, rows: Sequence[TrackerRow], about: str | None) -> str:
    c = counts(rows)
    parts = [f"{c[v]} {v}" for v in ("met", "partly met", "not met") if c[v]]
    n = len(rows)
    noun = "recommendation" if n == 1 else "recommendations"
    where = f" ({about})" if about else ""
    return (
        f"{short_name(force)}{where}: of the {n} {noun} the post-inspection review followed up,"
        f" it finds {', '.join(parts)}."
    )


def _deciding(findings: Sequence[Finding], topic: Sequence[str] = ()) -> list[Finding]:
    """The sentences that decided a verdict: the first of each class present, in order; of
    those using a topic word, when some do."""
    on_topic = [f for f in findings if topic and _about(f.text, topic)]
    firsts: dict[str, Finding] = {}
    for f in on_topic or findings:
        if f.cls != "neutral":
            firsts.setdefault(f.cls, f)
    return [f for f in findings if f in firsts.values()]


def progress_reply(
    retriever: Retriever,
    question: str,
    rewritten: str,
    filters: Filters | None = None,
    max_sentences: int = 14,
) -> ChatReply | None:
    """The reply to a progress question, from the tracker; None when it is not one."""
    asked = detect(rewritten)
    if asked is None:
        return None
    documents = retriever.index.documents
    in_corpus = {d.metadata.force for d in documents.values() if d.metadata.force}
    wanted = list(asked.forces or (filters.forces if filters else ()) or sorted(in_corpus))
    # A year no report of these forces is from or speaks of ("did kent improve between 2021
    # and 2022?") is for search to refuse (answerability.years_missing): the tracker's
    # verdicts are of the reviews the corpus holds.
    years = named_years(rewritten)
    if years and not set(years) <= retriever.answers.inspected_years(wanted):
        return None
    # "since the 2019 review" where 2019 is the year of the force's latest report: no report
    # in the corpus can say what changed after it.
    since = _SINCE.search(rewritten)
    rows_all = _tracker(retriever)
    cites = _Citations(retriever)
    sentences: list[AnswerSentence] = []
    lines: list[str] = []
    missing: list[str] = []
    for force in wanted:
        if force not in in_corpus:
            missing.append(f"The corpus has no report on {short_name(force)}.")
            continue
        if since is not None:
            latest = max(retriever.answers.inspected_years([force]), default=None)
            if latest is not None and int(since.group(1)) >= latest:
                missing.append(
                    f"The corpus's latest report on {short_name(force)} is from {latest}, so"
                    f" it cannot say what has changed since {since.group(1)}."
                )
                continue
        rows = filter_rows(rows_all, force=force, area=asked.area)
        if asked.area is None and asked.topic:
            rows = (
                [r for r in rows if _about(r.recommendation.text, asked.topic)]
                or [r for r in rows if _about(r.summary_text or "", asked.topic)]
                or rows
            )
        reviewed = [r for r in rows if r.verdict != "not reviewed"]
        if not reviewed:
            missing.append(
                f"The corpus has no post-inspection review of {short_name(force)}, so it cannot"
                " say whether it has improved since the inspection."
                if rows or asked.area is None
                else f"No recommendation of {short_name(force)} concerns {asked.area}."
            )
            continue
        about = asked.area or (" ".join(asked.topic) if asked.topic else None)
        lines.append(_verdict_line(force, reviewed, about))
        # Rows sharing one summary of findings: their recommendations, then the findings.
        groups: dict[tuple[str, int], list[TrackerRow]] = {}
        for row in reviewed:
            review = row.review
            assert review is not None and review.summary is not None
            groups.setdefault((review.doc_id, review.summary.char_start), []).append(row)
        for group in groups.values():
            if about:
                for row in group:
                    rec = row.recommendation
                    lead = split_sentences(rec.clean_text or rec.text)[0]
                    doc = documents[rec.doc_id]
                    marker = cites.cite(doc, lead, rec.char_start, rec.char_end)
                    if marker is not None:
                        sentences.append(AnswerSentence(lead, marker, force))
            review = group[0].review
            assert review is not None and review.summary is not None
            s = review.summary
            for f in _deciding(group[0].findings, asked.topic):
                marker = cites.cite(documents[review.doc_id], f.text, s.char_start, s.char_end)
                if marker is not None:
                    sentences.append(AnswerSentence(f.text, marker, force))
    if len(sentences) > max_sentences:
        sentences = sentences[:max_sentences]
        cites.hits = cites.hits[: max(s.citation for s in sentences)]
    answered = bool(sentences)
    message = " ".join(lines + missing) or None
    plan = QueryPlan(
        rewritten,
        rewritten,
        " ".join(asked.topic),
        {},
        forces_named=asked.forces,
        forces_in_corpus=tuple(f for f in asked.forces if f in in_corpus),
        forces_missing=tuple(f for f in asked.forces if f not in in_corpus),
    )
    related = [] if answered else _recommendation_hits(retriever, wanted, asked.area)
    result = SearchResult(
        question=rewritten,
        answerable=answered,
        hits=cites.hits if answered else related,
        filters=Filters(forces=tuple(wanted)),
        plan=plan,
        message=message,
        state="answered" if answered else "not_answered",
        confidence=1.0 if answered else 0.0,
    )
    body = " ".join(f"{s.text} [{s.citation}]" for s in sentences)
    text = " ".join([*lines, *missing, body]).strip() if answered else (message or "")
    return ChatReply(
        question,
        rewritten,
        text,
        sentences,
        result,
        max((s.citation for s in sentences), default=0),
    )


def _recommendation_hits(
    retriever: Retriever, forces: Sequence[str], area: str | None
) -> list[Hit]:
    """Passages stating the recommendations of forces with no review: shown as related."""
    cites = _Citations(retriever)
    for row in filter_rows(_tracker(retriever), area=area):
        if row.force in forces and len(cites.hits) < 3:
            rec = row.recommendation
            lead = split_sentences(rec.clean_text or rec.text)[0]
            cites.cite(retriever.index.documents[rec.doc_id], lead, rec.char_start, rec.char_end)
    return cites.hits
