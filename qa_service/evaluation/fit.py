"""Fit the answer-sentence ranker and the answerability model on the dev split
(``qa fit-answers``), and write them as plain JSON beside the code (``models/``).

1. Ranker: every answer unit of the top five passages of each dev question with evidence is
   an example, labelled by whether it answers an evidence quote (answers.answers_quote).
   A pairwise logistic regression (scikit-learn) on standardised features, its regularisation
   chosen by grouped cross-validation on how often the top unit of a question answers, blended
   with gradient-boosted trees (LightGBM) over the same examples (answer/trees.py).
2. Answerability: with the new ranker in place, each dev question is one example (label: the
   reports answer it at least in part). A logistic regression again, so its output is a
   probability (checked by the reliability plot of ``qa eval``); the refuse threshold is the
   highest under which, with 90% confidence, at most 3% of answerable questions (5% of staff
   ones) would be refused, judged by how many dev questions it refuses; the answer threshold
   follows from what a wrong confident answer costs against a hedged one
   (``WRONG_ANSWER_COST``), not from a search over dev, whose few unanswerable questions leave
   that choice flat and unstable. Both models' regularisation is chosen by the
   one-standard-error rule (``one_standard_error_c``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..answer import answerability
from ..answer import rank as answer_rank
from ..answer.rank import Candidate, LinearModel, load_model
from ..answer.retriever import Retriever
from ..answer.trees import TREE_WEIGHT, Blended, Scorer, fit_trees, load_trees, write_trees
from .answers import AnswerOutcome, answers_quote, run_answers
from .retrieval import Question

C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
OOF_REPEATS = 10  # fold assignments averaged for the thresholds' probabilities (_out_of_fold)


@dataclass(frozen=True)
class FitReport:
    """What fitting found on dev."""

    ranker_c: float
    ranker_top1_cv: float
    ranker_examples: int
    answerability_c: float
    refuse: float
    answer: float
    dev: dict[str, float]


# The share of questions the reports do not answer that the answerability model assumes, of
# those with passages to answer from (a question about a force the corpus lacks has none).
# The question set's own share is what its writers chose to test: adding unanswerable dev
# questions of a new shape (30 false premises took it from 0.21 to 0.27) would otherwise lower
# every probability and hedge answers the reports give (val answerable marked partial 0.14 ->
# 0.31). Each question is weighted so the two classes weigh this share and its complement.
NONE_SHARE = 0.2


def prior_weights(y: NDArray[np.int_], none_share: float = NONE_SHARE) -> NDArray[np.float64]:
    """Per-question weights under which the unanswerable questions (``y`` 0) make up
    ``none_share`` of the total weight (ones where a class is absent)."""
    n, n0 = len(y), int(np.sum(y == 0))
    if n0 in (0, n):
        return np.ones(n)
    return np.where(y == 0, none_share * n / n0, (1.0 - none_share) * n / (n - n0))


def _fit_logistic(
    x: NDArray[np.float64], y: NDArray[np.int_], c: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], float]:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=prior_weights(y))
    return mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0])


def _linear(
    features: Sequence[str], fitted: tuple[Any, ...], extra: dict[str, float]
) -> LinearModel:
    mean, scale, coef, intercept = fitted
    return LinearModel(tuple(features), mean, scale, coef, intercept, extra)


def _top1(model: Scorer, x: NDArray[np.float64], y: NDArray[np.int_], groups: list[int]) -> float:
    p = model.proba(x.astype(np.float32))
    hits = total = 0
    for g in sorted(set(groups)):
        idx = [i for i, gg in enumerate(groups) if gg == g]
        best = max(idx, key=lambda i: p[i])
        hits += int(y[best])
        total += 1
    return hits / total if total else 0.0


def _pairs(
    x: NDArray[np.float64], y: NDArray[np.int_], groups: list[int]
) -> tuple[NDArray[np.float64], NDArray[np.int_]]:
    """Pairwise differences within each question: (answer - other, 1) and its mirror."""
    diffs: list[NDArray[np.float64]] = []
    by_group: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        by_group.setdefault(g, []).append(i)
    for idx in by_group.values():
        pos = [i for i in idx if y[i]]
        neg = [i for i in idx if not y[i]]
        for i in pos:
            for j in neg:
                diffs.append(x[i] - x[j])
    if not diffs:
        return np.zeros((0, x.shape[1])), np.zeros(0, dtype=int)
    d = np.stack(diffs)
    return np.concatenate([d, -d]), np.concatenate([np.ones(len(d)), np.zeros(len(d))]).astype(int)


def _fit_pairwise(
    x: NDArray[np.float64], y: NDArray[np.int_], groups: list[int], c: float
) -> LinearModel:
    """A ranking model from pairwise differences (a linear RankSVM with logistic loss), then
    one Platt scaling of its scores into a probability that a unit answers."""
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    dx, dy = _pairs(z, y, groups)
    ranker_lr = LogisticRegression(C=c, fit_intercept=False, max_iter=5000)
    ranker_lr.fit(dx, dy)
    w = ranker_lr.coef_[0].astype(np.float64)
    platt = LogisticRegression(C=1.0, max_iter=1000)
    platt.fit((z @ w)[:, None], y)
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    return LinearModel(tuple(answer_rank.FEATURES), mean, scale, w * a, b, {})


def _blend(x: NDArray[np.float64], y: NDArray[np.int_], groups: list[int], c: float) -> Blended:
    """The linear ranker with regularisation ``c``, blended with trees fitted on the same rows."""
    linear = _fit_pairwise(x, y, groups, c)
    linear = replace(linear, extra={"C": c, "tree_weight": TREE_WEIGHT})
    return Blended(linear, fit_trees(x, y, answer_rank.FEATURES), TREE_WEIGHT)


def fit_ranker_at(examples: list[tuple[int, Candidate, bool]], c: float) -> Blended:
    """The ranker fitted on ``examples`` with regularisation ``c``."""
    x = np.stack([cand.features for _, cand, _ in examples]).astype(np.float64)
    y = np.array([int(label) for _, _, label in examples])
    return _blend(x, y, [g for g, _, _ in examples], c)


def fit_ranker(
    examples: list[tuple[int, Candidate, bool]], folds: int = 5
) -> tuple[Blended, float, float]:
    """The ranker fitted on (question, candidate, answers) examples; the linear model's C
    (chosen by its cross-validated top-1) and the blended ranker's cross-validated top-1."""
    x = np.stack([c.features for _, c, _ in examples]).astype(np.float64)
    y = np.array([int(label) for _, _, label in examples])
    groups = [g for g, _, _ in examples]
    ids = sorted(set(groups))
    fold_of = {g: i % folds for i, g in enumerate(ids)}
    # One pass over the folds: the trees do not depend on C, so each fold's trees serve every
    # C's linear model; C is chosen by the linear model's top-1, the score is the blend's.
    misses: dict[float, list[float]] = {c: [] for c in C_GRID}
    blended: dict[float, list[float]] = {c: [] for c in C_GRID}
    for f in range(folds):
        train = np.array([fold_of[g] != f for g in groups])
        test = ~train
        if y[train].min() == y[train].max():
            continue
        tg = [g for g, t in zip(groups, train, strict=True) if t]
        held = [g for g, t in zip(groups, test, strict=True) if t]
        trees = fit_trees(x[train], y[train], answer_rank.FEATURES)
        for c in C_GRID:
            m = _fit_pairwise(x[train], y[train], tg, c)
            misses[c].append(1.0 - _top1(m, x[test], y[test], held))
            blended[c].append(_top1(Blended(m, trees, TREE_WEIGHT), x[test], y[test], held))
    best_c = one_standard_error_c(misses)
    best_score = float(np.mean(blended[best_c])) if blended[best_c] else 0.0
    return _blend(x, y, groups, best_c), best_c, best_score


# A confident answer to a question the reports do not answer (staff act on it) costs this many
# times a hedged ("partial") answer to one they do: answer outright only when the calibrated
# probability that the reports answer is at least cost / (cost + 1) (the Bayes decision).
WRONG_ANSWER_COST = 4.0


# Refusals of answerable questions the service must stay under on questions it has not seen
# (staff act on a refusal too: they stop looking), and how sure the fit must be of that.
MAX_REFUSED = 0.03
MAX_STAFF_REFUSED = 0.05
REFUSED_CONFIDENCE = 0.9


def refused_bound(refused: int, n: int, confidence: float = REFUSED_CONFIDENCE) -> float:
    """One-sided upper confidence bound (Clopper-Pearson) on the share of answerable questions
    a threshold refuses, having refused ``refused`` of ``n`` dev questions."""
    from scipy.stats import beta

    if n == 0:
        return 0.0
    if refused >= n:
        return 1.0
    return float(beta.ppf(confidence, refused + 1, n - refused))


def thresholds(
    p: NDArray[np.float64],
    kinds: list[str],
    max_refused: float = MAX_REFUSED,
    max_staff_refused: float = MAX_STAFF_REFUSED,
    wrong_answer_cost: float = WRONG_ANSWER_COST,
    confidence: float = REFUSED_CONFIDENCE,
) -> tuple[float, float]:
    """The refuse and answer thresholds for out-of-fold dev probabilities ``p`` of questions of
    ``kinds``: refuse below the highest threshold under which, with ``confidence``, at most
    ``max_refused`` of answerable questions (and ``max_staff_refused`` of staff ones) would be
    refused, judged by the upper bound on what it refuses of dev (``refused_bound``: the share
    it refuses of 200 dev questions says little about the next 200); answer outright from the
    cost-based threshold (``WRONG_ANSWER_COST``), partial between the two."""
    answerable = np.array([k not in ("none", "partial") for k in kinds])
    staff = np.array([k == "staff" for k in kinds])
    refuse = 0.0
    for t in np.unique(np.concatenate([[0.0], p])):
        wrong = refused_bound(int(np.sum(p[answerable] < t)), int(answerable.sum()), confidence)
        wrong_staff = refused_bound(int(np.sum(p[staff] < t)), int(staff.sum()), confidence)
        if wrong <= max_refused and wrong_staff <= max_staff_refused:
            refuse = float(t)
    answer = max(refuse, wrong_answer_cost / (wrong_answer_cost + 1.0))
    return round(refuse, 6), round(answer, 6)


def fit(
    retriever: Retriever,
    dev: list[Question],
    out_dir: Path = answer_rank.MODEL_DIR,
    max_refused: float = MAX_REFUSED,
    max_staff_refused: float = MAX_STAFF_REFUSED,
    progress: Callable[[str], None] | None = None,
    ranker_only: bool = False,
) -> FitReport:
    """Fit both models on ``dev`` and write them to ``out_dir`` (with ``ranker_only``, the
    ranker alone: the answerability model in ``out_dir`` is kept, and the report gives its
    settings). Follow-ups (questions with a history) are evaluated, not fitted on: their
    searched question is the chat's rewriting, vaguer than a question asked whole ("What about
    RSO visits in Lincolnshire?"), and fitting on dev's 19 moved dev answer@1 from 0.627 to
    0.605 and staff from 0.563 to 0.546."""
    path = out_dir / answerability.ANSWERABILITY_FILE.name
    kept = load_model(path, answerability.FEATURES) if ranker_only else None
    ranker_model, model, rep = fit_models(
        retriever, dev, max_refused, max_staff_refused, progress, kept
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / answer_rank.RANKER_FILE.name, ranker_model.linear)
    write_trees(out_dir / answer_rank.TREES_FILE.name, ranker_model.trees)
    if kept is None:
        _write(path, model)
    load_model.cache_clear()
    load_trees.cache_clear()
    return rep


def fit_models(
    retriever: Retriever,
    dev: list[Question],
    max_refused: float = MAX_REFUSED,
    max_staff_refused: float = MAX_STAFF_REFUSED,
    progress: Callable[[str], None] | None = None,
    kept: LinearModel | None = None,
) -> tuple[Blended, LinearModel, FitReport]:
    """The ranker and the answerability model fitted on ``dev`` (follow-ups left out), with
    what the fit found; nothing is written, and the shipped models are in force again after.
    With ``kept``, the answerability model is that one, not fitted again."""
    say = progress or (lambda _: None)
    dev = [q for q in dev if not q.history]
    say(f"ranker: collecting candidates of {len(dev)} questions")
    # The shipped files may not match the code's features yet: neutral models meanwhile.
    answer_rank.OVERRIDES["ranker"] = answer_rank.prior(
        answer_rank.FEATURES, {"dense_best": 1.0, "lex_rel": 1.0}
    )
    answer_rank.OVERRIDES["answerability"] = answer_rank.prior(
        answerability.FEATURES, {"confidence": 1.0}
    )
    try:
        return _fit(retriever, dev, max_refused, max_staff_refused, say, kept)
    finally:
        answer_rank.OVERRIDES.clear()
        load_model.cache_clear()


def cross_fitted_answers(
    retriever: Retriever,
    questions: list[Question],
    folds: int = 5,
    progress: Callable[[int], None] | None = None,
) -> list[AnswerOutcome]:
    """Every question answered by answer models fitted without it: the questions are dealt
    into ``folds`` folds, and each fold is answered by models fitted on the others. The
    answer figures of the split the shipped models are fitted on (dev) are in-sample; these
    are the honest ones, comparable with a split the models never saw."""
    fold_of = {q.id: i % folds for i, q in enumerate(questions)}
    out: dict[str, AnswerOutcome] = {}
    for f in range(folds):
        train = [q for q in questions if fold_of[q.id] != f]
        held = [q for q in questions if fold_of[q.id] == f]
        ranker_model, model, _ = fit_models(retriever, train)
        answer_rank.OVERRIDES.update(ranker=ranker_model, answerability=model)
        # ``out`` holds the earlier folds while this fold's questions are answered
        counted = (lambda i: progress(len(out) + i)) if progress else None
        try:
            out.update((o.question.id, o) for o in run_answers(retriever, held, progress=counted))
        finally:
            answer_rank.OVERRIDES.clear()
            load_model.cache_clear()
    return [out[q.id] for q in questions]


def _fit(
    retriever: Retriever,
    dev: list[Question],
    max_refused: float,
    max_staff_refused: float,
    say: Callable[[str], None],
    kept: LinearModel | None,
) -> tuple[Blended, LinearModel, FitReport]:
    examples: list[tuple[int, Candidate, bool]] = []
    for g, q in enumerate(dev):
        if not q.evidence:
            continue
        res = retriever.search(q.asked(), top_k=5)
        for c, _ in res.candidates:
            assert isinstance(c, Candidate)
            label = any(answers_quote(c.text, e.text) for e in q.evidence)
            examples.append((g, c, label))
    ranker_model, c, cv = fit_ranker(examples)
    say(f"ranker: C={c}, cross-validated top-1 {cv:.3f} over {len(examples)} units")
    answer_rank.OVERRIDES["ranker"] = ranker_model
    if kept is not None:
        say("answerability: kept as it is")
        e = kept.extra
        return (
            ranker_model,
            kept,
            FitReport(c, round(cv, 4), len(examples), e["C"], e["refuse"], e["answer"], {}),
        )

    say("answerability: collecting features (ranker cross-fitted)")
    # Each question's features come from a ranker fitted without its fold: in-sample ranker
    # probabilities are more confident than the shipped ranker's on unseen questions.
    folds = 5
    xs, ys, kinds = [], [], []
    for f in range(folds):
        held = [e for e in examples if e[0] % folds != f]
        answer_rank.OVERRIDES["ranker"] = fit_ranker_at(held, ranker_model.extra["C"])
        for g, q in enumerate(dev):
            if g % folds != f:
                continue
            res = retriever.search(q.asked(), top_k=5)
            if not res.answer_features:  # no passage at all (a force the corpus lacks)
                continue
            xs.append(res.answer_features)
            ys.append(int(bool(q.evidence)))
            kinds.append(q.kind)
    answer_rank.OVERRIDES["ranker"] = ranker_model
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys)
    best_c = one_standard_error_c({cc: _fold_logloss(x, y, cc) for cc in C_GRID})
    fitted = _fit_logistic(x, y, best_c)
    # Thresholds are chosen on out-of-fold probabilities: in-sample ones are more extreme than
    # what the model gives questions it has not seen.
    p = _out_of_fold(x, y, best_c)
    refuse, answer = thresholds(p, kinds, max_refused, max_staff_refused)
    model = _linear(
        answerability.FEATURES, fitted, {"C": best_c, "refuse": refuse, "answer": answer}
    )
    say(f"answerability: C={best_c}, refuse below {refuse:.3f}, partial below {answer:.3f}")
    dev_stats = {
        "answerable_refused": float(np.mean(p[y == 1] < refuse)) if (y == 1).any() else 0.0,
        "none_abstain": float(np.mean(p[y == 0] < answer)) if (y == 0).any() else 0.0,
    }
    rep = FitReport(c, round(cv, 4), len(examples), best_c, refuse, answer, dev_stats)
    return ranker_model, model, rep


def _out_of_fold(
    x: NDArray[np.float64],
    y: NDArray[np.int_],
    c: float,
    folds: int = 5,
    repeats: int = OOF_REPEATS,
) -> NDArray[np.float64]:
    """Each question's probability from models fitted without it: the mean over ``repeats``
    random assignments of the questions to ``folds`` folds (fixed seeds, so a refit is
    reproducible). The refuse threshold is an order statistic of these probabilities (about
    the fourth lowest of the answerable questions), and with one assignment it moved from
    0.45 to 0.57 between assignments alone; the mean over ten moves it far less."""
    total = np.zeros(len(y))
    for seed in range(repeats):
        fold = np.random.default_rng(seed).permutation(len(y)) % folds
        for f in range(folds):
            test = fold == f
            train = ~test
            if y[train].min() == y[train].max():  # a small set's fold of one class
                total[test] += float(y.mean())
                continue
            m = _linear(answerability.FEATURES, _fit_logistic(x[train], y[train], c), {})
            total[test] += m.proba(x[test].astype(np.float32))
    return total / repeats


def one_standard_error_c(losses: dict[float, list[float]]) -> float:
    """The most regularised C whose cross-validated loss (per fold in ``losses``, the same
    folds for every C) is within one standard error of the lowest: the one-standard-error
    rule, with the error of the paired difference from the best C over the folds.

    On the dev split both losses (the ranker's top-1 misses, the answerability log loss) are
    flat near their minimum, and the exact minimum moves with one question more or less:
    taking it, a refit after a small change of data moved C a hundredfold. Within the noise
    the smoother model is taken, which stays put. The noise is that of the difference: every
    C is scored on the same folds, so the folds' own spread (some folds are harder for every
    C) is no evidence that two Cs do equally well; counting it let the rule take a C whose
    loss was worse than the best's on every fold, and whose squeezed probabilities moved
    the refuse threshold."""
    means = {c: float(np.mean(v)) for c, v in losses.items() if v}
    if not means:
        return C_GRID[0]
    best = min(means, key=lambda c: means[c])
    within = []
    for c, v in losses.items():
        if not v:
            continue
        if len(v) != len(losses[best]) or len(v) < 2:
            diff = np.array([means[c] - means[best]])
            se = 0.0
        else:
            diff = np.asarray(v) - np.asarray(losses[best])
            se = float(np.std(diff, ddof=1) / np.sqrt(len(diff)))
        if float(np.mean(diff)) <= se:
            within.append(c)
    return min(within)


def _fold_logloss(
    x: NDArray[np.float64], y: NDArray[np.int_], c: float, folds: int = 5
) -> list[float]:
    """The log loss of each fold, scored by a model fitted on the other folds."""
    losses = []
    for f in range(folds):
        test = np.arange(len(y)) % folds == f
        train = ~test
        if y[train].min() == y[train].max():
            continue
        m = _linear(answerability.FEATURES, _fit_logistic(x[train], y[train], c), {})
        p = np.clip(m.proba(x[test].astype(np.float32)), 1e-6, 1 - 1e-6)
        loss = -(y[test] * np.log(p) + (1 - y[test]) * np.log(1 - p))
        losses.append(float(np.average(loss, weights=prior_weights(y[test]))))
    return losses


def _write(path: Path, model: LinearModel) -> None:
    data = model.to_json()
    data = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in data.items()}
    for key in ("mean", "scale", "coef"):
        data[key] = [round(float(v), 6) for v in data[key]]  # type: ignore[attr-defined]
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
