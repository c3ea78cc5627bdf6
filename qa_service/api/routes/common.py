"""What every route module uses: the ``State`` dependency that hands a route the app's
shared state, the error responses each operation documents (their body is ``ErrorBody``, the
handlers are in ``app.py``), and ``checked_json``, which checks a body against its response
model and serialises it in the worker thread that built it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from ..schemas.status import ErrorBody
from ..state import AppState


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# Every error body is {"detail": "one readable line"} (see the handlers in app.py).
INVALID: dict[int | str, dict[str, Any]] = {
    422: _error(
        "Input the service refuses: over a limit, blank text, a force name that is no police"
        " force, a field of the wrong type. `detail` names the field and the limit."
    ),
}
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: _error("The index is not loaded (see GET /readyz)."),
}
# What the POST routes and the limits in ``limits.py`` answer, documented where they apply.
REFUSALS: dict[int | str, dict[str, Any]] = {
    **INVALID,
    400: _error(
        "The body is not JSON (detail says where it stops parsing), not UTF-8, or has a"
        " bad Content-Length."
    ),
    413: _error("The request body is over QA_MAX_BODY_BYTES (64 KiB by default)."),
    429: _error(
        "Too many requests are already waiting for a worker (QA_MAX_QUEUED); retry after"
        " the Retry-After header's seconds."
    ),
    **NOT_READY,
    504: _error("The work took longer than QA_REQUEST_TIMEOUT_S (10 s by default)."),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **INVALID,
    404: _error("No report or passage has this id."),
    **NOT_READY,
}


async def get_state(request: Request) -> AppState:
    """The app's shared state (``async``: a plain ``def`` dependency would cost every request
    an extra trip through the thread pool)."""
    state: AppState = request.app.state.qa
    return state


State = Annotated[AppState, Depends(get_state)]


def checked_json(model: type[BaseModel], content: dict[str, Any]) -> Response:
    """``content`` checked against ``model`` and serialised as FastAPI would for a
    ``response_model`` (a mismatch is a server error, 500)."""
    try:
        body = model.model_validate(content).model_dump_json()
    except ValidationError as exc:
        raise RuntimeError(f"response does not match {model.__name__}: {exc}") from exc
    return Response(body, media_type="application/json")
