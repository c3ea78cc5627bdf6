"""Request and response models of the HTTP API (the CONTRACT.md shapes, validated).

Every limit a request must keep is stated here, in the schema (maxLength, maxItems, maximum,
enum, pattern), from ``settings.LIMITS``: a client generated from /openapi.json sends nothing
the service refuses, except ids that name nothing (404). Every field has a description.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..answer.recommendations import AREAS
from ..search.inputs import FORCE_NAMES, NOT_BLANK
from ..settings import LIMITS

# Kept for scripts that imported them; the numbers live in ``settings.LIMITS``.
MAX_QUESTION = LIMITS.question_chars
MAX_TOP_K = LIMITS.top_k
MAX_MESSAGES = LIMITS.messages
MAX_QUOTE = LIMITS.quote_chars

# Integers as JSON Schema has them: 5 and 5.0 are the same number; true and "5" are not numbers.
WholeInt = Annotated[int, BeforeValidator(lambda v: _whole(v))]


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


ForceName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=LIMITS.filter_value_chars,
        json_schema_extra={"enum": list(FORCE_NAMES)},
        description="A police force: its official name, short name or a common short form"
        " (matched without regard to case).",
        examples=["Kent Police", "Lancs"],
    ),
]
FilterText = Annotated[
    str, Field(min_length=1, max_length=LIMITS.filter_value_chars, pattern=NOT_BLANK)
]


class Strict(BaseModel):
    """Request bodies. Unknown fields are errors (a typo in a filter name must not silently
    match everything), and values are not coerced: ``"top_k": true`` or ``"5"`` is a 422,
    as the OpenAPI document says, not a 1 or a 5."""

    model_config = ConfigDict(extra="forbid", strict=True)


Year = Annotated[
    int, Field(ge=LIMITS.year_min, le=LIMITS.year_max), BeforeValidator(lambda v: _whole(v))
]


def _years() -> Any:
    return Field(
        default=None,
        examples=[2017],
        description="Inspection year bound, inclusive. A year_from after year_to is read as"
        " the years between them, and `notes` in the response says so.",
    )


class SearchFilters(Strict):
    """Optional restrictions; every list is OR-ed, different fields AND-ed. A value the
    corpus lacks (a force with no report, an unknown doc_id or report type, years with no
    report) is not an error: the response's `notes` says so. A force named in the question
    that the forces filter does not include wins over the filter (see `notes`)."""

    forces: list[ForceName] = Field(
        default_factory=list,
        max_length=LIMITS.filter_values,
        description="Only these forces. Official names, short names ('Kent') or short forms"
        " ('Lancs'), any case.",
        examples=[["Kent Police"], ["Lancs", "Lincs"]],
    )
    report_types: list[FilterText] = Field(
        default_factory=list,
        max_length=LIMITS.filter_values,
        description="Only reports of these types, as `report_type` gives them.",
        examples=[["inspection", "post-inspection review"]],
    )
    year_from: Year | None = _years()
    year_to: Year | None = _years()
    section: list[FilterText] = Field(
        default_factory=list,
        max_length=LIMITS.filter_values,
        description="Heading path prefix, outermost first (compared without regard to case).",
        examples=[["Police detention"]],
    )
    doc_ids: list[FilterText] = Field(
        default_factory=list,
        max_length=LIMITS.doc_ids,
        description="Only these reports (`doc_id` of GET /v1/documents).",
        examples=[["kent-2021-post-inspection-review"]],
    )


def _question(description: str) -> Any:
    return Field(
        min_length=1,
        max_length=LIMITS.question_chars,
        pattern=NOT_BLANK,
        description=f"{description} At most {LIMITS.question_chars:,} characters; blank"
        " text is refused; nothing is cut.",
        examples=["Does Kent still hold under-18s at the station after charge?"],
    )


def _top_k(default: int) -> Any:
    return Field(
        default=default,
        ge=1,
        le=LIMITS.top_k,
        description="How many passages to return, best first.",
        examples=[default],
    )


class SearchRequest(Strict):
    """A question to answer with cited passages."""

    question: str = _question("The question, in plain words.")
    top_k: WholeInt = _top_k(5)
    filters: SearchFilters = Field(
        default_factory=SearchFilters, description="Optional restrictions on the reports."
    )


class Passage(BaseModel):
    """A cited passage (CONTRACT.md)."""

    passage_id: str = Field(
        description="Stable id: the same text in the same report keeps it across rebuilds."
        " A merged result joins its chunks' ids with '+'."
    )
    doc_id: str = Field(description="Stable id of the report.")
    source: str = Field(description="File name of the report in the corpus.")
    title: str = Field(description="Report title.")
    force: str | None = Field(description="Official name of the force inspected.")
    report_type: str | None = Field(description="inspection, post-inspection review, ...")
    published: str | None = Field(description="Publication date as an ISO 8601 prefix.")
    section: list[str] = Field(description="Heading path, outermost heading first.")
    char_start: int = Field(description="Start of the passage in the report's canonical text.")
    char_end: int = Field(description="End (exclusive) in the report's canonical text.")
    text: str = Field(description="The passage text.")
    score: float = Field(description="Ranking score; higher is better.")
    highlights: list[list[int]] = Field(
        description="[start, end] spans within text of the sentence(s) that best answer."
    )
    type: str = Field(description="Block type: recommendation, summary, finding, ...")
    footnotes: list[AttachedNote] = Field(
        default_factory=list,
        description="The footnotes whose markers text shows as [N], each with its text and"
        " span (footnotes ride along with the passage that cites them, never ranked alone).",
    )
    captions: list[AttachedNote] = Field(
        default_factory=list, description="Captions of figures the passage discusses."
    )


class AttachedNote(BaseModel):
    """A footnote (or figure caption) shown with the passage that cites it."""

    marker: str = Field(description="The footnote's number as printed ('21'); '' for a caption.")
    passage_id: str = Field(description="Its own passage id (GET /v1/passages/{id}).")
    char_start: int = Field(description="Start in the report's canonical text.")
    char_end: int = Field(description="End (exclusive) in the report's canonical text.")
    text: str = Field(description="Its text, starting with its marker written [N].")


class AppliedFilters(BaseModel):
    """Filters as applied, including forces detected in the question."""

    forces: list[str] = Field(description="Forces searched (official names).")
    report_types: list[str] = Field(description="Report types searched (empty: all).")
    year_from: int | None = Field(description="First inspection year searched.")
    year_to: int | None = Field(description="Last inspection year searched.")
    section: list[str] = Field(description="Heading path prefix searched (empty: all).")


AnswerState = Literal["answered", "partial", "not_answered"]

NOTES: Any = Field(
    default_factory=list,
    description="What the service did with the request that the caller should know: a"
    " filter value the corpus lacks, a force filter set aside for a force the question"
    " names, a year range read in order, a question longer than the model reads at once.",
)


class SearchResponse(BaseModel):
    """Passages that answer the question, best first."""

    question: str = Field(description="The question as asked.")
    answerable: bool = Field(description="False when the corpus does not answer the question.")
    state: AnswerState = Field(
        description="answered; partial (the reports cover the topic but not what was asked: "
        "see missing); not_answered (the reports do not answer: passages are only related)."
    )
    confidence: float = Field(
        description="Calibrated probability that the reports answer the question."
    )
    missing: str | None = Field(
        default=None, description="With state partial: what was asked that the reports lack."
    )
    message: str | None = Field(description="Why it is not answerable, when it is not.")
    results: list[Passage] = Field(description="Passages, best first.")
    filters: AppliedFilters = Field(description="The filters as applied.")
    detected_forces: list[str] = Field(description="Forces the question names.")
    expansions: list[str] = Field(description="Words added to the keyword query (acronyms).")
    index_version: str = Field(description="The index generation that answered.")
    timings_ms: dict[str, float] = Field(description="Milliseconds per stage.")
    notes: list[str] = NOTES


class Message(Strict):
    """One message of a conversation."""

    role: Literal["user", "assistant"] = Field(
        description="Who wrote it: the user, or the service (an answer sent back).",
        examples=["user"],
    )
    content: str = Field(
        min_length=1,
        max_length=LIMITS.question_chars,
        pattern=NOT_BLANK,
        description=f"The message text. At most {LIMITS.question_chars:,} characters (the"
        " question limit); blank text is refused; nothing is cut.",
        examples=["Does Kent still hold under-18s at the station after charge?"],
    )


class ChatRequest(Strict):
    """A conversation; the last user message is answered. The client keeps the history."""

    messages: list[Message] = Field(
        min_length=1,
        max_length=LIMITS.messages,
        description=f"The conversation so far, oldest first, at most {LIMITS.messages}"
        " messages; at least one has role 'user' (the last of those is answered).",
        json_schema_extra={
            "contains": {
                "type": "object",
                "properties": {"role": {"const": "user"}},
                "required": ["role"],
            }
        },
    )
    top_k: WholeInt = _top_k(5)
    filters: SearchFilters = Field(
        default_factory=SearchFilters, description="Optional restrictions on the reports."
    )


class AnswerSentence(BaseModel):
    """An answer sentence and the marker of the citation it is quoted from."""

    text: str = Field(description="The report's own words: a sentence of the cited passage.")
    citation: int = Field(description="The `marker` of the citation it is quoted from.")
    force: str | None = Field(default=None, description="The force whose report it quotes.")


class Citation(Passage):
    """A passage cited in a chat answer, with its marker number."""

    marker: int = Field(description="The number the answer's [n] markers refer to.")


class ChatResponse(BaseModel):
    """An extractive answer: every sentence is quoted from the citation its marker names."""

    question: str = Field(description="The last user message, as sent.")
    rewritten_question: str = Field(
        description="The question searched: a follow-up completed from the conversation."
    )
    answer: str = Field(description="The answer sentences, each followed by its [n] marker.")
    sentences: list[AnswerSentence] = Field(description="The answer sentences, in order.")
    citations: list[Citation] = Field(description="The cited passages, by marker.")
    related: list[Passage] = Field(
        default_factory=list,
        description="With state not_answered: the closest passages, for context only; they "
        "do not answer the question.",
    )
    answerable: bool = Field(description="False when the corpus does not answer the question.")
    state: AnswerState = Field(
        description="answered, partial (see missing) or not_answered (sentences is empty)."
    )
    confidence: float = Field(
        description="Calibrated probability that the reports answer the question."
    )
    missing: str | None = Field(
        default=None, description="With state partial: what was asked that the reports lack."
    )
    message: str | None = Field(
        description="Why it is not answerable, when it is not; for a progress question ('has"
        " Kent improved since the inspection?'), the review's verdicts counted per force."
    )
    index_version: str = Field(description="The index generation that answered.")
    notes: list[str] = NOTES


class CiteRequest(Strict):
    """A pasted quote to locate."""

    quote: str = Field(
        min_length=1,
        max_length=LIMITS.quote_chars,
        pattern=NOT_BLANK,
        description=f"Text pasted from a report, verbatim or nearly. At most"
        f" {LIMITS.quote_chars:,} characters; blank text is refused.",
        examples=["Children were still being detained overnight in police custody."],
    )


class CiteDiff(BaseModel):
    """The words that differ between a quote and the report text it nearly matches."""

    quote: list[tuple[int, int]] = Field(
        description="Changed words as [start, end) character offsets into the quote as sent,"
        " one per change; an empty span (start == end) where the quote lacks words the report"
        " has. Page numbers and line-end hyphens of a PDF copy are never marked.",
        examples=[[[39, 39], [71, 76]]],
    )
    text: list[tuple[int, int]] = Field(
        description="The same changes as [start, end) offsets into the match's `text`, paired"
        " with `quote` by position; an empty span where the report lacks words the quote has.",
        examples=[[[39, 42], [75, 75]]],
    )


class CiteMatch(BaseModel):
    """Where a quote (or its nearest text) is in the corpus."""

    status: Literal["exact", "near", "closest"] = Field(
        description="Verbatim match, or nearly; `closest` (only when the reply is `not_found`)"
        " is not a match but the nearest text in the reports, listed to show how close."
    )
    similarity: float = Field(
        description="1.0 for exact; lower for near matches (at least the near threshold, 0.7);"
        " for closest passages, how close they come (0-1, matched words over quote length)."
    )
    doc_id: str = Field(description="The report's id.")
    source: str = Field(description="The report's file name.")
    title: str = Field(description="The report's title.")
    force: str | None = Field(description="The force the report is about.")
    section: list[str] = Field(description="Heading path, outermost first.")
    paragraph: str = Field(description="The paragraph holding the match.")
    char_start: int = Field(description="Start of the match in the canonical text.")
    char_end: int = Field(description="End (exclusive) of the match in the canonical text.")
    text: str = Field(description="The matched text.")
    passage_id: str | None = Field(description="The passage holding the match, if one does.")
    diff: CiteDiff | None = Field(
        default=None,
        description="For near and closest matches, the differing words on both sides;"
        " null for exact matches.",
    )


class CiteResponse(BaseModel):
    """Best matches first; ``not_found`` when nothing is close enough."""

    quote: str = Field(description="The quote as sent.")
    status: Literal["exact", "near", "not_found"] = Field(description="The best match's kind.")
    matches: list[CiteMatch] = Field(
        description="Matches, best first; for `not_found`, the closest passages (status"
        " `closest`), which are not matches."
    )
    message: str | None = Field(description="Why nothing was found, when nothing was.")


class CompareRequest(Strict):
    """One question across forces (all corpus forces unless some are named)."""

    question: str = _question("The question to ask of each force.")
    forces: list[ForceName] = Field(
        default_factory=list,
        max_length=LIMITS.filter_values,
        description="Forces to compare (default: every force in the corpus).",
        examples=[["Kent", "Lancashire"]],
    )
    per_force: WholeInt = Field(
        default=1,
        ge=1,
        le=LIMITS.per_force,
        description="Passages per force.",
        examples=[1],
    )


class ForceAnswer(BaseModel):
    """One force's passages, or an explicit statement that none is relevant."""

    force: str = Field(description="Official name of the force.")
    status: Literal["cited", "no relevant passage", "not in corpus"] = Field(
        description="Whether the force's reports answer, do not, or are not in the corpus."
    )
    state: AnswerState = Field(
        default="not_answered",
        description="answered, partial (the report covers the topic, not what was asked) or "
        "not_answered, decided as for a search.",
    )
    sentence: str | None = Field(
        default=None, description="The answer sentence from this force's report, if any."
    )
    missing: str | None = Field(
        default=None, description="With state partial: what the report does not give."
    )
    confidence: float = Field(
        description="Calibrated probability that this force's report answers (0-1)."
    )
    passages: list[Passage] = Field(
        description="The force's passages, the one holding the answer sentence first."
    )


class CompareResponse(BaseModel):
    """A force-by-force answer."""

    question: str = Field(description="The question as asked.")
    topic: str = Field(description="The question without force names, as searched.")
    forces: list[ForceAnswer] = Field(description="One entry per force, in name order.")
    index_version: str = Field(description="The index generation that answered.")


class SectionNode(BaseModel):
    """One node of a report's section tree."""

    index: int = Field(description="Position in the report's section list.")
    title: str = Field(description="The heading.")
    level: int = Field(description="Heading level (1 outermost).")
    parent: int | None = Field(description="`index` of the enclosing section.")
    path: list[str] = Field(description="Heading path, outermost first.")
    char_start: int = Field(description="Start of the section in the canonical text.")
    char_end: int = Field(description="End (exclusive) in the canonical text.")
    heading_end: int = Field(
        default=0, description="End of its heading line (== char_start: no heading line)."
    )


class BlockNode(BaseModel):
    """One block of report content; text outside every block and heading is page furniture
    (navigation, tables of contents, title pages), never content."""

    type: str = Field(description="text, recommendation, summary, finding, table, footnote, ...")
    section: int = Field(description="`index` of its section.")
    char_start: int = Field(description="Start in the canonical text.")
    char_end: int = Field(description="End (exclusive) in the canonical text.")


class DocumentSummary(BaseModel):
    """A report's metadata."""

    doc_id: str = Field(description="Stable id of the report.")
    source: str = Field(description="File name in the corpus.")
    format: str = Field(description="txt, md, html or pdf.")
    title: str = Field(description="Report title.")
    force: str | None = Field(description="Official name of the force inspected.")
    report_type: str | None = Field(description="inspection, post-inspection review, ...")
    published: str | None = Field(description="Publication date as an ISO 8601 prefix.")
    inspection_dates: str | None = Field(description="When the inspection took place.")
    inspection_year: int | None = Field(description="The year the filters' years compare.")
    sections: int = Field(description="Number of sections.")
    passages: int = Field(description="Number of passages indexed.")


class DocumentDetail(DocumentSummary):
    """A report's metadata and section tree."""

    section_tree: list[SectionNode] = Field(description="Every section, in report order.")
    blocks: list[BlockNode] = Field(
        default_factory=list, description="The report's content blocks, in report order."
    )
    text_url: str = Field(description="Where the canonical text is served.")


class PassageDetail(Passage):
    """A passage with its neighbours in the report, for context."""

    previous: Passage | None = Field(description="The passage before it in the report.")
    next: Passage | None = Field(description="The passage after it in the report.")


class Recommendation(BaseModel):
    """A recommendation a report makes (or a review restates), with its citation."""

    doc_id: str = Field(description="The report's id.")
    source: str = Field(description="The report's file name.")
    force: str | None = Field(description="The force it is addressed to.")
    report_type: str | None = Field(description="The report's type.")
    area: str = Field(description="The area of practice it concerns.")
    kind: str = Field(description="'made' by an inspection, or 'reviewed' by a review.")
    text: str = Field(description="The recommendation's text.")
    section: list[str] = Field(description="Heading path, outermost first.")
    char_start: int = Field(description="Start in the canonical text.")
    char_end: int = Field(description="End (exclusive) in the canonical text.")
    summary: RecommendationSummary | None = Field(
        description="A review's summary finding for this area."
    )
    number: int = Field(
        default=0, description="Its position (1-based) among the recommendations of its report."
    )
    verdict: str = Field(
        default="not reviewed",
        description="The review's verdict, read from its summary finding: met, partly met,"
        " not met, or not reviewed (the corpus has no review of it).",
    )
    findings: list[TrackerFinding] = Field(
        default_factory=list,
        description="The summary finding's sentences, each classed by its wording (the rule"
        " the verdict follows).",
    )
    review: RecommendationCitation | None = Field(
        default=None,
        description="The review's restatement of it, when the recommendation's text above is"
        " the inspection's own (null when the review is both, or there is no review).",
    )


class TrackerFinding(BaseModel):
    """One sentence of a review's summary finding and how its wording classes it."""

    text: str = Field(description="The sentence, as the review words it.")
    wording: str = Field(
        description="How its wording classes it: progress, shortfall, partly or neutral."
    )
    cue: str | None = Field(description="The words that decided the class (null if neutral).")


class RecommendationCitation(BaseModel):
    """Where a recommendation is stated in a report."""

    doc_id: str = Field(description="The report's id.")
    source: str = Field(description="The report's file name.")
    text: str = Field(description="The recommendation as that report states it.")
    section: list[str] = Field(description="Heading path, outermost first.")
    char_start: int = Field(description="Start in the canonical text.")
    char_end: int = Field(description="End (exclusive) in the canonical text.")


class RecommendationSummary(BaseModel):
    """A review's summary finding for the area of the recommendation it reviews."""

    text: str = Field(description="The summary finding.")
    section: list[str] = Field(description="Heading path, outermost first.")
    char_start: int = Field(description="Start in the canonical text.")
    char_end: int = Field(description="End (exclusive) in the canonical text.")
    doc_id: str | None = Field(default=None, description="The review's id.")
    source: str | None = Field(default=None, description="The review's file name.")


class RecommendationsResponse(BaseModel):
    """Recommendations, in report order."""

    recommendations: list[Recommendation] = Field(description="In report order.")
    areas: list[str] = Field(description="Every area a recommendation can have.")
    verdicts: list[str] = Field(
        default_factory=list, description="Every verdict a recommendation can have."
    )
    counts: dict[str, int] = Field(
        default_factory=dict,
        description="How many of the listed recommendations have each verdict.",
    )
    message: str | None = Field(
        default=None,
        description="Why the list is empty when a filter names what the corpus lacks.",
    )


class Health(BaseModel):
    """Liveness/readiness."""

    status: str = Field(description="ok (live), ready, or not ready.")
    index_version: str | None = Field(
        default=None, description="The index generation loaded, once one is."
    )
    detail: str | None = Field(
        default=None, description="Why it is not ready, or why a newer index was not loaded."
    )


class ErrorBody(BaseModel):
    """Every error response."""

    detail: str = Field(
        description="One line a person can act on: the field, the limit and what to do.",
        examples=["question: 2,001 characters is over the limit of 2,000 (question_chars)"],
    )


AREA_NAMES: tuple[str, ...] = AREAS

Recommendation.model_rebuild()
