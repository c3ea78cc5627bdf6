"""The routes for evaluators and operators: liveness (/healthz), readiness (/readyz, with
why a newer index generation could not be loaded) and Prometheus metrics (/metrics)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..schemas.status import Health
from ..state import OPERATORS
from .common import State

router = APIRouter()


@router.get("/healthz", response_model=Health, tags=[OPERATORS], summary="Liveness")
def healthz(state: State) -> dict[str, Any]:
    """The process is up (200 even while the index loads), with the index generation it
    serves once one is loaded; /readyz says whether it can answer."""
    retriever = state.retriever
    return {"status": "ok", "index_version": retriever.index.version if retriever else None}


@router.get(
    "/readyz",
    response_model=Health,
    tags=[OPERATORS],
    summary="Readiness",
    responses={503: {"model": Health, "description": "Not ready; detail says why."}},
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
