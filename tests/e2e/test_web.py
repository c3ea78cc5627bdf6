"""The web page in a real browser (Debian's chromium via Playwright) against the real app.

Screenshots of each state are saved to test-artifacts/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from qa_service.ingest.textnorm import collapse_ws, matches_span

from .conftest import INSTALL, ROOT

expect = pytest.importorskip(
    "playwright.sync_api",
    reason=f"browser tests need the playwright package: {INSTALL}",
    exc_type=ImportError,
).expect

KENT_Q = "Does Kent still hold under-18s at the station after charge?"
KENT_QUOTE = "Leaders recognise the harm caused by domestic abuse."


# Questions an answer is wanted for, tried in order: the first the API answers now is used
# (the answering models are refitted from time to time).
ANSWERED = [
    KENT_Q,
    "How quickly do appropriate adults arrive for children in Lancashire custody?",
    "Are Lincolnshire officers recording the voice of the child?",
    "How many children were detained overnight in Kent custody?",
]


def _ask(page: Any, question: str) -> Any:
    """Type a question, press Enter and wait for that turn's reply; returns the turn (the
    newest turn comes first in the conversation)."""
    turns = page.locator("#log > .turn")
    n = turns.count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    expect(turns).to_have_count(n + 1)
    turn = page.locator(f"#{turns.first.get_attribute('id')}")
    turn.locator(".reply, .error-inline").first.wait_for()
    assert turn.locator(".error-inline").count() == 0, turn.inner_text()
    return turn


def _chat(page: Any, question: str) -> dict[str, Any]:
    reply = page.request.post(
        "/v1/chat", data={"messages": [{"role": "user", "content": question}]}
    )
    assert reply.ok, reply.text()
    return dict(reply.json())


def _answered_question(page: Any) -> str:
    """The first of ANSWERED that the API answers now, with cited passages."""
    seen = []
    for question in ANSWERED:
        reply = _chat(page, question)
        if reply["state"] == "answered" and reply["citations"]:
            return question
        seen.append(f"{question!r}: {reply['state']}")
    pytest.fail("no candidate question is answered now; got " + "; ".join(seen))


def _whole_passages(scope: Any) -> None:
    """Expand every cut passage in ``scope`` ("Show whole passage")."""
    buttons = scope.locator("button.show-whole[aria-expanded='false']")
    for _ in range(buttons.count()):
        buttons.nth(0).click()  # an expanded one leaves the selection


def _forces(page: Any) -> list[str]:
    docs = page.request.get("/v1/documents").json()
    return sorted({d["force"] for d in docs})


def _hash(page: Any) -> dict[str, str]:
    fragment = page.evaluate("location.hash").lstrip("#")
    return {k: v[0] for k, v in parse_qs(fragment).items()}


def _no_horizontal_scroll(page: Any) -> bool:
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            " && document.body.scrollWidth <= document.documentElement.clientWidth"
        )
    )


def _in_viewport(page: Any, locator: Any) -> bool:
    box = locator.bounding_box()
    height = page.viewport_size["height"]
    return box is not None and box["y"] < height and box["y"] + box["height"] > 0


def _check_report_highlight(page: Any, passage_text: str | None = None) -> str:
    """The report view highlights canonical_text[start:end] of the URL; returns that text."""
    mark = page.locator("#report-text mark#cited")
    mark.wait_for()
    assert page.locator("#view-report").is_visible()
    params = _hash(page)
    start, end = int(params["start"]), int(params["end"])
    text = page.request.get(f"/v1/documents/{params['doc']}/text").text()
    highlighted = mark.text_content()
    # the report view shows the text as a reader sees it (markup and furniture left out)
    assert matches_span(text, start, end, highlighted)
    if passage_text is not None:
        assert matches_span(text, start, end, passage_text)
    assert page.locator("#report-text mark").count() == 1
    assert _in_viewport(page, mark)
    assert page.locator("#report-nav a[aria-current='location']").count() == 1
    return highlighted


def test_ask_shows_cited_answer(page: Any, screenshots: Path) -> None:
    question = _answered_question(page)
    page.goto("/")
    turn = _ask(page, question)
    reply = _chat(page, question)
    cards = turn.locator(".citations .passage")
    assert cards.count() == len(reply["citations"]) >= 1
    for i, cited in enumerate(reply["citations"]):
        card = cards.nth(i)
        assert card.locator(".passage-title").inner_text() == f"[{i + 1}] {cited['title']}"
        assert cited["force"] in card.locator(".meta").inner_text()
        assert " › ".join(cited["section"]) in card.locator(".section").inner_text()
        start, end = cited["highlights"][0]
        assert card.locator("mark").first.text_content() == cited["text"][start:end]
    markers = turn.locator(".answer a.marker")
    assert markers.count() == len(reply["sentences"])
    assert collapse_ws(turn.locator(".answer").inner_text()) == collapse_ws(reply["answer"])
    assert turn.locator(".searched").count() == 0  # not rewritten
    assert page.locator("#log").get_attribute("aria-live") == "polite"
    page.locator("#question").focus()
    page.screenshot(path=str(screenshots / "01-chat-answer.png"), full_page=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / "00-readme-chat.png"))  # the README's picture
    # a marker opens its cited passage in the report
    sentence = reply["sentences"][-1]
    cited = next(c for c in reply["citations"] if c["marker"] == sentence["citation"])
    markers.last.click()
    assert _check_report_highlight(page) and _hash(page) == {
        "doc": cited["doc_id"],
        "start": str(cited["char_start"]),
        "end": str(cited["char_end"]),
    }
    expect(page.locator("#cited")).to_be_focused()
    # back in the conversation, focus returns to the marker that was followed
    page.locator("#report-back").click()
    expect(markers.last).to_be_focused()


def test_follow_up_is_rewritten(page: Any, screenshots: Path) -> None:
    page.goto("/")
    _ask(page, KENT_Q)
    turn = _ask(page, "and Leicestershire?")
    searched = turn.locator(".searched").inner_text()
    assert searched == (
        "Searched: Does Leicestershire still hold under-18s at the station after charge?"
    )
    metas = turn.locator(".citations .passage .meta").all_inner_texts()
    assert metas and all("Leicestershire Police" in m for m in metas)
    assert turn.locator(".citations .passage").first.get_attribute("id") == "c-2-1"
    turn.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "02-chat-follow-up.png"), full_page=True)


def test_citation_opens_report_with_highlight(page: Any, screenshots: Path) -> None:
    question = _answered_question(page)
    page.goto("/")
    turn = _ask(page, question)
    card = turn.locator(".citations .passage").first
    _whole_passages(card)
    passage_text = card.locator("blockquote").text_content()
    card.locator("a.open-report").click()
    highlighted = _check_report_highlight(page, passage_text)
    assert collapse_ws(highlighted) == collapse_ws(passage_text)
    expect(page.locator("#cited")).to_be_focused()
    title = _chat(page, question)["citations"][0]["title"]
    assert page.locator("#report-title").inner_text() == title
    page.screenshot(path=str(screenshots / "03-report-highlight.png"))
    # the URL can be reloaded (and shared): same report, same highlight
    url = page.url
    page.reload()
    assert page.url == url
    assert _check_report_highlight(page, passage_text) == highlighted
    # a section of the tree scrolls into view
    page.locator("#report-nav a").nth(2).click()
    expect(page.locator("#sec-2")).to_be_focused()
    assert _hash(page)["sec"] == "2"
    # back to the conversation after a fresh load: the page still works
    page.locator("#report-back").click()
    expect(page.locator("#view-ask")).to_be_visible()
    expect(page.locator("#view-report")).to_be_hidden()


def test_compare_lists_every_force(page: Any, screenshots: Path) -> None:
    forces = _forces(page)
    assert len(forces) == 4
    page.goto("/#compare")
    page.fill("#compare-question", "how do forces handle missing children?")
    page.press("#compare-question", "Enter")
    grid = page.locator("#compare-results .compare-grid")
    grid.wait_for()
    columns = grid.locator("li.force-col")
    assert columns.count() == len(forces)
    assert sorted(columns.locator(".force-name").all_inner_texts()) == forces
    cited = 0
    for i in range(columns.count()):
        col = columns.nth(i)
        if col.locator(".passage").count():
            cited += 1
            assert col.locator(".passage mark").count() >= 1
            assert col.get_attribute("data-force") in col.locator(".meta").first.inner_text()
        else:
            assert "No relevant passage" in col.locator(".no-passage").inner_text()
    assert cited >= 2
    # side by side on a desktop
    tops = {round(columns.nth(i).bounding_box()["y"]) for i in range(columns.count())}
    assert len(tops) == 1
    page.screenshot(path=str(screenshots / "04-compare.png"), full_page=True)


def test_quote_lookup_finds_its_report(page: Any, screenshots: Path) -> None:
    source = (ROOT / "corpus" / "kent-2021-post-inspection-review.txt").read_text("utf-8")
    start = source.index(KENT_QUOTE)
    end = start + len(KENT_QUOTE)
    page.goto("/#cite")
    page.fill("#quote", KENT_QUOTE)
    page.press("#quote", "Enter")  # Enter searches in the quote box
    status = page.locator("#cite-results .cite-status")
    status.wait_for()
    assert status.get_attribute("data-status") == "exact"
    assert status.inner_text().startswith("Exact match")
    match = page.locator("#cite-results .cite-match").first
    assert "Kent" in match.locator(".passage-title").inner_text()
    assert f"characters {start}–{end}" in match.locator(".offsets").inner_text()
    assert match.locator(".section").inner_text().strip() != "Section:"
    assert match.locator("mark").text_content() == KENT_QUOTE
    page.screenshot(path=str(screenshots / "05-cite.png"), full_page=True)
    match.locator("a.open-report").click()
    assert _check_report_highlight(page) == KENT_QUOTE
    assert _hash(page) == {
        "doc": "kent-2021-post-inspection-review",
        "start": str(start),
        "end": str(end),
    }
    page.screenshot(path=str(screenshots / "05-cite-report.png"))
    # a quote that is not in the corpus says so plainly
    page.goto("/#cite")
    page.fill("#quote", "bananas are yellow and taste best in summer")
    page.click("#cite-form button[type=submit]")
    page.locator("#cite-results .cite-status").wait_for()
    assert page.locator("#cite-results .cite-status").get_attribute("data-status") == "not_found"


def test_keyboard_only(page: Any, screenshots: Path) -> None:
    question = _answered_question(page)
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    for _ in range(30):
        if page.evaluate("document.activeElement.id") == "question":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "question"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    page.keyboard.type(question)
    page.keyboard.press("Enter")
    reply = page.locator("#log > .turn").first.locator(".reply")
    reply.wait_for()
    assert reply.locator(".citations .passage").count() >= 1
    expect(page.locator("#question")).to_be_focused()
    page.screenshot(path=str(screenshots / "06-keyboard-answer.png"))
    # Tab goes on past the form's controls to the answer's first citation; Enter opens it
    for _ in range(10):
        page.keyboard.press("Tab")
        if "marker" in page.evaluate("document.activeElement.className"):
            break
    assert "marker" in page.evaluate("document.activeElement.className")
    page.keyboard.press("Enter")
    _check_report_highlight(page)
    expect(page.locator("#cited")).to_be_focused()
    # the mode links work from the keyboard too
    page.locator("header nav a[data-view=compare]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#view-compare")).to_be_visible()
    expect(page.locator("#compare-title")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#compare-question")).to_be_focused()


def test_not_answerable_and_filters(page: Any, screenshots: Path) -> None:
    page.goto("/")
    turn = _ask(page, "How does Essex Police handle missing children?")
    box = turn.locator(".not-answerable")
    assert "Not answerable" in box.inner_text()
    forces = _forces(page)
    for force in forces:
        assert force in box.locator(".message").inner_text()
    assert turn.locator(".citations").count() == 0
    page.screenshot(path=str(screenshots / "08-not-answerable.png"))
    # the force select lists the corpus's forces
    options = page.locator("#f-force option").all_text_contents()
    assert options == ["All forces", *forces]
    page.click("#new-conversation")  # else the question follows up on Essex
    page.locator("#filters summary").click()
    page.select_option("#f-force", "Lincolnshire Police")
    page.select_option("#f-type", "post-inspection review")
    turn = _ask(page, "children detained overnight")
    metas = turn.locator(".citations .passage .meta").all_inner_texts()
    assert metas and all("Lincolnshire Police" in m for m in metas)
    assert "Lincolnshire Police" in page.locator("#filter-summary").inner_text()
    page.screenshot(path=str(screenshots / "09-filters.png"), full_page=True)
    # an impossible year range is refused before anything is sent
    page.fill("#f-from", "2021")
    page.fill("#f-to", "2017")
    page.fill("#question", "custody")
    page.press("#question", "Enter")
    assert "year" in page.locator("#error").inner_text()
    expect(page.locator("#f-from")).to_be_focused()
    assert page.locator("#log > .turn").count() == 1
    # a new conversation starts empty
    page.click("#new-conversation")
    assert page.locator("#log > .turn").count() == 0
    assert page.locator("#error").is_hidden()


def test_phone_layout_has_no_horizontal_scroll(phone: Any, screenshots: Path) -> None:
    page = phone
    page.goto("/")
    assert _no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / "07-phone-start.png"))
    _ask(page, _answered_question(page))
    assert _no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / "07-phone-chat.png"), full_page=True)
    page.locator(".citations a.open-report").first.click()
    _check_report_highlight(page)
    assert _no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / "07-phone-report.png"))
    page.goto("/#compare")
    page.fill("#compare-question", "appropriate adults for children in custody")
    page.press("#compare-question", "Enter")
    columns = page.locator("#compare-results li.force-col")
    columns.first.wait_for()
    assert columns.count() == 4
    lefts = {round(columns.nth(i).bounding_box()["x"]) for i in range(4)}
    assert len(lefts) == 1  # one force per row
    assert _no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / "07-phone-compare.png"), full_page=True)
    page.goto("/#cite")
    page.fill("#quote", KENT_QUOTE)
    page.press("#quote", "Enter")
    page.locator("#cite-results .cite-match").wait_for()
    assert _no_horizontal_scroll(page)
    page.screenshot(path=str(screenshots / "07-phone-cite.png"), full_page=True)
