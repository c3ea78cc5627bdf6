"""The FastAPI app factory: loads the index once (lifespan), maps domain errors to statuses,
counts requests for /metrics, and serves the web page at /."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from ..embedding import ModelError
from ..retriever import Retriever
from ..service import open_retriever
from ..settings import Settings
from ..store import IndexStoreError
from .metrics import Metrics

STATIC = Path(__file__).with_name("static")


class NotFound(Exception):
    """An id that names nothing (404)."""


class NotReady(Exception):
    """The index is not loaded (503)."""


@dataclass
class AppState:
    """What the routes share: settings, the loaded retriever (or why it is missing)."""

    settings: Settings
    retriever: Retriever | None = None
    load_error: str | None = None
    metrics: Metrics = field(default_factory=Metrics)
    lock: threading.Lock = field(default_factory=threading.Lock)
    extras: dict[str, Any] = field(default_factory=dict)  # lazily built helpers (cite, recs)

    def ready(self) -> Retriever:
        """The retriever, or NotReady with the reason."""
        if self.retriever is None:
            raise NotReady(self.load_error or "the index is not loaded yet")
        return self.retriever

    def load(self) -> None:
        """Load (or reload) the index and model; keep the error message if it fails."""
        try:
            retriever = open_retriever(self.settings)
        except (IndexStoreError, ModelError, OSError) as exc:
            self.load_error = str(exc)
            return
        with self.lock:
            self.retriever, self.load_error = retriever, None
            self.extras.clear()
        self.metrics.set_index(
            retriever.index.version, len(retriever.index.documents), len(retriever.index.chunks)
        )


def create_app(settings: Settings | None = None, state: AppState | None = None) -> FastAPI:
    """Build the app. The index is loaded at startup, once; tests may pass a ready state."""
    app_state = state or AppState(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app_state.retriever is None:
            app_state.load()
        yield

    app = FastAPI(
        title="ncpi-qa",
        version="0.1.0",
        summary="Cited passages from HMICFRS child protection inspection reports.",
        lifespan=lifespan,
        responses={503: {"description": "The index is not loaded"}},
    )
    app.state.qa = app_state

    @app.middleware("http")
    async def count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            app_state.metrics.observe(request.method, path, status, time.perf_counter() - start)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(NotReady)
    async def not_ready(request: Request, exc: NotReady) -> JSONResponse:
        return JSONResponse({"detail": f"index not ready: {exc}"}, status_code=503)

    @app.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable line per problem, e.g. "body.top_k: Input should be <= 50".
        problems = [
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        ]
        return JSONResponse({"detail": "; ".join(problems) or "invalid request"}, status_code=422)

    from .routes import router

    app.include_router(router)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    return app
