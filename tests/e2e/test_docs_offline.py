"""/docs (Swagger UI) and /redoc render with every request outside the app blocked: their
scripts, styles and icon come from the app itself (the fastapi-offline package), so they work
on a machine with no network. Screenshots: docs-offline.png, redoc-offline.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

OPERATIONS = 12  # every operation in /openapi.json
# The one outside URL in ReDoc's bundle: the "API docs by Redocly" logo in the sidebar, an
# image ReDoc removes when it fails to load. Nothing else may even be tried.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def _cut_network(page: Any, live_server: str) -> list[str]:
    """Abort every request that does not go to the app; return the list of those tried."""
    outside: list[str] = []

    def handle(route: Any) -> None:
        url = route.request.url
        if url.startswith(live_server) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort("internetdisconnected")

    page.context.route("**/*", handle)
    return outside


def test_swagger_ui_renders_offline(page: Any, live_server: str, screenshots: Path) -> None:
    outside = _cut_network(page, live_server)
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "ncpi-qa" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_function(
        f"document.querySelectorAll('.opblock').length >= {OPERATIONS}", timeout=30_000
    )
    tags = page.locator(".opblock-tag").all_inner_texts()
    assert any("staff" in t for t in tags) and any("inspectors" in t for t in tags)
    # a request body example is shown for search
    page.locator("#operations-staff-search_v1_search_post").click()
    page.wait_for_selector("#operations-staff-search_v1_search_post .body-param__example")
    page.screenshot(path=str(screenshots / "docs-offline.png"), full_page=False)
    assert outside == [], f"requests outside the app: {outside}"


def test_redoc_renders_offline(page: Any, live_server: str, screenshots: Path) -> None:
    outside = _cut_network(page, live_server)
    page.goto("/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "ncpi-qa" in page.inner_text("h1")
    page.wait_for_function(
        f"document.querySelectorAll('[data-section-id^=\"operation/\"]').length >= {OPERATIONS}",
        timeout=30_000,
    )
    assert "question_chars" in page.content() or "2,000 characters" in page.content()
    page.screenshot(path=str(screenshots / "redoc-offline.png"), full_page=False)
    assert set(outside) <= {REDOC_LOGO}, f"requests outside the app: {outside}"
    assert page.locator("img[alt='redocly logo']").count() == 0  # the failed logo is removed
