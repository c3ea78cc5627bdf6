"""The answer ranker's trees: fitted the same way every time, read back from their text file,
blended with the linear model, and kept out of the answerability decision."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa_service.answer import answerability
from qa_service.answer import rank as answer_rank
from qa_service.answer.trees import Blended, fit_trees, linear_part, load_trees, write_trees
from qa_service.evaluation.fit import fit, prior_weights
from qa_service.evaluation.retrieval import load_questions

QUESTIONS = Path(__file__).resolve().parents[2] / "eval" / "questions.jsonl"
FEATURES = ("a", "b", "c")


def _rows(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((400, 3))
    # an interaction a line cannot draw: the unit answers when a and b are both high
    y = ((x[:, 0] > 0.5) & (x[:, 1] > 0.5)).astype(int)
    return x, y


def test_a_refit_writes_the_same_trees_and_they_read_back(tmp_path: Path) -> None:
    x, y = _rows()
    first, second = fit_trees(x, y, FEATURES), fit_trees(x, y, FEATURES)
    assert first.model_to_string() == second.model_to_string()
    path = tmp_path / "trees.txt"
    write_trees(path, first)
    read = load_trees(path, FEATURES)
    assert np.allclose(read.predict(x, raw_score=True), first.predict(x, raw_score=True))
    with pytest.raises(ValueError, match="differ from the code"):
        load_trees(path, ("a", "b", "other"))


def test_the_blend_is_the_weighted_log_odds_and_reads_the_interaction() -> None:
    x, y = _rows()
    trees = fit_trees(x, y, FEATURES)
    linear = answer_rank.prior(FEATURES, {"a": 1.0, "b": 1.0})
    z = x.astype(np.float32)
    blend = Blended(linear, trees, 0.25)
    expected = 0.75 * linear.logits(z) + 0.25 * trees.predict(x, raw_score=True)
    assert np.allclose(blend.logits(z), expected)
    assert np.allclose(blend.proba(z), 1 / (1 + np.exp(-expected)))
    assert blend.logits(np.zeros((0, 3), dtype=np.float32)).shape == (0,)
    assert linear_part(blend) is linear and linear_part(linear) is linear
    # the trees alone tell (0.9, 0.9) from (0.9, 0.1) and (0.1, 0.9) better than a + b does
    probe = np.array([[0.9, 0.9, 0.5], [0.9, 0.1, 0.5], [0.1, 0.9, 0.5]])
    alone = Blended(linear, trees, 1.0).logits(probe.astype(np.float32))
    assert alone[0] > alone[1] + 2 and alone[0] > alone[2] + 2


def test_the_shipped_ranker_is_the_linear_model_blended_with_its_trees() -> None:
    scorer = answer_rank.ranker()
    assert isinstance(scorer, Blended)
    data = json.loads(answer_rank.RANKER_FILE.read_text(encoding="utf-8"))
    assert scorer.weight == data["tree_weight"] and 0.0 < scorer.weight < 1.0
    assert tuple(scorer.trees.feature_name()) == answer_rank.FEATURES
    x = np.zeros((2, len(answer_rank.FEATURES)), dtype=np.float32)
    assert np.all(np.isfinite(scorer.logits(x)))


def test_prior_weights_give_the_unanswerable_questions_their_assumed_share() -> None:
    y = np.array([0] * 30 + [1] * 70)
    w = prior_weights(y, 0.2)
    assert w.sum() == pytest.approx(100.0)
    assert w[y == 0].sum() / w.sum() == pytest.approx(0.2)
    assert np.all(prior_weights(np.ones(5, dtype=int)) == 1.0)


@pytest.mark.slow
def test_the_trees_choose_the_lead_not_the_answerability_decision(retriever) -> None:  # type: ignore[no-untyped-def]
    """The answerability features read the linear ranker's probabilities: giving the trees
    all the weight may change which sentence leads, never the features or the confidence."""
    shipped = answer_rank.ranker()
    assert isinstance(shipped, Blended)
    questions = [q for q in load_questions(QUESTIONS, "dev") if not q.history][:40]
    before = [retriever.search(q.asked(), top_k=5) for q in questions]
    answer_rank.OVERRIDES["ranker"] = Blended(shipped.linear, shipped.trees, 1.0)
    try:
        after = [retriever.search(q.asked(), top_k=5) for q in questions]
    finally:
        answer_rank.OVERRIDES.clear()
    assert [r.answer_features for r in before] == [r.answer_features for r in after]
    assert [r.confidence for r in before] == [r.confidence for r in after]

    # ... while the trees alone do order the candidates differently for some questions
    def order(res: object) -> list[tuple[int, int]]:
        return [(c.hit, c.unit.start) for c, _ in res.candidates]  # type: ignore[attr-defined]

    assert any(order(a) != order(b) for a, b in zip(before, after, strict=True))


@pytest.mark.slow
def test_a_ranker_only_refit_keeps_the_answerability_model(retriever, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copy(answerability.ANSWERABILITY_FILE, tmp_path / answerability.ANSWERABILITY_FILE.name)
    kept = (tmp_path / answerability.ANSWERABILITY_FILE.name).read_bytes()
    dev = load_questions(QUESTIONS, "dev")
    few = [q for q in dev if q.evidence and not q.history][:30] + [
        q for q in dev if not q.evidence and not q.history
    ][:10]
    try:
        rep = fit(retriever, few, out_dir=tmp_path, ranker_only=True)
    finally:
        answer_rank.load_model.cache_clear()
        load_trees.cache_clear()
    assert (tmp_path / answerability.ANSWERABILITY_FILE.name).read_bytes() == kept
    assert rep.refuse == json.loads(kept)["refuse"]
    linear = json.loads((tmp_path / answer_rank.RANKER_FILE.name).read_text(encoding="utf-8"))
    assert linear["features"] == list(answer_rank.FEATURES) and linear["tree_weight"] > 0
    trees = load_trees(tmp_path / answer_rank.TREES_FILE.name, answer_rank.FEATURES)
    assert trees.num_trees() > 0
