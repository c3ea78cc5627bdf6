"""The three answer states in the page: answered, partly answered, not answerable.

For each state the test first asks the API which of a few questions gets that state now (the
answering models are refitted from time to time), then asks it in the page and checks the
page renders that very reply: markers and cited passages for an answer, the message saying
what the reports lack before "What they do say:" for a partial one, and for a question the
reports cannot answer a plain statement with related passages labelled as such, never as
citations. Each state is screenshotted to test-artifacts/screenshots/answer-<state>.png and
checked with axe-core against WCAG 2.2 AA.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from qa_service.ingest.textnorm import collapse_ws

from .conftest import INSTALL
from .conftest import axe_violations as _axe_violations
from .conftest import describe_violations as _describe
from .test_web import KENT_Q, _ask

expect = pytest.importorskip(
    "playwright.sync_api",
    reason=f"browser tests need the playwright package: {INSTALL}",
    exc_type=ImportError,
).expect

# Questions tried in order for each state; the first the API puts in that state is used.
CANDIDATES: dict[str, list[str]] = {
    "answered": [
        KENT_Q,
        "How many children were detained overnight in Kent custody?",
        "Are Lincolnshire officers recording the voice of the child?",
        "How quickly do appropriate adults arrive for children in Lancashire custody?",
    ],
    # asks for a figure the reports do not give, on a topic they do cover
    "partial": [
        "How many officers in Leicestershire are trained in child exploitation?",
        "kent st giles youth worker - what's it for and how many kids have they seen in custody?",
        "how many MARACs does lancs run a month and how many kids get discussed at them?",
        "How many children did Lancashire hold overnight in custody in 2021?",
    ],
    # a fact the reports never give, close enough to them to have related passages
    "not_answered": [
        "How much did Kent spend on appropriate adults?",
        "What percentage of Lincolnshire referrals were late?",
        "how many children did Kent hold overnight in 2020?",
    ],
}
LABELS = {
    "answered": "Answered from the reports",
    "partial": "Partly answered",
    "not_answered": "Not answerable from these reports.",
}
# what the status region tells screen-reader users once the reply is in
ANNOUNCED = {
    "answered": "Answer with",
    "partial": "Partly answered",
    "not_answered": "Not answerable from these reports.",
}
SHOTS = {
    "answered": "answer-answered.png",
    "partial": "answer-partial.png",
    "not_answered": "answer-not-answered.png",
}


def _chat(page: Any, question: str) -> dict[str, Any]:
    reply = page.request.post(
        "/v1/chat", data={"messages": [{"role": "user", "content": question}]}
    )
    assert reply.ok, reply.text()
    return dict(reply.json())


def _question_in_state(page: Any, state: str) -> str:
    """The first candidate question the API now answers in `state` (with related passages
    when not answered, so that list is shown)."""
    seen = []
    for question in CANDIDATES[state]:
        reply = _chat(page, question)
        if reply["state"] == state and (state != "not_answered" or reply["related"]):
            return question
        seen.append(f"{question!r}: {reply['state']}, {len(reply['related'])} related")
    pytest.fail(f"no candidate question is {state} now; got " + "; ".join(seen))


def _check_markers(turn: Any, reply: dict[str, Any]) -> None:
    """One marker per answer sentence, each opening its cited passage in the report (the
    link its passage card's "Open in report" has); the cards follow the answer."""
    cards = turn.locator(".citations .passage")
    assert cards.count() == len(reply["citations"]) >= 1
    markers = turn.locator(".answer a.marker")
    assert markers.count() == len(reply["sentences"]) >= 1
    turn_id = turn.get_attribute("id").removeprefix("turn-")
    for i, sentence in enumerate(reply["sentences"]):
        marker = markers.nth(i)
        assert marker.inner_text() == f"[{sentence['citation']}]"
        card = turn.locator(f".citations .passage#c-{turn_id}-{sentence['citation']}")
        assert card.count() == 1
        href = card.locator("a.open-report").get_attribute("href")
        assert marker.get_attribute("href") == href
    answer_bottom = turn.locator(".answer").bounding_box()
    first_card = cards.first.bounding_box()
    assert answer_bottom and first_card
    assert first_card["y"] >= answer_bottom["y"] + answer_bottom["height"]
    assert collapse_ws(turn.locator(".answer").inner_text()) == collapse_ws(reply["answer"])
    assert turn.locator(".not-answerable, .related").count() == 0


def _check_answered(turn: Any, reply: dict[str, Any]) -> None:
    _check_markers(turn, reply)
    assert turn.locator(".answer strong.partial").count() == 0
    assert "What they do say" not in turn.locator(".answer").inner_text()


def _check_partial(turn: Any, reply: dict[str, Any]) -> None:
    _check_markers(turn, reply)
    assert reply["message"]
    lacks = turn.locator(".answer > strong.partial")
    assert lacks.inner_text() == reply["message"]
    # what the reports lack comes first, then what they do say
    assert turn.locator(".answer > :first-child").evaluate("n => n.className") == "partial"
    text = collapse_ws(turn.locator(".answer").inner_text())
    assert text.startswith(collapse_ws(reply["message"]) + " What they do say: ")


def _check_not_answered(turn: Any, reply: dict[str, Any]) -> None:
    box = turn.locator(".not-answerable")
    assert box.locator(".state-label").inner_text() == LABELS["not_answered"]
    assert box.locator(".message").inner_text() == reply["message"]
    assert turn.locator(".answer, .citations, a.marker").count() == 0
    related = reply["related"]
    title = f"Related passages, not an answer ({len(related)})"
    assert turn.locator(".sources-title").all_inner_texts() == [title]
    listing = turn.get_by_role("list", name=title)
    cards = listing.locator(".passage")
    assert cards.count() == len(related) >= 1
    for i, passage in enumerate(related):
        card = cards.nth(i)
        # shown as context: no [N] number, no citation id to jump to
        assert "related-passage" in card.get_attribute("class")
        assert card.get_attribute("id") is None
        assert card.locator(".num").count() == 0
        assert card.locator(".passage-title").inner_text() == passage["title"]
        start, end = passage["highlights"][0]
        assert card.locator("mark").first.text_content() == passage["text"][start:end]
    # related passages sit under the statement that the reports do not answer
    statement = box.bounding_box()
    assert statement and cards.first.bounding_box()["y"] > statement["y"]


CHECKS = {
    "answered": _check_answered,
    "partial": _check_partial,
    "not_answered": _check_not_answered,
}


@pytest.mark.parametrize("state", ["answered", "partial", "not_answered"])
def test_answer_state_is_shown(page: Any, screenshots: Path, state: str) -> None:
    question = _question_in_state(page, state)
    page.goto("/")
    with page.expect_response(re.compile(r"/v1/chat$")) as sent:
        turn = _ask(page, question)
    reply = sent.value.json()  # the very reply the page rendered
    assert reply["state"] == state, f"{question!r} changed state between two asks"
    expect(turn.locator(".reply")).to_have_attribute("data-state", state)
    labels = turn.locator(".state-label")
    assert labels.all_inner_texts() == [LABELS[state]]
    assert labels.evaluate("n => n.tagName") == "H2"
    CHECKS[state](turn, reply)
    assert page.locator("#status").inner_text().startswith(ANNOUNCED[state])
    page.locator("#question").focus()
    turn.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / SHOTS[state]), full_page=True)
    violations = _axe_violations(page)
    assert violations == [], _describe(violations)
