"""The HTTP worker threads (``AppState.run``): the deadline, dropped queued work, and the
serve-time logging settings."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qa_service.api import state as api_state
from qa_service.api.state import AppState, TimedOut
from qa_service.cli import cli
from qa_service.settings import Settings


def test_run_returns_and_raises_from_the_worker(tmp_path: Path) -> None:
    state = AppState(Settings(index_dir=tmp_path))

    async def go() -> None:
        name = await state.run(lambda: threading.current_thread().name)
        assert name.startswith("qa-http")
        with pytest.raises(ValueError, match="bad"):
            await state.run(_raise, "bad")

    asyncio.run(go())


def _raise(message: str) -> None:
    raise ValueError(message)


def test_deadline_drops_queued_work_and_leaves_running_work_alone(tmp_path: Path) -> None:
    state = AppState(Settings(index_dir=tmp_path, request_timeout_s=0.2))
    release = threading.Event()
    started: list[int] = []
    finished: list[int] = []

    def slow(n: int) -> int:
        started.append(n)
        release.wait(5)
        finished.append(n)
        return n

    async def go() -> list[Any]:
        jobs = [state.run(slow, n) for n in range(api_state.HTTP_WORKERS + 2)]
        t0 = time.perf_counter()
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        assert time.perf_counter() - t0 < 2.0  # answered at the deadline
        return outcomes

    outcomes = asyncio.run(go())
    assert all(isinstance(o, TimedOut) and "0.2 s" in str(o) for o in outcomes)
    release.set()
    deadline = time.monotonic() + 5
    while len(finished) < api_state.HTTP_WORKERS and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    # Every thread's job ran to its end; the two that were still queued never started.
    assert sorted(finished) == sorted(started) and len(started) == api_state.HTTP_WORKERS


@pytest.mark.parametrize(("env", "expected"), [({}, False), ({"QA_ACCESS_LOG": "1"}, True)])
def test_serve_access_log_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], expected: bool
) -> None:
    seen: dict[str, Any] = {}
    from qa_service.api import server

    def run(self: server.Server) -> None:  # instead of serving: what uvicorn was given
        seen.update(access_log=self.config.access_log, host=self.config.host)
        self.started = self.drained = True

    monkeypatch.setattr(server.Server, "run", run)
    res = CliRunner().invoke(cli, ["serve", "--index", str(tmp_path)], env=env)
    assert res.exit_code == 0, res.output
    assert seen["access_log"] is expected and seen["host"] == "127.0.0.1"
