"""What the app and its routes share: the tags that group the operations, the domain errors
the app maps to statuses (404, 503, 504, 429), and ``AppState``: the settings, the loaded
retriever and its hot reload, the worker threads that run the routes' work, and the metrics.
The app factory (``app.py``) and the routes (``routes/``) both import it; it imports neither."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..answer.retriever import Retriever
from ..answer.service import open_retriever
from ..index.current import is_published, load_search_index, published_signature
from ..index.embedding import ModelError
from ..index.store import IndexStoreError
from ..settings import Settings
from .metrics import Metrics

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


def _describe(exc: Exception) -> str:
    if isinstance(exc, IndexStoreError | ModelError | OSError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
