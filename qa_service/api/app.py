"""The FastAPI app factory: loads the index once (lifespan), maps domain errors to statuses,
counts requests for /metrics, and serves the web page at /."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..answer.retriever import Retriever
from ..answer.service import open_retriever
from ..index.current import is_published, load_search_index, published_signature
from ..index.embedding import ModelError
from ..index.store import IndexStoreError
from ..settings import LIMITS, Settings
from .errors import describe_validation_errors
from .limits import BodySizeLimit
from .metrics import Metrics

STATIC = Path(__file__).with_name("static")
# Swagger UI and ReDoc, served from the fastapi-offline package: /docs and /redoc need no network.
DOCS_ASSETS = Path(
    getattr(importlib.util.find_spec("fastapi_offline"), "origin", "") or ""
).with_name("static")

# Tags group the operations by who uses them.
STAFF = "staff"
INSPECTORS = "inspectors"
OPERATORS = "evaluators and operators"
TAGS = [
    {"name": STAFF, "description": "Staff asking the reports: search, chat, compare forces."},
    {
        "name": INSPECTORS,
        "description": "Inspectors checking sources: find a quote, read reports, passages and"
        " recommendations.",
    },
    {"name": OPERATORS, "description": "Evaluators and operators: liveness, readiness, metrics."},
]


class NotFound(Exception):
    """An id that names nothing (404)."""


class NotReady(Exception):
    """The index is not loaded (503)."""


class TimedOut(Exception):
    """The work took longer than ``Settings.request_timeout_s`` (504)."""


class TooBusy(Exception):
    """More than ``Settings.max_queued`` requests already wait for a worker (429)."""


# The retriever the current request took from ``AppState.ready`` (a route's work runs whole in
# one worker thread), so the helpers it builds are cached for that index, not a newer one.
_request_local = threading.local()

# Threads for the routes that encode and search: more than the cores, so that one slow request
# (a long quote to locate) does not hold up the others; many more would only move the queue
# from this pool to the OS scheduler.
HTTP_WORKERS = 8

T = TypeVar("T")


@dataclass
class AppState:
    """What the routes share: settings, the loaded retriever (or why it is missing).

    The index is reloaded without a restart: at most once per ``reload_check_s`` a request
    stats ``index/CURRENT``; when another generation was published, one background thread
    loads it and swaps ``retriever`` in a single assignment. Requests already running keep
    the retriever they started with. If the new generation cannot be loaded the old one
    keeps serving and ``reload_error`` says why (shown by /readyz).
    """

    settings: Settings
    retriever: Retriever | None = None
    load_error: str | None = None
    reload_error: str | None = None
    metrics: Metrics = field(default_factory=Metrics)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _extras: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _reload_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _loader: threading.Thread | None = field(default=None, repr=False)
    _checked_at: float = field(default=float("-inf"), repr=False)
    _seen: object | None = field(default=None, repr=False)
    _workers: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(HTTP_WORKERS, thread_name_prefix="qa-http"),
        repr=False,
    )
    _pending: int = field(default=0, repr=False)  # run() calls not finished (event loop only)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker thread, so the event loop stays free; TimedOut after
        ``request_timeout_s``. Work still queued then is dropped; work already running goes on
        in its thread (a thread cannot be interrupted) and its result is discarded.

        An asyncio executor rather than FastAPI's thread pool for plain ``def`` routes, and the
        deadline on the future rather than a middleware running each request as its own task:
        the same guarantees with less per-request bookkeeping (bench/results/http-overhead.md).
        """
        timeout = self.settings.request_timeout_s
        limit = self.settings.max_queued
        if self._pending >= limit:
            raise TooBusy(
                f"{self._pending} requests are already waiting (the limit is {limit},"
                " QA_MAX_QUEUED); retry in a second"
            )
        self._pending += 1
        future = asyncio.get_running_loop().run_in_executor(self._workers, fn, *args)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimedOut(
                f"the request took longer than {timeout:g} s and was abandoned;"
                " try again, or ask a shorter question"
            ) from None
        finally:
            self._pending -= 1

    @property
    def extras(self) -> dict[str, Any]:
        """Helpers built lazily from the request's retriever (cite locator, recommendations)."""
        retriever = getattr(_request_local, "retriever", None) or self.retriever
        key = retriever.index.version if retriever is not None else ""
        return self._extras.setdefault(key, {})

    def ready(self) -> Retriever:
        """The retriever, or NotReady with the reason."""
        retriever = self.retriever
        if retriever is None:
            raise NotReady(self.load_error or "the index is not loaded yet")
        _request_local.retriever = retriever
        return retriever

    def load(self) -> None:
        """Load (or reload) the index and model; keep the error message if it fails."""
        self._seen = published_signature(self.settings)
        try:
            retriever = open_retriever(self.settings)
            retriever.warm()  # the first questions as fast as later ones
        except Exception as exc:
            self.load_error = _describe(exc)
            return
        self._install(retriever)

    def maybe_reload(self) -> None:
        """Start loading a newly published generation, if there is one (cheap to call)."""
        now = time.monotonic()
        if now - self._checked_at < self.settings.reload_check_s:
            return
        self._checked_at = now
        signature = published_signature(self.settings)
        if signature is None or signature == self._seen:
            return
        current = self.retriever
        if current is not None and is_published(self.settings, current.index.version):
            self._seen = signature  # e.g. a retriever handed in by the caller
            return
        with self._reload_lock:
            if self._loader is not None and self._loader.is_alive():
                return
            self._loader = threading.Thread(
                target=self._reload, args=(signature,), name="qa-index-reload", daemon=True
            )
            self._loader.start()

    def wait_for_reload(self, timeout: float | None = None) -> None:
        """Block until a background load (if any) has finished (for tests and shutdown)."""
        loader = self._loader
        if loader is not None:
            loader.join(timeout)

    def _reload(self, signature: object) -> None:
        old = self.retriever
        try:
            if old is None:
                retriever = open_retriever(self.settings)
            else:  # same model: keep the loaded embedder, load only the new index
                index = load_search_index(self.settings)
                if index.dense.dimension != old.index.dense.dimension:
                    retriever = open_retriever(self.settings)
                else:
                    retriever = Retriever(index, old.embedder, old.config)
            retriever.warm()  # before it serves, while the old generation still does
        except Exception as exc:
            self._seen = signature  # retried when CURRENT changes again
            if old is None:
                self.load_error = _describe(exc)
            else:
                self.reload_error = (
                    f"a new index generation could not be loaded, still serving"
                    f" {old.index.version}: {_describe(exc)}"
                )
            return
        self._seen = signature
        self._install(retriever)

    def _install(self, retriever: Retriever) -> None:
        with self.lock:
            self._extras = {retriever.index.version: {}}
            self.retriever, self.load_error, self.reload_error = retriever, None, None
        self.metrics.set_index(
            retriever.index.version, len(retriever.index.documents), len(retriever.index.chunks)
        )


class Observe:
    """Pure ASGI middleware: checks for a newly published index and records each request's
    route, status and duration for /metrics (cheaper per request than an ``http`` middleware
    function, which wraps every request and response in extra tasks and streams)."""

    def __init__(self, app: ASGIApp, state: AppState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.state.maybe_reload()
        try:
            await self.app(scope, receive, observed_send)
        finally:
            route = scope.get("route")  # set by the router on this same scope
            path = getattr(route, "path", "unmatched")
            self.state.metrics.observe(scope["method"], path, status, time.perf_counter() - start)


def _describe(exc: Exception) -> str:
    if isinstance(exc, IndexStoreError | ModelError | OSError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


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
        description=_DESCRIPTION.format(body=app_state.settings.max_body_bytes, **LIMITS.__dict__),
        openapi_tags=TAGS,
        docs_url=None,  # served below with the packaged assets instead of a CDN's
        redoc_url=None,
        lifespan=lifespan,
        telemetry=None if app_state.settings.otel else _NO_TELEMETRY,
    )
    app.state.qa = app_state
    app.add_middleware(BodySizeLimit, max_bytes=app_state.settings.max_body_bytes)

    # Outermost: counts every response, the 413s and 504s included.
    app.add_middleware(Observe, state=app_state)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(NotReady)
    async def not_ready(request: Request, exc: NotReady) -> JSONResponse:
        return JSONResponse({"detail": f"index not ready: {exc}"}, status_code=503)

    @app.exception_handler(TimedOut)
    async def timed_out(request: Request, exc: TimedOut) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=504)

    @app.exception_handler(TooBusy)
    async def too_busy(request: Request, exc: TooBusy) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": "1"})

    @app.exception_handler(ValueError)
    async def bad_value(request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # One readable line per problem, naming the field and the limit; 400 for a body
        # that is not JSON at all.
        status, detail = describe_validation_errors(exc.errors())
        return JSONResponse({"detail": detail}, status_code=status)

    from .routes import router

    app.include_router(router)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index_page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    _add_docs(app)
    return app


def _add_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc with their scripts, styles and icon served from here."""
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    icon = "/docs-assets/favicon.png"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API docs",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url=icon,
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API reference",
            redoc_js_url="/docs-assets/redoc.standalone.js",
            redoc_favicon_url=icon,
            with_google_fonts=False,
        )


_DESCRIPTION = """\
Every answer is a passage of a report with its section path and exact character span.
Interactive docs at `/docs` (Swagger UI) and `/redoc`, served by this app (no network needed).

**Limits** (the same in the `qa` CLI; over one is a 422 whose `detail` names it, nothing is
ever cut): question or chat message {question_chars:,} characters; {messages} messages per
conversation; quote {quote_chars:,} characters; `top_k` 1-{top_k}; `per_force` 1-{per_force};
{filter_values} values per filter list ({doc_ids} doc_ids), each at most
{filter_value_chars} characters; years {year_min}-{year_max}; request body {body:,} bytes
(413). Blank text is refused everywhere.

**Filters and the question**: a force named in the question wins over a forces filter that
does not include it; the filter is set aside and the response's `notes` says so. Filter values
the corpus lacks (a force with no report, an unknown doc_id or report type, years with no
report) are not errors; `notes` says so. A `year_from` after `year_to` is read in order.

**Errors**: every 4xx/5xx body is `{{"detail": "one line"}}`: 400 not JSON, 404 no such id,
413 body too large, 422 invalid input, 429 too many waiting (Retry-After), 503 index not
loaded, 504 took too long.
"""
