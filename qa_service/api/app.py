"""The FastAPI app factory: loads the index once (lifespan), maps domain errors to statuses,
counts requests for /metrics, and serves the web page at /."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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

from ..index.store import IndexStoreError
from ..settings import LIMITS, Settings
from .errors import describe_validation_errors
from .limits import BodySizeLimit
from .routes import ROUTERS
from .state import TAGS, AppState, NotFound, NotReady, TimedOut, TooBusy

STATIC = Path(__file__).with_name("static")
# Swagger UI and ReDoc, served from the fastapi-offline package: /docs and /redoc need no network.
DOCS_ASSETS = Path(
    getattr(importlib.util.find_spec("fastapi_offline"), "origin", "") or ""
).with_name("static")


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

    @app.exception_handler(IndexStoreError)
    async def damaged(request: Request, exc: IndexStoreError) -> JSONResponse:
        # A report's record or text is checked when first read (index/document_store.py):
        # one found damaged then refuses the request rather than answer from it.
        return JSONResponse({"detail": f"index damaged: {exc}"}, status_code=503)

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

    for router in ROUTERS:
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
