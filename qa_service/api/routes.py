"""HTTP routes. Each parses its request, makes one library call and shapes the response.

Routes that encode or search hand their whole work to a worker thread (``AppState.run``), so
a slow query never blocks the event loop. The work returns its body already checked against
the response model and serialised (``_json``), in that same worker thread, so the event loop
only sends it.

Every operation has a summary, a description (its docstring) and its error responses; the
tags group them by who uses them (``app.TAGS``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ValidationError

from ..answer import chat as chat_core
from ..answer.compare import compare as compare_core
from ..answer.recommendations import AREAS
from ..answer.retriever import Retriever
from ..answer.tracker import (
    CSV_COLUMNS,
    VERDICTS,
    TrackerRow,
    build_tracker,
    counts,
    csv_text,
    filter_rows,
    row_dict,
)
from ..search.inputs import (
    FORCE_NAMES,
    InputError,
    filter_notes,
    force_named,
    forces_of,
    resolve_forces,
    window_note,
    year_range,
)
from ..search.merging import rows_of
from ..search.passages import (
    chat_dict,
    cite_result_dict,
    comparison_dict,
    passage_dict,
    result_dict,
)
from ..search.types import Filters, Hit
from ..settings import LIMITS
from ..types import Chunk
from . import examples as X
from . import schemas as S
from .app import INSPECTORS, OPERATORS, STAFF, AppState, NotFound

router = APIRouter()


def _error(description: str) -> dict[str, Any]:
    return {"model": S.ErrorBody, "description": description}


# Every error body is {"detail": "one readable line"} (see the handlers in app.py).
_INVALID: dict[int | str, dict[str, Any]] = {
    422: _error(
        "Input the service refuses: over a limit, blank text, a force name that is no police"
        " force, a field of the wrong type. `detail` names the field and the limit."
    ),
}
_NOT_READY: dict[int | str, dict[str, Any]] = {
    503: _error("The index is not loaded (see GET /readyz)."),
}
# What the POST routes and the limits in ``limits.py`` answer, documented where they apply.
_LIMITS: dict[int | str, dict[str, Any]] = {
    **_INVALID,
    400: _error(
        "The body is not JSON (detail says where it stops parsing), not UTF-8, or has a"
        " bad Content-Length."
    ),
    413: _error("The request body is over QA_MAX_BODY_BYTES (64 KiB by default)."),
    429: _error(
        "Too many requests are already waiting for a worker (QA_MAX_QUEUED); retry after"
        " the Retry-After header's seconds."
    ),
    **_NOT_READY,
    504: _error("The work took longer than QA_REQUEST_TIMEOUT_S (10 s by default)."),
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **_INVALID,
    404: _error("No report or passage has this id."),
    **_NOT_READY,
}


async def get_state(request: Request) -> AppState:
    """The app's shared state (``async``: a plain ``def`` dependency would cost every request
    an extra trip through the thread pool)."""
    state: AppState = request.app.state.qa
    return state


State = Annotated[AppState, Depends(get_state)]
DocId = Annotated[
    str,
    Path(description="A report's `doc_id` (GET /v1/documents).", examples=[X.DOC_ID]),
]
PassageId = Annotated[
    str,
    Path(description="A passage's `passage_id` (from a search result).", examples=[X.PASSAGE_ID]),
]


def _filters(f: S.SearchFilters) -> tuple[Filters, list[str]]:
    """The request's filters as the core's, with a note if the year range was reversed."""
    year_from, year_to, note = year_range(f.year_from, f.year_to)
    filters = Filters(
        forces_of(f.forces, "filters.forces"),
        tuple(f.report_types),
        year_from,
        year_to,
        tuple(f.section),
        tuple(f.doc_ids),
    )
    return filters, [note] if note else []


def _prepared(
    retriever: Retriever, question: str, requested: S.SearchFilters
) -> tuple[Filters, list[str]]:
    """Filters after the question-wins rule, and every note about them."""
    filters, notes = _filters(requested)
    filters, conflict = resolve_forces(question, filters)
    return filters, notes + conflict + filter_notes(filters, retriever.index.documents)


def _window(retriever: Retriever, question: str) -> list[str]:
    embedder = retriever.embedder
    return window_note(embedder.count_tokens(question), embedder.max_tokens)


def _json(model: type[BaseModel], content: dict[str, Any]) -> Response:
    """``content`` checked against ``model`` and serialised as FastAPI would for a
    ``response_model`` (a mismatch is a server error, 500)."""
    try:
        body = model.model_validate(content).model_dump_json()
    except ValidationError as exc:
        raise RuntimeError(f"response does not match {model.__name__}: {exc}") from exc
    return Response(body, media_type="application/json")


def _hit(retriever: Retriever, chunk: Chunk, score: float = 0.0) -> Hit:
    doc = retriever.index.documents[chunk.doc_id]
    return Hit(chunk, doc, score, 0.0, 0.0, (), attached=retriever.attached(chunk))


@router.post(
    "/v1/search",
    response_model=S.SearchResponse,
    tags=[STAFF],
    summary="Find the passages that answer a question",
    responses=_LIMITS,
)
async def search(
    body: Annotated[S.SearchRequest, Body(openapi_examples=X.SEARCH)], state: State
) -> Response:
    """Passages that answer a question, best first, each with the sentence that answers it
    highlighted and its exact place in the report. A force named in the question becomes a
    filter; a forces filter that the question contradicts is set aside (the question wins) and
    `notes` says so, as it does for filter values the corpus lacks."""
    return await state.run(_search, body, state)


def _search(body: S.SearchRequest, state: AppState) -> Response:
    retriever = state.ready()
    filters, notes = _prepared(retriever, body.question, body.filters)
    result = retriever.search(body.question, top_k=body.top_k, filters=filters)
    content = {
        **result_dict(result),
        "index_version": retriever.index.version,
        "notes": notes + _window(retriever, body.question),
    }
    return _json(S.SearchResponse, content)


@router.post(
    "/v1/chat",
    response_model=S.ChatResponse,
    tags=[STAFF],
    summary="Answer the last message of a conversation, with citations",
    responses=_LIMITS,
)
async def chat(
    body: Annotated[S.ChatRequest, Body(openapi_examples=X.CHAT)], state: State
) -> Response:
    """An answer quoted from the reports, every sentence followed by the marker of the passage
    it comes from. Follow-ups ("and Leicestershire?") are completed from the history, which the
    client sends back each time. The same limits, filters and notes as search: the last user
    message is the question."""
    return await state.run(_chat, body, state)


def _chat(body: S.ChatRequest, state: AppState) -> Response:
    retriever = state.ready()
    users = [m.content for m in body.messages if m.role == "user"]
    if not users:
        raise InputError("messages: at least one message must have role 'user'")
    filters, notes = _prepared(retriever, users[-1], body.filters)
    turns = [chat_core.Turn(m.role, m.content) for m in body.messages]
    reply = chat_core.answer(retriever, turns, top_k=body.top_k, filters=filters)
    content = {
        **chat_dict(reply),
        "index_version": retriever.index.version,
        "notes": notes + _window(retriever, reply.rewritten),
    }
    return _json(S.ChatResponse, content)


@router.post(
    "/v1/compare",
    response_model=S.CompareResponse,
    tags=[STAFF],
    summary="Ask one question of every force",
    responses=_LIMITS,
)
async def compare(
    body: Annotated[S.CompareRequest, Body(openapi_examples=X.COMPARE)], state: State
) -> Response:
    """One question across forces: for each force its best passage(s), or an explicit
    'no relevant passage' or 'not in corpus'."""
    return await state.run(_compare, body, state)


def _compare(body: S.CompareRequest, state: AppState) -> Response:
    retriever = state.ready()
    forces = list(forces_of(body.forces))
    result = compare_core(retriever, body.question, forces or None, body.per_force)
    return _json(
        S.CompareResponse, {**comparison_dict(result), "index_version": retriever.index.version}
    )


@router.post(
    "/v1/cite",
    response_model=S.CiteResponse,
    tags=[INSPECTORS],
    summary="Find where a quote comes from",
    responses=_LIMITS,
)
async def cite(
    body: Annotated[S.CiteRequest, Body(openapi_examples=X.CITE)], state: State
) -> Response:
    """Where a pasted quote (verbatim or nearly) comes from: report, section, paragraph and
    exact offsets in the report's canonical text. A near match carries `diff`, the differing
    words on both sides; `not_found` when nothing is close enough, with the closest passages
    (status `closest`, not matches) and how close they come. Curly quotes, dashes, line
    breaks, words hyphenated at line ends and page-number lines in the paste do not matter."""
    return await state.run(_cite, body, state)


def _cite(body: S.CiteRequest, state: AppState) -> Response:
    from ..answer.cite import QuoteLocator

    retriever = state.ready()
    with state.lock:
        locator = state.extras.get("locator")
        if locator is None:
            locator = QuoteLocator(retriever.index.documents, retriever.index.chunks)
            state.extras["locator"] = locator
    return _json(S.CiteResponse, cite_result_dict(locator.locate(body.quote)))


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
        notes = filter_notes(Filters(forces=(official,)), retriever.index.documents)
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
    response_model=S.RecommendationsResponse,
    tags=[INSPECTORS],
    summary="Recommendation tracker: each recommendation and the review's verdict on it",
    responses={**_INVALID, **_NOT_READY},
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
        **_INVALID,
        **_NOT_READY,
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
    response_model=list[S.DocumentSummary],
    tags=[INSPECTORS],
    summary="List the reports",
    responses=_NOT_READY,
)
def documents(state: State) -> list[dict[str, Any]]:
    """Every report in the index, with its metadata and counts of sections and passages."""
    retriever = state.ready()
    return [_document_summary(retriever, d) for d in retriever.index.documents]


@router.get(
    "/v1/documents/{doc_id}",
    response_model=S.DocumentDetail,
    tags=[INSPECTORS],
    summary="One report's metadata and section tree",
    responses=_NOT_FOUND,
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
        **_NOT_FOUND,
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
    response_model=S.PassageDetail,
    tags=[INSPECTORS],
    summary="One passage, with its neighbours",
    responses=_NOT_FOUND,
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


@router.get("/healthz", response_model=S.Health, tags=[OPERATORS], summary="Liveness")
def healthz(state: State) -> dict[str, Any]:
    """The process is up (200 even while the index loads), with the index generation it
    serves once one is loaded; /readyz says whether it can answer."""
    retriever = state.retriever
    return {"status": "ok", "index_version": retriever.index.version if retriever else None}


@router.get(
    "/readyz",
    response_model=S.Health,
    tags=[OPERATORS],
    summary="Readiness",
    responses={503: {"model": S.Health, "description": "Not ready; detail says why."}},
)
def readyz(state: State) -> Any:
    """The index is loaded and its parts agree (checked when it was loaded)."""
    retriever = state.retriever
    if retriever is None:
        return JSONResponse({"status": "not ready", "detail": state.load_error}, status_code=503)
    # ``detail`` says why a newer published generation could not be loaded, if it could not.
    return {
        "status": "ready",
        "index_version": retriever.index.version,
        "detail": state.reload_error,
    }


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    tags=[OPERATORS],
    summary="Prometheus metrics",
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {}}}},
)
def metrics(state: State) -> Response:
    """Prometheus metrics: requests and latency per route, index size and version."""
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
