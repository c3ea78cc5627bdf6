"""What the report routes answer: a report's metadata, section tree and content blocks, a
passage with its neighbours, and the recommendation tracker's rows (each recommendation, the
review's summary finding on it and the verdict read from it). Every field has a description."""

from __future__ import annotations

from pydantic import BaseModel, Field

from .answers import Passage


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


Recommendation.model_rebuild()
