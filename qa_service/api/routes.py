"""HTTP routes. Each parses its request, makes one library call and shapes the response.

Routes that encode or search hand their whole work to a worker thread (``AppState.run``), so
a slow query never blocks the event loop. The work returns its body already checked against
the response model and serialised (``_json``), in that same worker thread, so the event loop
only sends it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ValidationError

from .. import chat as chat_core
from ..compare import compare as compare_core
from ..forces import find_forces
from ..merging import rows_of
from ..passages import cite_result_dict, comparison_dict, passage_dict, result_dict
from ..retriever import Retriever
from ..search_types import Filters, Hit
from ..types import Chunk
from . import schemas as S
from .app import AppState, NotFound

router = APIRouter()

# Every error body is {"detail": "one readable line"} (see the handlers in app.py).
_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": S.ErrorBody, "description": "Invalid input; detail says which field and why"},
}
# What the POST routes and the limits in ``limits.py`` answer, documented where they apply.
_LIMITS: dict[int | str, dict[str, Any]] = {
    **_INVALID,
    400: {"model": S.ErrorBody, "description": "Body is not UTF-8 JSON, or bad Content-Length"},
    413: {"model": S.ErrorBody, "description": "Request body over QA_MAX_BODY_BYTES"},
    504: {"model": S.ErrorBody, "description": "Took longer than QA_REQUEST_TIMEOUT_S"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **_INVALID,
    404: {"model": S.ErrorBody, "description": "No such id"},
}


async def get_state(request: Request) -> AppState:
    """The app's shared state (``async``: a plain ``def`` dependency would cost every request
    an extra trip through the thread pool)."""
    state: AppState = request.app.state.qa
    return state


State = Annotated[AppState, Depends(get_state)]


def _filters(f: S.SearchFilters) -> Filters:
    forces: list[str] = []
    for name in f.forces:
        found = find_forces(name)
        if not found:
            raise ValueError(f"filters.forces: {name!r} is not a police force of England and Wales")
        forces.append(found[0])
    if f.year_from is not None and f.year_to is not None and f.year_from > f.year_to:
        raise ValueError("filters: year_from is after year_to")
    return Filters(
        tuple(forces),
        tuple(f.report_types),
        f.year_from,
        f.year_to,
        tuple(f.section),
        tuple(f.doc_ids),
    )


def _json(model: type[BaseModel], content: dict[str, Any]) -> Response:
    """``content`` checked against ``model`` and serialised as FastAPI would for a
    ``response_model`` (a mismatch is a server error, 500)."""
    try:
        body = model.model_validate(content).model_dump_json()
    except ValidationError as exc:
        raise RuntimeError(f"response does not match {model.__name__}: {exc}") from exc
    return Response(body, media_type="application/json")


def _hit(retriever: Retriever, chunk: Chunk, score: float = 0.0) -> Hit:
    return Hit(chunk, retriever.index.documents[chunk.doc_id], score, 0.0, 0.0, ())


@router.post("/v1/search", response_model=S.SearchResponse, tags=["search"], responses=_LIMITS)
async def search(body: S.SearchRequest, state: State) -> Response:
    """Passages that answer a question, with the answer sentence highlighted."""
    return await state.run(_search, body, state)


def _search(body: S.SearchRequest, state: AppState) -> Response:
    retriever = state.ready()
    result = retriever.search(body.question, top_k=body.top_k, filters=_filters(body.filters))
    return _json(
        S.SearchResponse, {**result_dict(result), "index_version": retriever.index.version}
    )


@router.post("/v1/chat", response_model=S.ChatResponse, tags=["search"], responses=_LIMITS)
async def chat(body: S.ChatRequest, state: State) -> Response:
    """Answer the last user message; follow-ups are rewritten from the history sent back."""
    return await state.run(_chat, body, state)


def _chat(body: S.ChatRequest, state: AppState) -> Response:
    retriever = state.ready()
    if not any(m.role == "user" for m in body.messages):
        raise ValueError("messages: at least one message must have role 'user'")
    turns = [chat_core.Turn(m.role, m.content) for m in body.messages]
    reply = chat_core.answer(retriever, turns, top_k=body.top_k, filters=_filters(body.filters))
    cited = reply.result.hits[: reply.citations]
    content = {
        "question": reply.question,
        "rewritten_question": reply.rewritten,
        "answer": reply.answer,
        "sentences": [{"text": s.text, "citation": s.citation} for s in reply.sentences],
        "citations": [{**passage_dict(h), "marker": n} for n, h in enumerate(cited, 1)],
        "answerable": reply.result.answerable and bool(reply.sentences),
        "message": reply.result.message,
        "index_version": retriever.index.version,
    }
    return _json(S.ChatResponse, content)


@router.post("/v1/compare", response_model=S.CompareResponse, tags=["search"], responses=_LIMITS)
async def compare(body: S.CompareRequest, state: State) -> Response:
    """One question across forces: each force cited, or explicitly 'no relevant passage'."""
    return await state.run(_compare, body, state)


def _compare(body: S.CompareRequest, state: AppState) -> Response:
    retriever = state.ready()
    forces = [_filters(S.SearchFilters(forces=[f])).forces[0] for f in body.forces]
    result = compare_core(retriever, body.question, forces or None, body.per_force)
    return _json(
        S.CompareResponse, {**comparison_dict(result), "index_version": retriever.index.version}
    )


@router.post("/v1/cite", response_model=S.CiteResponse, tags=["citations"], responses=_LIMITS)
async def cite(body: S.CiteRequest, state: State) -> Response:
    """Where a pasted quote comes from: report, section, paragraph and exact offsets."""
    return await state.run(_cite, body, state)


def _cite(body: S.CiteRequest, state: AppState) -> Response:
    from ..cite import QuoteLocator

    retriever = state.ready()
    with state.lock:
        locator = state.extras.get("locator")
        if locator is None:
            locator = QuoteLocator(retriever.index.documents, retriever.index.chunks)
            state.extras["locator"] = locator
    if not body.quote.strip():
        raise ValueError("quote: the quote is empty")
    return _json(S.CiteResponse, cite_result_dict(locator.locate(body.quote)))


@router.get(
    "/v1/recommendations",
    response_model=S.RecommendationsResponse,
    tags=["reports"],
    responses=_INVALID,
)
def recommendations(
    state: State,
    force: Annotated[str | None, Query(max_length=100)] = None,
    area: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """The recommendations each report makes or reviews, by area, each with its citation."""
    from ..recommendations import AREAS, extract_recommendations

    retriever = state.ready()
    with state.lock:
        recs = state.extras.get("recommendations")
        if recs is None:
            recs = [
                r for d in retriever.index.documents.values() for r in extract_recommendations(d)
            ]
            state.extras["recommendations"] = recs
    if force:
        found = find_forces(force)
        if not found:
            raise ValueError(f"force: {force!r} is not a police force of England and Wales")
        recs = [r for r in recs if r.force == found[0]]
    if area:
        wanted = area.strip().lower().replace("-", " ")
        if wanted not in AREAS:
            raise ValueError(f"area: {area!r} is not one of: {', '.join(AREAS)}")
        recs = [r for r in recs if r.area == wanted]
    return {
        "recommendations": [_recommendation(r) for r in recs],
        "areas": list(AREAS),
    }


def _recommendation(r: Any) -> dict[str, Any]:
    summary = None
    if r.summary is not None:
        summary = {
            "text": r.summary.text,
            "section": list(r.summary.section),
            "char_start": r.summary.char_start,
            "char_end": r.summary.char_end,
        }
    return {
        "doc_id": r.doc_id,
        "source": r.source,
        "force": r.force,
        "report_type": r.report_type,
        "area": r.area,
        "kind": r.kind,
        "text": r.text,
        "section": list(r.section),
        "char_start": r.char_start,
        "char_end": r.char_end,
        "summary": summary,
    }


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


@router.get("/v1/documents", response_model=list[S.DocumentSummary], tags=["reports"])
def documents(state: State) -> list[dict[str, Any]]:
    """Every report in the index."""
    retriever = state.ready()
    return [_document_summary(retriever, d) for d in retriever.index.documents]


@router.get(
    "/v1/documents/{doc_id}",
    response_model=S.DocumentDetail,
    tags=["reports"],
    responses=_NOT_FOUND,
)
def document(doc_id: str, state: State) -> dict[str, Any]:
    """A report's metadata and section tree."""
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
        }
        for s in doc.sections
    ]
    out["text_url"] = f"/v1/documents/{doc_id}/text"
    return out


@router.get(
    "/v1/documents/{doc_id}/text",
    response_class=Response,  # PlainTextResponse would document the 404 as text too
    tags=["reports"],
    responses={
        200: {
            "description": "The canonical text",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **_NOT_FOUND,
    },
)
def document_text(doc_id: str, state: State) -> Response:
    """The report's canonical text: what every char_start/char_end indexes."""
    retriever = state.ready()
    doc = retriever.index.documents.get(doc_id)
    if doc is None:
        raise NotFound(f"no document with id {doc_id!r}")
    return PlainTextResponse(doc.text, media_type="text/plain; charset=utf-8")


@router.get(
    "/v1/passages/{passage_id}",
    response_model=S.PassageDetail,
    tags=["reports"],
    responses=_NOT_FOUND,
)
def passage(passage_id: str, state: State) -> dict[str, Any]:
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


@router.get("/healthz", response_model=S.Health, tags=["operations"])
def healthz() -> dict[str, Any]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz", response_model=S.Health, tags=["operations"], responses={503: {"model": S.Health}}
)
def readyz(state: State) -> Any:
    """The index is loaded and its parts agree (checked when it was loaded)."""
    retriever = state.retriever
    if retriever is None:
        from fastapi.responses import JSONResponse

        return JSONResponse({"status": "not ready", "detail": state.load_error}, status_code=503)
    # ``detail`` says why a newer published generation could not be loaded, if it could not.
    return {
        "status": "ready",
        "index_version": retriever.index.version,
        "detail": state.reload_error,
    }


@router.get("/metrics", response_class=PlainTextResponse, tags=["operations"])
def metrics(state: State) -> Response:
    """Prometheus metrics: requests and latency per route, index size and version."""
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
