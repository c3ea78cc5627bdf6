"""Answer first, at desktop (1280x900) and phone (390x844) width: after asking, the answer's
state and lead sentence are on screen with the question box, the passages come below the
answer cut to the part that answers ("Show whole passage" gives the rest), a follow-up asked
from the bottom of a long page is brought into view, and a citation number opens the report at
the cited span. The force comparison gives each corpus force a state and a prose answer
sentence. Screenshots go to test-artifacts/screenshots/, or to docs/ (the README's pictures)
with ``QA_DOCS_SCREENSHOTS=1``, so a test run leaves the committed pictures alone; every view
has 0 axe-core violations (WCAG 2.2 AA)."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from qa_service.ingest.textnorm import collapse_ws

from .conftest import INSTALL, ROOT, SCREENSHOTS
from .conftest import axe_violations as _axe_violations
from .conftest import describe_violations as _describe
from .test_web import (
    ANSWERED,
    _ask,
    _chat,
    _check_report_highlight,
    _hash,
    _no_horizontal_scroll,
)

expect = pytest.importorskip(
    "playwright.sync_api",
    reason=f"browser tests need the playwright package: {INSTALL}",
    exc_type=ImportError,
).expect

# Where the pictures go: the README's (docs/) only when asked, else beside the other tests'.
DOCS = ROOT / "docs" if os.environ.get("QA_DOCS_SCREENSHOTS") == "1" else SCREENSHOTS
DOCS.mkdir(parents=True, exist_ok=True)
SIZES = {"desktop": "page", "phone": "phone"}  # fixture of each width
SUFFIX = {"desktop": "", "phone": "-phone"}
COMPARE_Q = "how do forces handle missing children?"


def _no_violations(page: Any) -> None:
    violations = _axe_violations(page)
    assert violations == [], _describe(violations)


def _box(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None, "not rendered"
    return dict(box)


def _check_in_view(page: Any, turn: Any) -> None:
    """The turn's state and lead sentence, and the question box, are in the viewport, the
    lead not hidden under the (sticky) question box."""
    height = page.viewport_size["height"]
    question = _box(page.locator("#question"))
    assert question["y"] >= 0 and question["y"] + question["height"] <= height, question
    form_bottom = _box(page.locator("#ask-form"))
    form_bottom_y = form_bottom["y"] + form_bottom["height"]
    state = _box(turn.locator(".state-label"))
    assert form_bottom_y <= state["y"] and state["y"] + state["height"] <= height, state
    lead = _box(turn.locator(".answer .lead, .not-answerable .message").first)
    assert form_bottom_y <= lead["y"] < height, lead
    if lead["y"] + lead["height"] > height:
        # a lead too long for the screen: the turn is scrolled up to just under the question
        # box, so as much of the lead as the screen holds is shown
        top = _box(turn)["y"]
        assert form_bottom_y <= top <= form_bottom_y + 16, (top, form_bottom_y, lead)


def _answered_with_a_long_passage(page: Any) -> str:
    """The first of ANSWERED that the API answers now citing a passage long enough for the
    page to cut (MIN_CUT in app.js hides at least 200 characters around the answer)."""
    seen = []
    for question in ANSWERED:
        reply = _chat(page, question)
        lengths = [len(c["text"]) for c in reply["citations"]]
        if reply["state"] == "answered" and max(lengths, default=0) >= 800:
            return question
        seen.append(f"{question!r}: {reply['state']}, passages of {lengths} characters")
    pytest.fail("no candidate question is answered with a long passage; got " + "; ".join(seen))


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_answer_first(request: pytest.FixtureRequest, size: str) -> None:
    page = request.getfixturevalue(SIZES[size])
    question = _answered_with_a_long_passage(page)
    page.goto("/")
    with page.expect_response(re.compile(r"/v1/chat$")) as sent:
        turn = _ask(page, question)
    reply = sent.value.json()
    assert reply["state"] == "answered"
    _check_in_view(page, turn)
    assert _no_horizontal_scroll(page)
    # the answer comes first in its turn: state, lead sentence, then the passages below it
    answer = _box(turn.locator(".answer"))
    assert turn.locator(".answer .lead").inner_text().strip() == reply["sentences"][0]["text"]
    cards = turn.locator(".citations .passage")
    assert cards.count() == len(reply["citations"]) >= 1
    for i in range(cards.count()):
        assert _box(cards.nth(i))["y"] >= answer["y"] + answer["height"]
    page.screenshot(path=str(DOCS / f"screenshot-answer-first{SUFFIX[size]}.png"))
    _no_violations(page)

    # each passage is cut to the part that answers, the rest one click away
    cut = turn.locator(".citations .passage:has(button.show-whole)")
    assert cut.count() >= 1, "no cited passage was long enough to cut"
    card = cut.first
    marker = int(card.locator(".num").inner_text().strip(" []"))
    cited = next(c for c in reply["citations"] if c["marker"] == marker)
    quote = card.locator("blockquote")
    shown = collapse_ws(quote.inner_text()).strip("… ")
    assert len(shown) < len(collapse_ws(cited["text"]))
    assert shown in collapse_ws(cited["text"])
    start, end = cited["highlights"][0]
    assert quote.locator("mark").first.text_content() == cited["text"][start:end]
    button = card.locator("button.show-whole")
    expect(button).to_have_attribute("aria-expanded", "false")
    assert button.get_attribute("aria-controls") == quote.get_attribute("id")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    assert collapse_ws(quote.text_content()) == collapse_ws(cited["text"])
    _no_violations(page)
    button.click()
    expect(button).to_have_attribute("aria-expanded", "false")
    assert collapse_ws(quote.inner_text()).strip("… ") == shown

    # a follow-up asked from the bottom of the page: the question box is still in reach
    # (sticky) and the new answer is brought into view, above the earlier one
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    follow = _ask(page, "and in Kent?" if "Kent" not in question else "and in Lancashire?")
    assert page.locator("#log > .turn").first.get_attribute("id") == follow.get_attribute("id")
    if follow.locator(".answer").count():
        _check_in_view(page, follow)
    else:
        expect(follow.locator(".not-answerable")).to_be_in_viewport()
        expect(page.locator("#question")).to_be_in_viewport()
    page.screenshot(path=str(DOCS / f"screenshot-follow-up{SUFFIX[size]}.png"))
    _no_violations(page)

    # a citation number opens the report at the cited span
    first = page.locator(f"#{turn.get_attribute('id')} .answer a.marker").first
    sentence = reply["sentences"][0]
    cited = next(c for c in reply["citations"] if c["marker"] == sentence["citation"])
    first.click()
    _check_report_highlight(page, cited["text"])
    assert _hash(page) == {
        "doc": cited["doc_id"],
        "start": str(cited["char_start"]),
        "end": str(cited["char_end"]),
    }
    expect(page.locator("#report-title")).to_have_text(cited["title"])
    assert _no_horizontal_scroll(page)
    page.screenshot(path=str(DOCS / f"screenshot-citation-report{SUFFIX[size]}.png"))
    _no_violations(page)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_compare_gives_every_force_a_prose_answer(
    request: pytest.FixtureRequest, size: str
) -> None:
    page = request.getfixturevalue(SIZES[size])
    forces = sorted({d["force"] for d in page.request.get("/v1/documents").json()})
    page.goto("/#compare")
    page.fill("#compare-question", COMPARE_Q)
    with page.expect_response(re.compile(r"/v1/compare$")) as sent:
        page.press("#compare-question", "Enter")
    data = sent.value.json()
    columns = page.locator("#compare-results li.force-col")
    expect(columns).to_have_count(len(forces))
    assert sorted(columns.locator(".force-name").all_inner_texts()) == forces
    labels = {"answered": "Answered", "partial": "Partly answered"}
    cited = 0
    for f in data["forces"]:
        col = page.locator(f"#compare-results li.force-col[data-force='{f['force']}']")
        label = col.locator(".state-label").inner_text()
        if f["status"] != "cited":
            assert label in ("No relevant passage", "Not in the corpus")
            assert col.locator(".passage").count() == 0
            continue
        cited += 1
        assert label == labels[f["state"]]
        # the force's answer: a prose sentence, its number opening the passage in the report
        assert f["sentence"] and "\t" not in f["sentence"]
        lead = col.locator(".force-answer .lead")
        assert collapse_ws(lead.inner_text()) == f["sentence"]
        passage = f["passages"][0]
        assert passage["type"] != "table"
        start, end = passage["highlights"][0]
        assert collapse_ws(passage["text"][start:end]) == f["sentence"]
        card = col.locator(".passage").first
        assert collapse_ws(card.locator("mark").first.text_content()) == f["sentence"]
        href = card.locator("a.open-report").get_attribute("href")
        assert col.locator(".force-answer a.marker").get_attribute("href") == href
        # the passage comes below the answer sentence
        assert _box(card)["y"] >= _box(lead)["y"] + _box(lead)["height"]
    assert cited >= 2
    assert _no_horizontal_scroll(page)
    positions = {
        round(_box(columns.nth(i))["y" if size == "desktop" else "x"])
        for i in range(columns.count())
    }
    assert len(positions) == 1  # side by side on a desktop, one force per row on a phone
    page.screenshot(path=str(DOCS / f"screenshot-compare{SUFFIX[size]}.png"), full_page=True)
    _no_violations(page)
    # from a force's answer, one click to the report
    first = next(f for f in data["forces"] if f["status"] == "cited")
    page.locator(f"li.force-col[data-force='{first['force']}'] .force-answer a.marker").click()
    _check_report_highlight(page, first["passages"][0]["text"])
    expect(page.locator("#report-back")).to_have_text("← Back to compare forces")
