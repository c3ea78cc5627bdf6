"""Evaluation: relevance judgements and metrics checked against values worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_service.evaluation.retrieval import (
    EvalError,
    Evidence,
    Question,
    QuestionOutcome,
    answers,
    load_questions,
    locate,
    recall_curve,
    report,
)


def test_answers_contains_or_covers_half() -> None:
    assert answers((0, 100), (10, 50))  # contains
    assert answers((30, 100), (10, 50))  # covers 20 of 40 = half
    assert not answers((31, 100), (10, 50))  # 19 of 40
    assert not answers((50, 100), (10, 50))  # touches only


def test_locate_exact_and_whitespace_insensitive() -> None:
    texts = {"r.txt": "Intro.\nThe force  has\nimproved its work. End."}
    assert locate(texts, Evidence("r.txt", "has\nimproved")) == (18, 30)
    assert locate(texts, Evidence("r.txt", "The force has improved")) == (7, 30)
    assert locate(texts, Evidence("other.txt", "x")) is None


def _outcome(qid: str, ranked: list[str], n_evidence: int, kind: str = "staff") -> QuestionOutcome:
    ev = tuple(Evidence("r.txt", f"quote {i}") for i in range(n_evidence))
    q = Question(qid, "q", kind, None, "dev", ev)
    return QuestionOutcome(q, True, ranked, ["r.txt"] * len(ranked), [])


def test_metrics_by_hand() -> None:
    # q1: its one quote found at rank 2 -> R@1 0, R@5 1, RR 1/2
    # q2: two quotes, one found at rank 1, the other never -> R@1 .5, R@5 .5, RR 1
    outcomes = [
        _outcome("q1", ["passage:a", "q1#e0", "passage:b"], 1),
        _outcome("q2", ["q2#e0", "passage:c"], 2),
    ]
    r = report("x", outcomes)
    assert r.overall["recall@1"] == pytest.approx((0 + 0.5) / 2)
    assert r.overall["recall@5"] == pytest.approx((1 + 0.5) / 2)
    assert r.overall["mrr@10"] == pytest.approx((0.5 + 1) / 2)
    # nDCG@10: q1 = (1/log2(3)) / 1; q2 = 1 / (1 + 1/log2(3))
    import math

    q1 = 1 / math.log2(3)
    q2 = 1 / (1 + 1 / math.log2(3))
    assert r.overall["ndcg@10"] == pytest.approx((q1 + q2) / 2, abs=1e-4)
    assert recall_curve(outcomes, 3) == [0.25, 0.75, 0.75]


def test_none_and_compare_checks() -> None:
    none_q = Question("n1", "q", "none", None, "dev", ())
    flagged = QuestionOutcome(none_q, False, [], [], [])
    cmp_q = Question(
        "c1", "q", "compare", None, "dev", (Evidence("a.txt", "x"), Evidence("b.txt", "y"))
    )
    reached = QuestionOutcome(cmp_q, True, ["c1#e0"], ["a.txt", "b.txt"], [])
    r = report("x", [flagged, reached])
    assert r.none_flagged == 1.0 and r.compare_all_reached == 1.0
    assert r.answerable_flagged == 0.0


def test_bad_question_file(tmp_path: Path) -> None:
    p = tmp_path / "q.jsonl"
    p.write_text('{"id": "a", "question": "x"}\nnot json\n')
    with pytest.raises(EvalError, match=r"q.jsonl:2"):
        load_questions(p)
    p.write_text('{"id": "a", "question": "x", "split": "dev"}\n')
    with pytest.raises(EvalError, match="no questions in split 'test'"):
        load_questions(p, "test")


def test_one_result_can_reach_several_quotes() -> None:
    # q3: two quotes in one passage at rank 2 (judge labels it with the first only) -> both
    # are reached: R@1 0, R@5 1; RR 1/2 as before
    q = Question("q3", "q", "fact", None, "dev", (Evidence("r.txt", "a"), Evidence("r.txt", "b")))
    o = QuestionOutcome(
        q,
        True,
        ["passage:x", "q3#e0", "passage:y"],
        ["r.txt"] * 3,
        [],
        [frozenset(), frozenset({"q3#e0", "q3#e1"}), frozenset()],
    )
    r = report("x", [o])
    assert r.overall["recall@1"] == 0.0
    assert r.overall["recall@5"] == 1.0
    assert r.overall["mrr@10"] == pytest.approx(0.5)
    assert recall_curve([o], 3) == [0.0, 1.0, 1.0]
    # a question with no results at all counts as zero, not as missing
    empty = QuestionOutcome(Question("q4", "q", "staff", None, "dev", q.evidence), True, [], [], [])
    both = report("x", [o, empty])
    assert both.overall["recall@5"] == 0.5 and both.overall["mrr@10"] == pytest.approx(0.25)


def test_a_follow_up_is_asked_as_the_chat_rewrites_it(tmp_path: Path) -> None:
    """A question with a history is searched as the chat's rewriting of its conversation
    (POST /v1/chat), and answered as the last turn of it; one without is asked as written."""
    p = tmp_path / "q.jsonl"
    p.write_text(
        '{"id": "a", "question": "and Kent?", "kind": "followup",'
        ' "history": ["do Lincs leave kids in the cells overnight?"]}\n'
        '{"id": "b", "question": "do Lincs leave kids in the cells overnight?"}\n'
    )
    follow, plain = load_questions(p)
    assert follow.history == ("do Lincs leave kids in the cells overnight?",)
    assert [t.content for t in follow.turns()] == [*follow.history, "and Kent?"]
    assert "Kent" in follow.asked() and "cells overnight" in follow.asked()
    assert "Lincs" not in follow.asked()
    assert plain.asked() == plain.question and plain.history == ()
