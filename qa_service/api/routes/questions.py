"""The routes that answer questions, for staff and inspectors: search, chat, compare forces
and find where a quote comes from. Each hands its whole work to a worker thread
(``AppState.run``), so a slow query never blocks the event loop; the work returns its body
already checked against the response model and serialised (``checked_json``), in that same
worker thread, so the event loop only sends it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response

from ...answer import chat as chat_core
from ...answer.compare import compare as compare_core
from ...answer.reply import Turn
from ...answer.retriever import Retriever
from ...search.inputs import (
    InputError,
    filter_notes,
    forces_of,
    resolve_forces,
    window_note,
    year_range,
)
from ...search.passages import chat_dict, cite_result_dict, comparison_dict, result_dict
from ...search.types import Filters
from .. import examples as X
from ..schemas.answers import ChatResponse, CiteResponse, CompareResponse, SearchResponse
from ..schemas.requests import (
    ChatRequest,
    CiteRequest,
    CompareRequest,
    SearchFilters,
    SearchRequest,
)
from ..state import INSPECTORS, STAFF, AppState
from .common import REFUSALS, State, checked_json

router = APIRouter()


def _filters(f: SearchFilters) -> tuple[Filters, list[str]]:
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
    retriever: Retriever, question: str, requested: SearchFilters
) -> tuple[Filters, list[str]]:
    """Filters after the question-wins rule, and every note about them."""
    filters, notes = _filters(requested)
    filters, conflict = resolve_forces(question, filters)
    return filters, notes + conflict + filter_notes(filters, retriever.index.metadata)


def _window(retriever: Retriever, question: str) -> list[str]:
    embedder = retriever.embedder
    return window_note(embedder.count_tokens(question), embedder.max_tokens)


@router.post(
    "/v1/search",
    response_model=SearchResponse,
    tags=[STAFF],
    summary="Find the passages that answer a question",
    responses=REFUSALS,
)
async def search(
    body: Annotated[SearchRequest, Body(openapi_examples=X.SEARCH)], state: State
) -> Response:
    """Passages that answer a question, best first, each with the sentence that answers it
    highlighted and its exact place in the report. A force named in the question becomes a
    filter; a forces filter that the question contradicts is set aside (the question wins) and
    `notes` says so, as it does for filter values the corpus lacks."""
    return await state.run(_search, body, state)


def _search(body: SearchRequest, state: AppState) -> Response:
    retriever = state.ready()
    filters, notes = _prepared(retriever, body.question, body.filters)
    result = retriever.search(body.question, top_k=body.top_k, filters=filters)
    content = {
        **result_dict(result),
        "index_version": retriever.index.version,
        "notes": notes + _window(retriever, body.question),
    }
    return checked_json(SearchResponse, content)


@router.post(
    "/v1/chat",
    response_model=ChatResponse,
    tags=[STAFF],
    summary="Answer the last message of a conversation, with citations",
    responses=REFUSALS,
)
async def chat(
    body: Annotated[ChatRequest, Body(openapi_examples=X.CHAT)], state: State
) -> Response:
    """An answer quoted from the reports, every sentence followed by the marker of the passage
    it comes from. Follow-ups ("and Leicestershire?") are completed from the history, which the
    client sends back each time. The same limits, filters and notes as search: the last user
    message is the question."""
    return await state.run(_chat, body, state)


def _chat(body: ChatRequest, state: AppState) -> Response:
    retriever = state.ready()
    users = [m.content for m in body.messages if m.role == "user"]
    if not users:
        raise InputError("messages: at least one message must have role 'user'")
    filters, notes = _prepared(retriever, users[-1], body.filters)
    turns = [Turn(m.role, m.content) for m in body.messages]
    reply = chat_core.answer(retriever, turns, top_k=body.top_k, filters=filters)
    content = {
        **chat_dict(reply),
        "index_version": retriever.index.version,
        "notes": notes + _window(retriever, reply.rewritten),
    }
    return checked_json(ChatResponse, content)


@router.post(
    "/v1/compare",
    response_model=CompareResponse,
    tags=[STAFF],
    summary="Ask one question of every force",
    responses=REFUSALS,
)
async def compare(
    body: Annotated[CompareRequest, Body(openapi_examples=X.COMPARE)], state: State
) -> Response:
    """One question across forces: for each force its best passage(s), or an explicit
    'no relevant passage' or 'not in corpus'."""
    return await state.run(_compare, body, state)


def _compare(body: CompareRequest, state: AppState) -> Response:
    retriever = state.ready()
    forces = list(forces_of(body.forces))
    result = compare_core(retriever, body.question, forces or None, body.per_force)
    return checked_json(
        CompareResponse, {**comparison_dict(result), "index_version": retriever.index.version}
    )


@router.post(
    "/v1/cite",
    response_model=CiteResponse,
    tags=[INSPECTORS],
    summary="Find where a quote comes from",
    responses=REFUSALS,
)
async def cite(
    body: Annotated[CiteRequest, Body(openapi_examples=X.CITE)], state: State
) -> Response:
    """Where a pasted quote (verbatim or nearly) comes from: report, section, paragraph and
    exact offsets in the report's canonical text. A near match carries `diff`, the differing
    words on both sides; `not_found` when nothing is close enough, with the closest passages
    (status `closest`, not matches) and how close they come. Curly quotes, dashes, line
    breaks, words hyphenated at line ends and page-number lines in the paste do not matter."""
    return await state.run(_cite, body, state)


def _cite(body: CiteRequest, state: AppState) -> Response:
    from ...answer.cite import QuoteLocator

    retriever = state.ready()
    with state.lock:
        locator = state.extras.get("locator")
        if locator is None:
            locator = QuoteLocator(retriever.index.documents, retriever.index.chunks)
            state.extras["locator"] = locator
    return checked_json(CiteResponse, cite_result_dict(locator.locate(body.quote)))
