"""Progress questions: the detector on hand-made questions, and replies built from the tracker
over the real index (cited passages from the review, the recommendation where it asks about an
area, and a plain statement where the corpus has no review)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa_service.answer.answerability import named_years
from qa_service.answer.chat import answer
from qa_service.answer.progress import ProgressQuestion, detect, progress_reply
from qa_service.answer.reply import Turn
from qa_service.search.passages import chat_dict

KENT, LEICS, LINCS = "Kent Police", "Leicestershire Police", "Lincolnshire Police"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("has Kent improved since the inspection?", ProgressQuestion((KENT,), None, ())),
        ("Has Kent got better?", ProgressQuestion((KENT,), None, ())),
        (
            "what did the review find about custody in Lincs",
            ProgressQuestion((LINCS,), "police detention", ()),
        ),
        (
            "is Leicestershire doing better on missing children?",
            ProgressQuestion((LEICS,), None, ("missing",)),
        ),
        ("has Kent met the recommendations?", ProgressQuestion((KENT,), None, ())),
        (
            "What did the post-inspection review find about investigations in Leicestershire?",
            ProgressQuestion((LEICS,), "investigation", ()),
        ),
    ],
)
def test_detects_progress_questions(question: str, expected: ProgressQuestion) -> None:
    assert detect(question) == expected


@pytest.mark.parametrize(
    "question",
    [
        "How many children were detained overnight in Kent?",
        "what did the inspectors say about the Met's referral unit backlog?",
        # a detail, better answered by search
        "What did the review find about the quality of custody carer activity in Kent?",
        "what extra training have the call handlers had since the inspection?",
        "What did the review find about MOSOVO training in Kent?",
        "Who is the trusted adult for a child in custody?",
    ],
)
def test_leaves_other_questions_to_search(question: str) -> None:
    assert detect(question) is None


def test_no_eval_question_is_taken_from_search(retriever) -> None:  # type: ignore[no-untyped-def]
    """The evaluation set's questions are about details, or name a year no report of the force
    is from ("has leics improved since 2020?"), which search refuses, or ask what changed after
    a force's latest report: none is answered from the tracker."""
    lines = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    read = [q for q in map(json.loads, lines) if detect(q["question"])]
    assert all(named_years(q["question"]) for q in read)  # only those naming a year
    replies = {q["id"]: progress_reply(retriever, q["question"], q["question"]) for q in read}
    taken = [i for i, r in replies.items() if r is not None and r.result.state == "answered"]
    assert taken == []


def _reply(retriever, *questions: str) -> dict:  # type: ignore[no-untyped-def]
    turns: list[Turn] = []
    for q in questions:
        turns += [Turn("user", q), Turn("assistant", "...")]
    return chat_dict(answer(retriever, turns[:-1]))


def test_force_progress_is_answered_from_the_review(retriever) -> None:  # type: ignore[no-untyped-def]
    reply = _reply(retriever, "Has Kent improved since the inspection?")
    assert reply["state"] == "answered" and reply["answerable"]
    assert reply["answer"].startswith(
        "Kent: of the 7 recommendations the post-inspection review followed up, it finds"
        " 7 partly met."
    )
    assert len(reply["sentences"]) >= 6
    for s in reply["sentences"]:
        cited = reply["citations"][s["citation"] - 1]
        assert cited["source"] == "kent-2021-post-inspection-review.txt"
        assert " ".join(s["text"].split()) in " ".join(cited["text"].split())
        assert any(
            " ".join(cited["text"][a:b].split()) == s["text"] for a, b in cited["highlights"]
        )
    assert "still not consistently speaking to children" in reply["answer"]


def test_area_question_cites_recommendation_and_finding(retriever) -> None:  # type: ignore[no-untyped-def]
    reply = _reply(retriever, "what did the review find about custody in Lincs?")
    assert reply["state"] == "answered"
    sections = [c["section"][-1] for c in reply["citations"]]
    assert sections == [
        "Police detention: Recommendation from the 2019 inspection report",
        "Police detention: Summary of post-inspection review findings",
    ] or (len(sections) == 2 and "Recommendation" in sections[0] and "Summary" in sections[1])
    assert "1 partly met" in reply["answer"]
    assert reply["sentences"][0]["text"].startswith("We recommend that Lincolnshire Police")


def test_follow_up_swaps_the_force(retriever) -> None:  # type: ignore[no-untyped-def]
    reply = _reply(retriever, "has Kent improved since the inspection?", "and Leicestershire?")
    assert reply["rewritten_question"] == "has Leicestershire improved since the inspection?"
    assert reply["answer"].startswith("Leicestershire: of the 7 recommendations")
    assert {c["force"] for c in reply["citations"]} == {LEICS}


def test_a_force_with_no_review_says_so(retriever) -> None:  # type: ignore[no-untyped-def]
    reply = _reply(retriever, "Has Lancashire got better since the inspection?")
    assert reply["state"] == "not_answered" and reply["sentences"] == []
    assert "no post-inspection review of Lancashire" in reply["answer"]
    assert reply["related"] and all(
        r["source"] == "lancashire-2017-inspection.md" for r in reply["related"]
    )
    norfolk = _reply(retriever, "Has Norfolk improved since its inspection?")
    assert norfolk["state"] == "not_answered" and "no report on Norfolk" in norfolk["answer"]


def test_a_year_no_report_of_the_force_is_from_is_left_to_search(retriever) -> None:  # type: ignore[no-untyped-def]
    """The tracker's verdicts are of the reviews the corpus holds: "since 2019" is Kent's
    inspection, "between 2021 and 2022" asks of a year no report of Kent is from."""
    since = _reply(retriever, "has kent improved since 2019?")
    assert since["state"] == "answered" and since["answer"].startswith("Kent: of the")
    later = _reply(retriever, "did kent improve between 2021 and 2022 on DA?")
    assert later["state"] == "not_answered"
    assert not later["answer"].startswith("Kent: of the")


def test_progress_since_the_latest_report_is_not_answered(retriever) -> None:  # type: ignore[no-untyped-def]
    """The corpus cannot say what changed after a force's latest report; before it, the
    review's verdicts answer."""
    after = _reply(retriever, "has lincs improved since the 2019 review?")
    assert after["state"] == "not_answered" and after["sentences"] == []
    assert "latest report on Lincolnshire is from 2019" in after["answer"]
    before = _reply(retriever, "has lincs improved since 2018?")
    assert before["state"] == "answered" and before["answer"].startswith("Lincolnshire: of the")
