"""The request bodies of the HTTP API: search, chat, compare and cite, with their filters.

Every limit a request must keep is stated here, in the schema (maxLength, maxItems, maximum,
enum, pattern), from ``settings.LIMITS``: a client generated from /openapi.json sends nothing
the service refuses, except ids that name nothing (404). Unknown fields are errors and values
are not coerced (``Strict``). Every field has a description."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ...search.inputs import FORCE_NAMES, NOT_BLANK
from ...settings import LIMITS

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
