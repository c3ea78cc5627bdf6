"""One question across forces: each force's best passage(s) or "no relevant passage".

A force's answer is read like a person would want it in a comparison: a sentence of prose from
a prose passage. A table row read without its column headers, a bare heading or a caption says
little on its own, so these are passed over unless the question asks for figures
(``asking.asks_number``), when a table may be exactly the answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from ..search.types import Filters, Hit, SearchResult
from .asking import asks_number
from .retriever import Retriever
from .units import sentence_role

# Passages that are not prose: a table (with its caption) and what rides along with a passage.
NOT_PROSE_TYPES = frozenset({"table", "caption", "footnote"})
# Sentence roles that never stand as a force's answer in a comparison not asking for figures.
NOT_PROSE_ROLES = frozenset({"table_row", "heading", "caption", "footnote"})


@dataclass(frozen=True)
class ForceAnswer:
    """What the corpus says about one force."""

    force: str
    status: str  # "cited" | "no relevant passage" | "not in corpus"
    hits: list[Hit]
    confidence: float
    state: str = "not_answered"  # the search's answered / partial / not_answered
    sentence: str | None = None  # the answer sentence from this force's report
    missing: str | None = None  # with state partial: what the report does not give


@dataclass(frozen=True)
class Comparison:
    """A force-by-force answer with guaranteed coverage of every force asked about."""

    question: str
    topic: str
    forces: list[ForceAnswer]


def is_prose_passage(hit: Hit) -> bool:
    """Whether a passage is running text (not a table, caption or footnote)."""
    return hit.chunk.type not in NOT_PROSE_TYPES


def is_prose_sentence(text: str, headings: Sequence[str] = ()) -> bool:
    """Whether an answer sentence (or run of sentences) reads as prose: no line of it is a
    table row, a heading, a caption or a footnote."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return False
    return all(sentence_role(line, headings) not in NOT_PROSE_ROLES for line in lines)


def _spans(res: SearchResult) -> Iterator[tuple[int, int, int]]:
    """The result's answer sentences, then every other scored candidate, best first, as
    (hit, start, end) spans of a hit's text."""
    for pick in res.answer:
        yield pick.hit, pick.start, pick.end
    for cand, _ in res.candidates:
        hit, unit = getattr(cand, "hit", None), getattr(cand, "unit", None)
        if isinstance(hit, int) and unit is not None:
            yield hit, unit.start, unit.end


def best_sentence(res: SearchResult, figures: bool) -> tuple[int, int, int] | None:
    """The force's answer sentence as (hit, start, end): the first of the result's answer
    sentences and candidates that is prose in a prose passage (any, when ``figures``)."""
    for hit, start, end in _spans(res):
        if not 0 <= hit < len(res.hits):
            continue
        h = res.hits[hit]
        if figures or (
            is_prose_passage(h) and is_prose_sentence(h.chunk.text[start:end], h.chunk.section)
        ):
            return hit, start, end
    return None


def _ordered_hits(res: SearchResult, pick: tuple[int, int, int] | None, figures: bool) -> list[Hit]:
    """The force's passages: the one holding the answer sentence first (its highlight that
    sentence), then prose passages before tables unless the question asks for figures."""
    hits = list(res.hits)
    order = sorted(
        range(len(hits)),
        key=lambda i: (pick is None or i != pick[0], not figures and not is_prose_passage(hits[i])),
    )
    out = [hits[i] for i in order]
    if pick is not None:
        out[0] = replace(out[0], highlights=((pick[1], pick[2]),))
    return out


def compare(
    retriever: Retriever,
    question: str,
    forces: Sequence[str] | None = None,
    per_force: int = 1,
    filters: Filters | None = None,
) -> Comparison:
    """Search the question's topic once per force (all corpus forces unless some are named)."""
    plan = retriever.plan(question)
    covered = retriever.index.forces
    asked = list(forces or plan.forces_named or covered)
    figures = asks_number(question)
    out: list[ForceAnswer] = []
    base = filters or Filters()
    # Each force is searched on the topic alone: the names of other forces in a comparative
    # question must not pull in their passages or block the search.
    cfg = replace(retriever.config, force_filter=False, diversify=False)
    for force in asked:
        if force not in covered:
            out.append(ForceAnswer(force, "not in corpus", [], 0.0))
            continue
        # Judge relevance on the top five (as a search does), return the best ``per_force``.
        res = retriever.search(
            plan.topic or question,
            top_k=max(per_force, 5),
            filters=replace(base, forces=(force,)),
            config=cfg,
        )
        if res.hits and res.state != "not_answered":
            pick = best_sentence(res, figures)
            sentence = None
            if pick is not None:
                sentence = " ".join(res.hits[pick[0]].chunk.text[pick[1] : pick[2]].split())
            hits = _ordered_hits(res, pick, figures)[:per_force]
            out.append(
                ForceAnswer(force, "cited", hits, res.confidence, res.state, sentence, res.missing)
            )
        else:
            out.append(ForceAnswer(force, "no relevant passage", [], res.confidence))
    return Comparison(question, plan.topic, out)
