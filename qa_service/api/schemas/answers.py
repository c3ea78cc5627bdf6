"""What the question routes answer: the cited ``Passage`` (CONTRACT.md) and the responses of
search, chat (answer sentences and citations), cite (matches and their differing words) and
compare (one answer per force), with the answer state and notes they share. Every field has a
description."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


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


# Passage names AttachedNote before it is defined: complete it now, so that models built on it
# in other modules (reports.PassageDetail) inherit a finished model.
Passage.model_rebuild()
