"""Request and response models of the HTTP API (the CONTRACT.md shapes, validated), by what
they describe: ``requests`` (the bodies clients send, every limit stated in the schema),
``answers`` (what search, chat, compare and cite return), ``reports`` (reports, passages and
the recommendation tracker) and ``status`` (health and the error body). Every model is also
importable from here, as it was before the split, with the limits scripts imported."""

from __future__ import annotations

from ...answer.recommendations import AREAS
from ...settings import LIMITS
from .answers import (
    NOTES,
    AnswerSentence,
    AnswerState,
    AppliedFilters,
    AttachedNote,
    ChatResponse,
    Citation,
    CiteDiff,
    CiteMatch,
    CiteResponse,
    CompareResponse,
    ForceAnswer,
    Passage,
    SearchResponse,
)
from .reports import (
    BlockNode,
    DocumentDetail,
    DocumentSummary,
    PassageDetail,
    Recommendation,
    RecommendationCitation,
    RecommendationsResponse,
    RecommendationSummary,
    SectionNode,
    TrackerFinding,
)
from .requests import (
    ChatRequest,
    CiteRequest,
    CompareRequest,
    FilterText,
    ForceName,
    Message,
    SearchFilters,
    SearchRequest,
    Strict,
    WholeInt,
    Year,
)
from .status import ErrorBody, Health

# Kept for scripts that imported them; the numbers live in ``settings.LIMITS``.
MAX_QUESTION = LIMITS.question_chars
MAX_TOP_K = LIMITS.top_k
MAX_MESSAGES = LIMITS.messages
MAX_QUOTE = LIMITS.quote_chars

AREA_NAMES: tuple[str, ...] = AREAS

__all__ = [
    "AREA_NAMES",
    "MAX_MESSAGES",
    "MAX_QUESTION",
    "MAX_QUOTE",
    "MAX_TOP_K",
    "NOTES",
    "AnswerSentence",
    "AnswerState",
    "AppliedFilters",
    "AttachedNote",
    "BlockNode",
    "ChatRequest",
    "ChatResponse",
    "Citation",
    "CiteDiff",
    "CiteMatch",
    "CiteRequest",
    "CiteResponse",
    "CompareRequest",
    "CompareResponse",
    "DocumentDetail",
    "DocumentSummary",
    "ErrorBody",
    "FilterText",
    "ForceAnswer",
    "ForceName",
    "Health",
    "Message",
    "Passage",
    "PassageDetail",
    "Recommendation",
    "RecommendationCitation",
    "RecommendationSummary",
    "RecommendationsResponse",
    "SearchFilters",
    "SearchRequest",
    "SearchResponse",
    "SectionNode",
    "Strict",
    "TrackerFinding",
    "WholeInt",
    "Year",
]
