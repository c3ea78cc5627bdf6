"""Request and response models of the HTTP API (the CONTRACT.md shapes, validated)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_QUESTION = 1000
MAX_TOP_K = 50
MAX_MESSAGES = 20  # x 2000 characters stays inside the 64 KiB body limit
MAX_QUOTE = 5000


class Strict(BaseModel):
    """Request bodies. Unknown fields are errors (a typo in a filter name must not silently
    match everything), and values are not coerced: ``"top_k": true`` or ``"5"`` is a 422,
    as the OpenAPI document says, not a 1 or a 5."""

    model_config = ConfigDict(extra="forbid", strict=True)


class SearchFilters(Strict):
    """Optional restrictions; every list is OR-ed, different fields AND-ed."""

    forces: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Force names or short forms, e.g. 'Kent' or 'Lancs'.",
    )
    report_types: list[str] = Field(
        default_factory=list, max_length=10, examples=[["inspection", "post-inspection review"]]
    )
    year_from: int | None = Field(default=None, ge=1900, le=2100)
    year_to: int | None = Field(default=None, ge=1900, le=2100)
    section: list[str] = Field(
        default_factory=list, max_length=10, description="Heading path prefix, outermost first."
    )
    doc_ids: list[str] = Field(default_factory=list, max_length=100)


class SearchRequest(Strict):
    """A question to answer with cited passages."""

    question: str = Field(
        min_length=1,
        max_length=MAX_QUESTION,
        examples=["does Kent still hold under-18s at the station after charge?"],
    )
    top_k: int = Field(default=5, ge=1, le=MAX_TOP_K)
    filters: SearchFilters = Field(default_factory=SearchFilters)


class Passage(BaseModel):
    """A cited passage (CONTRACT.md)."""

    passage_id: str
    doc_id: str
    source: str
    title: str
    force: str | None
    report_type: str | None
    published: str | None
    section: list[str]
    char_start: int
    char_end: int
    text: str
    score: float
    highlights: list[list[int]] = Field(description="[start, end] spans within text.")
    type: str = Field(description="Block type: recommendation, summary, finding, ...")


class AppliedFilters(BaseModel):
    """Filters as applied, including forces detected in the question."""

    forces: list[str]
    report_types: list[str]
    year_from: int | None
    year_to: int | None
    section: list[str]


class SearchResponse(BaseModel):
    """Passages that answer the question, best first."""

    question: str
    answerable: bool
    message: str | None
    results: list[Passage]
    filters: AppliedFilters
    detected_forces: list[str]
    expansions: list[str]
    index_version: str
    timings_ms: dict[str, float]


class Message(Strict):
    """One message of a conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(min_length=1, max_length=2000)


class ChatRequest(Strict):
    """A conversation; the last user message is answered. The client keeps the history."""

    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    top_k: int = Field(default=5, ge=1, le=20)
    filters: SearchFilters = Field(default_factory=SearchFilters)


class AnswerSentence(BaseModel):
    """An answer sentence and the marker of the citation it is quoted from."""

    text: str
    citation: int


class Citation(Passage):
    """A passage cited in a chat answer, with its marker number."""

    marker: int


class ChatResponse(BaseModel):
    """An extractive answer: every sentence is quoted from the citation its marker names."""

    question: str
    rewritten_question: str
    answer: str
    sentences: list[AnswerSentence]
    citations: list[Citation]
    answerable: bool
    message: str | None
    index_version: str


class CiteRequest(Strict):
    """A pasted quote to locate."""

    quote: str = Field(min_length=1, max_length=MAX_QUOTE)


class CiteMatch(BaseModel):
    """Where a quote (or its nearest text) is in the corpus."""

    status: Literal["exact", "near"]
    similarity: float
    doc_id: str
    source: str
    title: str
    force: str | None
    section: list[str]
    paragraph: str
    char_start: int
    char_end: int
    text: str
    passage_id: str | None


class CiteResponse(BaseModel):
    """Best matches first; ``not_found`` when nothing is close enough."""

    quote: str
    status: Literal["exact", "near", "not_found"]
    matches: list[CiteMatch]
    message: str | None


class CompareRequest(Strict):
    """One question across forces (all corpus forces unless some are named)."""

    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    forces: list[str] = Field(default_factory=list, max_length=50)
    per_force: int = Field(default=1, ge=1, le=5)


class ForceAnswer(BaseModel):
    """One force's passages, or an explicit statement that none is relevant."""

    force: str
    status: Literal["cited", "no relevant passage", "not in corpus"]
    confidence: float
    passages: list[Passage]


class CompareResponse(BaseModel):
    """A force-by-force answer."""

    question: str
    topic: str
    forces: list[ForceAnswer]
    index_version: str


class SectionNode(BaseModel):
    """One node of a report's section tree."""

    index: int
    title: str
    level: int
    parent: int | None
    path: list[str]
    char_start: int
    char_end: int


class DocumentSummary(BaseModel):
    """A report's metadata."""

    doc_id: str
    source: str
    format: str
    title: str
    force: str | None
    report_type: str | None
    published: str | None
    inspection_dates: str | None
    inspection_year: int | None
    sections: int
    passages: int


class DocumentDetail(DocumentSummary):
    """A report's metadata and section tree."""

    section_tree: list[SectionNode]
    text_url: str


class PassageDetail(Passage):
    """A passage with its neighbours in the report, for context."""

    previous: Passage | None
    next: Passage | None


class Recommendation(BaseModel):
    """A recommendation a report makes (or a review restates), with its citation."""

    doc_id: str
    source: str
    force: str | None
    report_type: str | None
    area: str
    kind: str
    text: str
    section: list[str]
    char_start: int
    char_end: int
    summary: RecommendationSummary | None


class RecommendationSummary(BaseModel):
    """A review's summary finding for the area of the recommendation it reviews."""

    text: str
    section: list[str]
    char_start: int
    char_end: int


class RecommendationsResponse(BaseModel):
    """Recommendations, in report order."""

    recommendations: list[Recommendation]
    areas: list[str]


class Health(BaseModel):
    """Liveness/readiness."""

    status: str
    index_version: str | None = None
    detail: str | None = None


class ErrorBody(BaseModel):
    """Every error response."""

    detail: str


Recommendation.model_rebuild()
