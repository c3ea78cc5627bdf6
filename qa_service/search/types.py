"""The plain data of a search: filters, retrieval settings, hits and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..types import Chunk, Document, Metadata
from .query import QueryPlan

Mode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class Filters:
    """Restrictions on which passages may be returned (empty = no restriction)."""

    forces: tuple[str, ...] = ()
    report_types: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    section: tuple[str, ...] = ()  # heading path prefix, compared case-insensitively
    doc_ids: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return self == Filters()


@dataclass(frozen=True)
class RetrievalConfig:
    """How to retrieve; the defaults are the settings tuned on the dev split (eval/)."""

    mode: Mode = "hybrid"
    fusion: Literal["convex", "rrf"] = "convex"
    alpha: float = 0.5  # weight of the dense score in convex fusion
    rrf_k: int = 60
    candidates: int = 100
    expansion_weight: float = 0.5
    expand: bool = True  # acronyms and everyday words added to the lexical query
    expand_dense: bool = False
    force_filter: bool = True  # a force named in the question becomes a filter
    diversify: bool = True  # a question comparing forces gets each force's best passage
    dense_on_topic: bool = True  # embed the question without force names for ranking
    sentence_weight: float = 0.5  # dense = (1 - w) * passage cosine + w * best sentence cosine
    # Answerable when topic similarity + coverage_weight * term coverage reaches the threshold.
    answerable_threshold: float = 0.0
    coverage_weight: float = 0.2
    highlight: bool = True
    # Neighbouring passages of one section among the best merge_window * top_k candidates
    # are returned as one passage (search/merging.py); 1 turns merging off.
    merge_window: int = 2


@dataclass(frozen=True)
class Hit:
    """One returned passage with its scores and answer highlights (spans in chunk.text)."""

    chunk: Chunk
    document: Document
    score: float
    dense: float
    lexical: float
    highlights: tuple[tuple[int, int], ...] = ()
    row: int = -1  # the chunk's position in the index (its row in the vector matrix)
    # Footnotes the passage cites and captions of its figures: shown with it, never ranked
    # on their own (merging.ride_along).
    attached: tuple[Chunk, ...] = ()


@dataclass(frozen=True)
class AnswerPick:
    """One answer sentence (or run of consecutive sentences): a span of a hit's text."""

    hit: int  # position in SearchResult.hits
    start: int  # span in that hit's chunk.text
    end: int
    score: float  # the ranker's probability that it answers
    force: str | None


@dataclass(frozen=True)
class SearchResult:
    """The answer to one question."""

    question: str
    answerable: bool
    hits: list[Hit]
    filters: Filters  # as applied, including forces detected in the question
    plan: QueryPlan
    message: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    # The answer layer (answer/rank.py, answer/answerability.py): the state, the calibrated
    # probability that the reports answer the question, what they do not give (partial), and
    # the answer sentences best first (empty when not answered).
    state: str = "answered"  # "answered" | "partial" | "not_answered"
    confidence: float = 0.0
    missing: str | None = None
    answer: tuple[AnswerPick, ...] = ()
    # For fitting and evaluation: every scored candidate with its probability, and the
    # answerability features (not part of any response).
    candidates: tuple[tuple[object, float], ...] = field(default=(), repr=False, compare=False)
    answer_features: tuple[float, ...] = field(default=(), repr=False, compare=False)


def doc_passes(doc: Document, f: Filters) -> bool:
    """Whether a document passes the filters' document conditions (not ``section``)."""
    return metadata_passes(doc.doc_id, doc.metadata, f)


def metadata_passes(doc_id: str, m: Metadata, f: Filters) -> bool:
    """``doc_passes`` from a report's id and metadata alone."""
    if f.doc_ids and doc_id not in f.doc_ids:
        return False
    if f.forces and m.force not in f.forces:
        return False
    if f.report_types and (m.report_type or "") not in f.report_types:
        return False
    year = m.inspection_year
    if f.year_from is not None and (year is None or year < f.year_from):
        return False
    return not (f.year_to is not None and (year is None or year > f.year_to))
