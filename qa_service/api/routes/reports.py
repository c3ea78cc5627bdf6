"""The routes that read the reports, for inspectors: the recommendation tracker (as JSON and
as CSV), the reports with their metadata, section trees and canonical text, and single
passages with their neighbours. Plain ``def`` routes: FastAPI runs them in its thread pool."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response

from ...answer.recommendations import AREAS
from ...answer.retriever import Retriever
from ...answer.tracker import (
    CSV_COLUMNS,
    VERDICTS,
    TrackerRow,
    build_tracker,
    counts,
    csv_text,
    filter_rows,
    row_dict,
)
from ...search.inputs import FORCE_NAMES, InputError, filter_notes, force_named, forces_of
from ...search.merging import rows_of
from ...search.passages import passage_dict
from ...search.types import Filters, Hit
from ...settings import LIMITS
from ...types import Chunk
from .. import examples as X
from ..schemas.reports import (
    DocumentDetail,
    DocumentSummary,
    PassageDetail,
    RecommendationsResponse,
)
from ..state import INSPECTORS, AppState, NotFound
from .common import INVALID, NOT_FOUND, NOT_READY, State

router = APIRouter()


DocId = Annotated[
    str,
    Path(description="A report's `doc_id` (GET /v1/documents).", examples=[X.DOC_ID]),
]
PassageId = Annotated[
    str,
    Path(description="A passage's `passage_id` (from a search result).", examples=[X.PASSAGE_ID]),
]


def _hit(retriever: Retriever, chunk: Chunk, score: float = 0.0) -> Hit:
    doc = retriever.index.documents[chunk.doc_id]
    return Hit(chunk, doc, score, 0.0, 0.0, (), attached=retriever.attached(chunk))


ForceParam = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=LIMITS.filter_value_chars,
        description="Only this force's (official name, short name or short form, any"
        " case). A force with no report in the corpus gives an empty list and a message.",
        examples=["Kent"],
        json_schema_extra={"enum": list(FORCE_NAMES)},
    ),
]
AreaParam = Annotated[
    str | None,
    Query(
        description="Only this area of practice (any case; hyphens as spaces).",
        examples=["police detention"],
        json_schema_extra={"enum": list(AREAS)},
    ),
]
VerdictParam = Annotated[
    str | None,
    Query(
        description="Only recommendations with this verdict from the review (any case):"
        " met, partly met, not met, or not reviewed (the corpus has no review of it).",
        examples=["not met"],
        json_schema_extra={"enum": list(VERDICTS)},
    ),
]


def _tracker_rows(
    state: AppState, force: str | None, area: str | None, verdict: str | None
) -> tuple[list[TrackerRow], str | None]:
    """The tracker's rows passing the filters, and why the list is empty when it is."""
    retriever = state.ready()
    with state.lock:
        rows = state.extras.get("tracker")
        if rows is None:
            rows = build_tracker(retriever.index.documents.values())
            state.extras["tracker"] = rows
    message = None
    official = None
    if force is not None:
        official = forces_of([force], "force")[0]
        notes = filter_notes(Filters(forces=(official,)), retriever.index.metadata)
        message = notes[0] if notes else None
    wanted_area = None
    if area is not None:
        wanted_area = " ".join(area.replace("-", " ").split()).lower()
        if wanted_area not in AREAS:
            raise InputError(f"area: {area!r} is not one of: {', '.join(AREAS)}")
    wanted_verdict = None
    if verdict is not None:
        wanted_verdict = " ".join(verdict.replace("-", " ").replace("_", " ").split()).lower()
        if wanted_verdict not in VERDICTS:
            raise InputError(f"verdict: {verdict!r} is not one of: {', '.join(VERDICTS)}")
    out = filter_rows(rows, official, wanted_area, wanted_verdict)
    if not out and message is None and (area is not None or verdict is not None):
        what = " and ".join(
            f"{k} {v!r}" for k, v in (("area", wanted_area), ("verdict", wanted_verdict)) if v
        )
        message = f"No recommendation with {what}" + (
            f" for {force_named(force or '')}." if force else "."
        )
    return out, message


@router.get(
    "/v1/recommendations",
    response_model=RecommendationsResponse,
    tags=[INSPECTORS],
    summary="Recommendation tracker: each recommendation and the review's verdict on it",
    responses={**INVALID, **NOT_READY},
)
def recommendations(
    state: State,
    force: ForceParam = None,
    area: AreaParam = None,
    verdict: VerdictParam = None,
) -> dict[str, Any]:
    """Every recommendation the inspections made (or a review restates), by force and area,
    each with its citation, the post-inspection review's summary finding on it and the verdict
    that finding gives: met, partly met, not met, or not reviewed when the corpus has no
    review. The verdict is read from the review's own words, sentence by sentence (each
    sentence's class and deciding words are in `findings`); see `qa_service/answer/tracker.py`."""
    rows, message = _tracker_rows(state, force, area, verdict)
    return {
        "recommendations": [row_dict(r) for r in rows],
        "areas": list(AREAS),
        "verdicts": list(VERDICTS),
        "counts": counts(rows),
        "message": message,
    }


@router.get(
    "/v1/recommendations.csv",
    response_class=Response,
    tags=[INSPECTORS],
    summary="Recommendation tracker as CSV, for spreadsheets",
    responses={
        200: {
            "description": "One header line, then one line per recommendation: "
            + ", ".join(CSV_COLUMNS)
            + ".",
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": X.RECOMMENDATIONS_CSV}
            },
        },
        **INVALID,
        **NOT_READY,
    },
)
def recommendations_csv(
    state: State,
    force: ForceParam = None,
    area: AreaParam = None,
    verdict: VerdictParam = None,
) -> Response:
    """The same rows and filters as GET /v1/recommendations, as a CSV download (UTF-8):
    force, area, number, verdict, the recommendation and where it is, the review's summary
    finding and where it is, and the words that decided the verdict."""
    rows, _ = _tracker_rows(state, force, area, verdict)
    return Response(
        csv_text(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="recommendations.csv"'},
    )


def _document_summary(retriever: Retriever, doc_id: str) -> dict[str, Any]:
    doc = retriever.index.documents.get(doc_id)
    if doc is None:
        raise NotFound(f"no document with id {doc_id!r}")
    m = doc.metadata
    return {
        "doc_id": doc.doc_id,
        "source": doc.source,
        "format": doc.format,
        "title": m.title,
        "force": m.force,
        "report_type": m.report_type,
        "published": m.published,
        "inspection_dates": m.inspection_dates,
        "inspection_year": m.inspection_year,
        "sections": len(doc.sections),
        "passages": retriever.index.passages_of[doc_id],
    }


@router.get(
    "/v1/documents",
    response_model=list[DocumentSummary],
    tags=[INSPECTORS],
    summary="List the reports",
    responses=NOT_READY,
)
def documents(state: State) -> list[dict[str, Any]]:
    """Every report in the index, with its metadata and counts of sections and passages."""
    retriever = state.ready()
    return [_document_summary(retriever, d) for d in retriever.index.documents]


@router.get(
    "/v1/documents/{doc_id}",
    response_model=DocumentDetail,
    tags=[INSPECTORS],
    summary="One report's metadata and section tree",
    responses=NOT_FOUND,
)
def document(doc_id: DocId, state: State) -> dict[str, Any]:
    """A report's metadata and its section tree, each section with its span in the text."""
    retriever = state.ready()
    out = _document_summary(retriever, doc_id)
    doc = retriever.index.documents[doc_id]
    out["section_tree"] = [
        {
            "index": s.index,
            "title": s.title,
            "level": s.level,
            "parent": s.parent,
            "path": list(s.path),
            "char_start": s.start,
            "char_end": s.end,
            "heading_end": s.heading_end,
        }
        for s in doc.sections
    ]
    out["blocks"] = [
        {"type": b.type, "section": b.section, "char_start": b.start, "char_end": b.end}
        for b in doc.blocks
    ]
    out["text_url"] = f"/v1/documents/{doc_id}/text"
    return out


@router.get(
    "/v1/documents/{doc_id}/text",
    response_class=Response,  # PlainTextResponse would document the 404 as text too
    tags=[INSPECTORS],
    summary="One report's canonical text",
    responses={
        200: {
            "description": "The canonical text",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **NOT_FOUND,
    },
)
def document_text(doc_id: DocId, state: State) -> Response:
    """The report's canonical text (UTF-8): what every char_start/char_end indexes."""
    retriever = state.ready()
    doc = retriever.index.documents.get(doc_id)
    if doc is None:
        raise NotFound(f"no document with id {doc_id!r}")
    return PlainTextResponse(doc.text, media_type="text/plain; charset=utf-8")


@router.get(
    "/v1/passages/{passage_id}",
    response_model=PassageDetail,
    tags=[INSPECTORS],
    summary="One passage, with its neighbours",
    responses=NOT_FOUND,
)
def passage(passage_id: PassageId, state: State) -> dict[str, Any]:
    """One passage (a merged search result's joined id too), with the passages before and
    after it in its report."""
    retriever = state.ready()
    chunks = retriever.index.chunks
    rows = rows_of(passage_id, retriever.index.row_of, chunks)
    if rows is None:
        raise NotFound(f"no passage with id {passage_id!r}")
    first, last = chunks[rows[0]], chunks[rows[-1]]
    chunk = retriever.merged(rows)
    before = chunks[rows[0] - 1] if rows[0] > 0 else None
    after = chunks[rows[-1] + 1] if rows[-1] + 1 < len(chunks) else None
    out = passage_dict(_hit(retriever, chunk))
    out["previous"] = (
        passage_dict(_hit(retriever, before)) if before and before.doc_id == first.doc_id else None
    )
    out["next"] = (
        passage_dict(_hit(retriever, after)) if after and after.doc_id == last.doc_id else None
    )
    return out
