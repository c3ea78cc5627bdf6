"""Quote lookup in the page: exact, near and none. A quote copied from the PDF (page number,
line-end hyphen, straight apostrophe) is found exactly; a changed word makes a near match
shown on both sides with the differing words struck through in the quote and underlined in
the report, each with a spoken label; a sentence no report holds lists the closest passages
as not matches, with how close they come. Screenshotted (quote-*.png) and checked with
axe-core (WCAG 2.2 AA)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import INSTALL
from .conftest import axe_violations as _axe_violations
from .conftest import describe_violations as _describe

expect = pytest.importorskip(
    "playwright.sync_api",
    reason=f"browser tests need the playwright package: {INSTALL}",
    exc_type=ImportError,
).expect

SENTENCE = (
    "Investigators feel their workloads are too high and they don’t have enough time to"
    " commit to their enquiries."
)
# as copied from the PDF: a hyphen at a line end, a page number line, straight apostrophes
PASTED = (
    "Investigators feel their work-\nloads are too high and they don't have\nPage 12\n"
    "enough time to commit to their enquiries."
)
NEAR = PASTED.replace("too high", "very high").replace("enough time", "enough spare time")
INVENTED = "The force has introduced a drone unit to search for missing teenagers at night."


def _lookup(page: Any, quote: str) -> dict[str, Any]:
    """Paste ``quote`` into the quote box and return the reply the page rendered."""
    page.goto("/#cite")
    page.fill("#quote", quote)
    with page.expect_response(re.compile(r"/v1/cite$")) as sent:
        page.click("#cite-form button[type=submit]")
    page.locator("#cite-results .cite-status").wait_for()
    return dict(sent.value.json())


def test_pasted_pdf_text_is_an_exact_match(page: Any) -> None:
    reply = _lookup(page, PASTED)
    assert reply["status"] == "exact"
    status = page.locator("#cite-results .cite-status")
    assert status.inner_text().startswith("Exact match")
    match = page.locator("#cite-results .cite-match").first
    assert match.locator("mark").text_content() == SENTENCE
    assert match.locator(".quote-diff").count() == 0


@pytest.mark.parametrize("size", ["page", "phone"])
def test_near_quote_shows_its_diff(
    request: pytest.FixtureRequest, screenshots: Path, size: str
) -> None:
    page = request.getfixturevalue(size)  # desktop (1280x900) or phone (390x844) width
    reply = _lookup(page, NEAR)
    assert reply["status"] == "near"
    best = reply["matches"][0]
    assert best["text"] == SENTENCE
    status = page.locator("#cite-results .cite-status")
    assert status.get_attribute("data-status") == "near"
    assert status.inner_text().startswith("Near match")
    match = page.locator("#cite-results .cite-match").first
    assert match.get_attribute("data-status") == "near"
    assert "similarity" in match.locator(".meta").inner_text()
    diff = match.locator(".quote-diff")
    # both sides in full, the changed words marked and labelled in words, not colour alone
    quote_side, report_side = diff.locator(".diff-quote"), diff.locator(".diff-report")
    assert quote_side.text_content().startswith("Investigators feel their work-")
    dels = quote_side.locator("del")
    assert dels.count() == 2
    assert [
        t.removeprefix("[your quote has: ").removesuffix("]") for t in dels.all_text_contents()
    ] == [
        "very",
        "spare",
    ]
    assert dels.first.locator(".visually-hidden").first.text_content() == "[your quote has: "
    ins = report_side.locator("ins")
    assert [
        t.removeprefix("[the report has: ").removesuffix("]") for t in ins.all_text_contents()
    ] == ["too"]
    # "spare" has no counterpart in the report: a caret, announced as "nothing here"
    gap = report_side.locator(".diff-gap")
    assert gap.count() == 1 and "nothing here" in gap.text_content()
    assert "struck through" in diff.locator(".diff-key").inner_text()
    decoration = dels.first.evaluate("n => getComputedStyle(n).textDecorationLine")
    assert "line-through" in decoration
    match.scroll_into_view_if_needed()
    suffix = "-phone" if size == "phone" else ""
    page.screenshot(path=str(screenshots / f"quote-near-diff{suffix}.png"), full_page=True)
    violations = _axe_violations(page)
    assert violations == [], _describe(violations)


def test_no_match_lists_the_closest_passages(page: Any, screenshots: Path) -> None:
    reply = _lookup(page, INVENTED)
    assert reply["status"] == "not_found" and reply["matches"]
    status = page.locator("#cite-results .cite-status")
    assert status.inner_text().startswith("Not found")
    title = page.locator("#cite-results .closest-title")
    assert "not matches" in title.inner_text()
    cards = page.locator("#cite-results .cite-match")
    assert cards.count() == len(reply["matches"])
    for i, m in enumerate(reply["matches"]):
        card = cards.nth(i)
        assert card.get_attribute("data-status") == "closest"
        meta = card.locator(".meta").inner_text()
        assert meta.count("not a match") == 1 and f"{m['similarity']:.2f}" in meta
        # the closest words marked in their paragraph, for context
        assert card.locator("blockquote mark").text_content() == m["text"]
    page.screenshot(path=str(screenshots / "quote-none-closest.png"), full_page=True)
    violations = _axe_violations(page)
    assert violations == [], _describe(violations)
