"""Browser tests: the real app (real index and model) served by uvicorn on a free port, driven
by Playwright through Debian's chromium. Skipped with a reason when either is missing
(`bash scripts/install-browser.sh` installs both)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
INSTALL = "run `bash scripts/install-browser.sh`"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now."""
    axe = pytest.importorskip(
        "axe_playwright_python",
        reason="the accessibility check needs axe-core (pip install axe-playwright-python)",
        exc_type=ImportError,
    )
    page.add_script_tag(path=str(Path(axe.__file__).parent / "axe.min.js"))
    options = {"runOnly": {"type": "tag", "values": WCAG_22_AA}}
    return list(page.evaluate("async (o) => (await axe.run(document, o)).violations", options))


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One line per axe violation: rule, impact and the elements."""
    return "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in violations
    )


@pytest.fixture(scope="session")
def live_server(built_index: Path, retriever: Any) -> Iterator[str]:
    """The real app on 127.0.0.1, sharing the session's loaded retriever."""
    import uvicorn

    from qa_service.api import create_app
    from qa_service.api.state import AppState
    from qa_service.settings import Settings

    state = AppState(Settings(index_dir=built_index))
    state.retriever = retriever
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(state=state), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright; skipped when either is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need chromium at {CHROMIUM}: {INSTALL}")
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason=f"browser tests need the playwright package: {INSTALL}",
        exc_type=ImportError,
    )
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _new_page(browser: Any, live_server: str, width: int, height: int) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server, viewport={"width": width, "height": height}, reduced_motion="reduce"
    )
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A desktop-sized page on the live app."""
    yield from _new_page(browser, live_server, 1280, 900)


@pytest.fixture
def phone(browser: Any, live_server: str) -> Iterator[Any]:
    """A phone-sized page (390x844, a common phone's CSS viewport) on the live app."""
    yield from _new_page(browser, live_server, 390, 844)
