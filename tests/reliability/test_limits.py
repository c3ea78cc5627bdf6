"""Request limits: body size (413 before the body is read) and per-request time (504)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.api.limits import BodySizeLimit
from qa_service.api.state import AppState
from qa_service.settings import Settings


def test_body_over_limit_by_content_length(api: TestClient) -> None:
    body = b'{"question": "' + b"x" * (64 * 1024) + b'"}'
    r = api.post("/v1/search", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "65536 bytes" in r.json()["detail"]


def test_streamed_body_is_cut_off() -> None:
    """A chunked body without Content-Length: reading stops once the limit is passed."""
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append("app")

    received = [0]

    async def receive() -> dict[str, Any]:
        received[0] += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": received[0] < 1000}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/search", "headers": []}
    # In a thread of its own: another test's event loop (Playwright's) may run in this one.
    worker = threading.Thread(
        target=lambda: asyncio.run(BodySizeLimit(app, max_bytes=64 * 1024)(scope, receive, send))
    )
    worker.start()
    worker.join(30)
    assert reached == [] and received[0] == 65  # 65 KiB read of the 1000 KiB sent
    assert sent[0]["status"] == 413 and b"65536 bytes" in sent[1]["body"]


def test_body_under_limit_still_works(api: TestClient) -> None:
    r = api.post("/v1/cite", json={"quote": "children in custody " * 200})
    assert r.status_code in (200, 422)  # over MAX_QUOTE chars is the schema's 422
    r = api.post("/v1/search", json={"question": "custody " * 100})
    assert r.status_code == 200


def test_body_limit_is_a_setting(built_index: Path, retriever: Any) -> None:
    state = AppState(Settings(index_dir=built_index, max_body_bytes=2048))
    state.retriever = retriever
    with TestClient(create_app(state=state)) as c:
        assert c.post("/v1/search", json={"question": "x" * 900}).status_code == 200
        r = c.post("/v1/chat", json={"messages": [{"role": "user", "content": "y" * 3000}]})
        assert r.status_code == 413 and "2048" in r.json()["detail"]
        assert c.get("/v1/documents").status_code == 200


class _Slow:
    """A retriever that takes longer than the app's timeout."""

    def __init__(self, inner: Any, seconds: float) -> None:
        self.index = inner.index
        self._inner = inner
        self._seconds = seconds

    def search(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self._seconds)
        return self._inner.search(*args, **kwargs)


def test_slow_search_times_out(built_index: Path, retriever: Any) -> None:
    state = AppState(Settings(index_dir=built_index, request_timeout_s=0.3))
    state.retriever = _Slow(retriever, 1.5)  # type: ignore[assignment]
    with TestClient(create_app(state=state)) as c:
        t0 = time.perf_counter()
        r = c.post("/v1/search", json={"question": "custody"})
        elapsed = time.perf_counter() - t0
        assert r.status_code == 504 and "0.3 s" in r.json()["detail"]
        assert elapsed < 1.2  # answered at the deadline, not when the work finished
        assert c.get("/v1/documents").status_code == 200  # other routes unaffected
        time.sleep(1.5)  # the abandoned search finishes quietly
        assert c.get("/healthz").status_code == 200
        assert 'status="504"' in c.get("/metrics").text
