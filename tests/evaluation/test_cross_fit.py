"""Cross-fitted answers: each question answered by answer models fitted without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_service.answer import rank as answer_rank
from qa_service.evaluation.answers import run_answers
from qa_service.evaluation.fit import cross_fitted_answers
from qa_service.evaluation.retrieval import load_questions

QUESTIONS = Path(__file__).resolve().parents[2] / "eval" / "questions.jsonl"


@pytest.mark.slow
def test_each_question_is_answered_by_models_fitted_without_it(retriever) -> None:  # type: ignore[no-untyped-def]
    dev = load_questions(QUESTIONS, "dev")
    questions = [q for q in dev if q.evidence][:24] + [q for q in dev if not q.evidence][:12]
    shipped = run_answers(retriever, questions)
    crossed = cross_fitted_answers(retriever, questions, folds=3)
    assert [o.question.id for o in crossed] == [q.id for q in questions]
    # models fitted on two thirds of them are not the shipped ones fitted on all of dev
    assert any(a.confidence != b.confidence for a, b in zip(shipped, crossed, strict=True))
    # and the shipped models are in force again afterwards
    assert not answer_rank.OVERRIDES
    again = run_answers(retriever, questions[:5])
    assert [o.confidence for o in again] == [o.confidence for o in shipped[:5]]
