"""The recommendation tracker view and a progress answer in the page: every recommendation with
its verdict and both passages, filters that change the link, a CSV download, and "has Kent
improved since the inspection?" answered with the review's cited sentences. Each is
screenshotted (tracker-*.png, progress-answer.png) and checked with axe-core (WCAG 2.2 AA)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from .conftest import INSTALL
from .conftest import axe_violations as _axe_violations
from .conftest import describe_violations as _describe
from .test_web import _ask, _no_horizontal_scroll

expect = pytest.importorskip(
    "playwright.sync_api",
    reason=f"browser tests need the playwright package: {INSTALL}",
    exc_type=ImportError,
).expect


def test_tracker_lists_every_recommendation(page: Any, screenshots: Path) -> None:
    page.goto("/")
    page.get_by_role("link", name="Recommendations").click()
    expect(page.locator("#tracker-counts")).to_have_text(
        "33 recommendations: 7 met, 14 partly met, 2 not met, 10 not reviewed."
    )
    assert page.locator("#tracker-results article.rec").count() == 33
    assert page.locator("#tracker-results h2").count() == 4
    page.screenshot(path=str(screenshots / "tracker-all.png"), full_page=False)
    violations = _axe_violations(page)
    assert violations == [], _describe(violations)


def test_tracker_filters_are_linkable_and_download_csv(page: Any, screenshots: Path) -> None:
    page.goto("/#tracker&force=Kent")
    expect(page.locator("#tracker-counts")).to_have_text("7 recommendations: 7 partly met.")
    assert page.locator("#t-force").input_value() == "Kent Police"
    card = page.locator("article.rec").first
    assert "Review finding" in card.inner_text() and "Deciding words" in card.inner_text()
    page.select_option("#t-force", "")
    page.select_option("#t-area", "police detention")
    page.select_option("#t-verdict", "not met")
    expect(page.locator("#tracker-counts")).to_have_text("1 recommendation: 1 not met.")
    assert page.evaluate("location.hash") == "#tracker&area=police%20detention&verdict=not%20met"
    assert "Leicestershire Police" in page.locator("#tracker-results h2").inner_text()
    page.screenshot(path=str(screenshots / "tracker-filtered.png"), full_page=True)
    href = page.locator("#tracker-csv").get_attribute("href")
    rows = list(csv.DictReader(io.StringIO(page.request.get(href).text())))
    assert [(r["force"], r["verdict"]) for r in rows] == [("Leicestershire Police", "not met")]
    with page.expect_download() as download:
        page.locator("#tracker-csv").click()
    assert download.value.suggested_filename.endswith(".csv")
    # the cited review passage opens in the report view
    page.locator("article.rec a.open-report", has_text="Open in the review").first.click()
    # the hash change renders the report asynchronously: wait for the highlight itself
    expect(page.locator("#report-text mark#cited")).to_be_visible()
    expect(page.locator("#report-title")).to_contain_text("Leicestershire")
    page.goto("/#tracker&force=lancs")
    expect(page.locator("#tracker-counts")).to_have_text("10 recommendations: 10 not reviewed.")
    assert (
        "no post-inspection review of Lancashire" in page.locator("article.rec").first.inner_text()
    )
    violations = _axe_violations(page)
    assert violations == [], _describe(violations)


@pytest.mark.parametrize("size", ["page", "phone"])
def test_progress_question_answered_with_cited_review(
    request: pytest.FixtureRequest, screenshots: Path, size: str
) -> None:
    page = request.getfixturevalue(size)  # desktop (1280x900) or phone (390x844) width
    page.goto("/")
    turn = _ask(page, "Has Kent improved since the inspection?")
    reply = turn.locator(".reply")
    expect(reply.locator(".state-label")).to_have_text("Answered from the reports")
    assert "7 partly met" in reply.locator(".verdict-summary").inner_text()
    assert reply.locator(".answer a.marker").count() >= 6
    assert reply.locator(".citations .passage").count() == 6
    turn = _ask(page, "what did the review find about custody in Lincs?")
    expect(turn.locator(".verdict-summary")).to_contain_text("1 partly met")
    assert turn.locator(".citations .passage").count() == 2
    turn.scroll_into_view_if_needed()
    assert _no_horizontal_scroll(page)
    suffix = "-phone" if size == "phone" else ""
    page.screenshot(path=str(screenshots / f"progress-answer{suffix}.png"), full_page=False)
    violations = _axe_violations(page)
    assert violations == [], _describe(violations)


def test_tracker_at_phone_width(phone: Any, screenshots: Path) -> None:
    phone.goto("/#tracker&force=Lincolnshire&verdict=not%20met")
    expect(phone.locator("#tracker-counts")).to_have_text("1 recommendation: 1 not met.")
    assert _no_horizontal_scroll(phone)
    phone.screenshot(path=str(screenshots / "tracker-phone.png"), full_page=False)
    violations = _axe_violations(phone)
    assert violations == [], _describe(violations)
