"""The report view shows a report as a reader sees it: no page furniture, no markup, tables as
tables, footnote markers as [N], and a passage's footnotes with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qa_service.ingest.textnorm import matches_span

from .conftest import INSTALL

expect = pytest.importorskip(
    "playwright.sync_api",
    reason=f"browser tests need the playwright package: {INSTALL}",
    exc_type=ImportError,
).expect

FURNITURE = ("Print this document", "Back to publication")


def _doc(page: Any, prefix: str) -> dict[str, Any]:
    docs = page.request.get("/v1/documents").json()
    return next(d for d in docs if d["doc_id"].startswith(prefix))


def test_web_report_has_no_furniture(page: Any, screenshots: Path) -> None:
    kent = _doc(page, "kent")
    page.goto(f"/#doc={kent['doc_id']}")
    text = page.locator("#report-text")
    text.locator("p").first.wait_for()
    shown = text.inner_text()
    for line in FURNITURE:
        assert line not in shown
    assert not any(line.strip() == "Contents" for line in shown.splitlines())
    assert "Introduction" in shown
    page.screenshot(path=str(screenshots / "10-report-no-furniture.png"))


def test_markdown_report_tables_and_footnotes(page: Any, screenshots: Path) -> None:
    lancs = _doc(page, "lancashire")
    page.goto(f"/#doc={lancs['doc_id']}")
    text = page.locator("#report-text")
    text.locator("table").first.wait_for()
    shown = text.inner_text()
    assert "<sup>" not in shown and "**" not in shown
    assert "Children Act 1989[21]" in shown  # the marker, never glued: not "198921"
    assert "198921" not in shown
    table = text.locator("table", has_text="Figure 8")
    assert table.locator("tr").count() >= 2
    assert "place of safety" in table.locator("caption").inner_text()
    page.screenshot(path=str(screenshots / "11-report-table.png"))


def test_cited_table_is_highlighted_exactly(page: Any) -> None:
    hit = page.request.post(
        "/v1/search", data={"question": "section 46 place of safety cases graded", "top_k": 10}
    ).json()
    table = next(p for p in hit["results"] if p["type"] == "table")
    assert [f["marker"] for f in table["footnotes"]] == ["21"]
    page.goto(f"/#doc={table['doc_id']}&start={table['char_start']}&end={table['char_end']}")
    mark = page.locator("#report-text mark#cited")
    mark.wait_for()
    canonical = page.request.get(f"/v1/documents/{table['doc_id']}/text").text()
    assert matches_span(canonical, table["char_start"], table["char_end"], mark.text_content())
    assert mark.locator("table").count() == 1
