"""The answer ranker's trees: gradient-boosted trees (LightGBM) over the ranker's features,
blended with the linear model's log-odds.

The linear ranker (``rank.LinearModel``) weighs each feature the same way for every question.
Which feature tells the answer apart depends on the question: the lexical features matter
when the question uses the reports' words and the dense ones when it does not; a unit that
leans on the one before is a good answer when it is joined with it and a poor one alone. Small
trees (eight leaves, 300 rounds at a learning rate of 0.03, fitted on the same dev units as the
linear model) read such interactions, and the ranker's score is the mean of the two models'
log-odds (``TREE_WEIGHT``): the linear model keeps the score smooth where the trees, fitted on
a few hundred questions, would jump. The trees are shipped as LightGBM's own plain-text model
file beside the linear model's JSON (``models/answer_ranker_trees.txt``), refitted by
``qa fit-answers`` with fixed seeds on one thread, so a refit writes the same file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # lightgbm (and the scikit-learn it imports) loads with the first model
    import lightgbm

    from .rank import LinearModel

# The share of the trees' log-odds in the ranker's score, and how they are grown. Chosen by the
# ranker's cross-validated top-1 on dev (linear alone 0.737; trees alone 0.719; the mean of the
# two 0.741 to 0.744 over tree shares 0.5 to 0.7), then checked on val, which nothing is fitted
# on (top-1 0.648 linear, 0.686 trees, 0.689 the mean).
TREE_WEIGHT = 0.5
TREE_ROUNDS = 300
TREE_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 8,
    "min_data_in_leaf": 20,
    "lambda_l2": 1.0,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "seed": 0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbose": -1,
}


class Scorer(Protocol):
    """What ranks answer units: log-odds and probabilities per feature row."""

    @property
    def extra(self) -> dict[str, float]: ...

    def logits(self, x: NDArray[np.float32]) -> NDArray[np.float64]: ...

    def proba(self, x: NDArray[np.float32]) -> NDArray[np.float64]: ...


@dataclass(frozen=True)
class Blended:
    """A linear model and trees over the same features; the score is their weighted log-odds."""

    linear: LinearModel
    trees: lightgbm.Booster
    weight: float = TREE_WEIGHT

    @property
    def extra(self) -> dict[str, float]:
        """The linear model's extra fields (its regularisation)."""
        return self.linear.extra

    def logits(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """The blended log-odds of each row of ``x``."""
        if len(x) == 0:
            return np.zeros(0)
        trees = np.asarray(
            self.trees.predict(np.asarray(x, dtype=np.float64), raw_score=True),
            dtype=np.float64,
        )
        return np.asarray(
            (1.0 - self.weight) * self.linear.logits(x) + self.weight * trees, dtype=np.float64
        )

    def proba(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """The blended probability of each row of ``x``."""
        return np.asarray(1.0 / (1.0 + np.exp(-self.logits(x))), dtype=np.float64)


def linear_part(scorer: Scorer) -> Scorer:
    """The linear model of a blended ranker (a linear ranker itself otherwise). The
    answerability model reads its probabilities: the trees choose which sentence leads, not
    how sure the service is that the reports answer, so adding or refitting them leaves the
    answered / partial / not answered decision as it was fitted."""
    return scorer.linear if isinstance(scorer, Blended) else scorer


def fit_trees(
    x: NDArray[np.float64], y: NDArray[np.int_], features: tuple[str, ...]
) -> lightgbm.Booster:
    """Trees fitted on feature rows ``x`` labelled ``y`` (1: the unit answers)."""
    import lightgbm

    data = lightgbm.Dataset(
        np.asarray(x, dtype=np.float64), np.asarray(y), feature_name=list(features)
    )
    return lightgbm.train(dict(TREE_PARAMS), data, num_boost_round=TREE_ROUNDS)


def write_trees(path: Path, trees: lightgbm.Booster) -> None:
    """Write ``trees`` as LightGBM's plain-text model file."""
    path.write_text(trees.model_to_string(), encoding="utf-8")


@lru_cache(maxsize=4)
def load_trees(path: Path, features: tuple[str, ...]) -> lightgbm.Booster:
    """The trees in ``path``; their features must be ``features``."""
    import lightgbm

    trees = lightgbm.Booster(model_str=path.read_text(encoding="utf-8"))
    names = tuple(trees.feature_name())
    if names != features:
        raise ValueError(f"tree model features {names} differ from the code's {features}")
    return trees
