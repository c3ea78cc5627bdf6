"""Rank fusion of dense and lexical scores (pure functions over score arrays)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def top_indices(scores: NDArray[np.float32], m: int) -> NDArray[np.int64]:
    """Indexes of the ``m`` highest scores, best first, ties by index: the same as the first
    ``m`` of a stable descending argsort, in O(n) plus O(m log m) instead of O(n log n)."""
    n = len(scores)
    if m >= n:
        return np.argsort(-scores, kind="stable")
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    threshold = scores[np.argpartition(-scores, m - 1)[m - 1]]
    above = np.flatnonzero(scores > threshold)
    ties = np.flatnonzero(scores == threshold)[: m - len(above)]
    idx = np.concatenate([above, ties])
    return idx[np.lexsort((idx, -scores[idx]))]


def top_rows(rows: NDArray[np.int64], scores: NDArray[np.float32], m: int) -> NDArray[np.int64]:
    """The ``m`` rows with the highest scores, best first, ties by the smaller row: what
    ``top_indices`` returns for a corpus-sized array, given only some rows and their scores."""
    rows = np.asarray(rows, dtype=np.int64)
    if m <= 0 or not len(rows):
        return np.zeros(0, dtype=np.int64)
    if m < len(rows):
        threshold = scores[np.argpartition(-scores, m - 1)[m - 1]]
        above = np.flatnonzero(scores > threshold)
        tied = np.flatnonzero(scores == threshold)
        tied = tied[np.argsort(rows[tied], kind="stable")][: m - len(above)]
        pick = np.concatenate([above, tied])
    else:
        pick = np.arange(len(rows))
    out: NDArray[np.int64] = rows[pick[np.lexsort((rows[pick], -scores[pick]))]]
    return out


def minmax(scores: NDArray[np.float32], keep: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Scale the kept scores to [0, 1] (all zeros when they are all equal)."""
    out = np.zeros_like(scores, dtype=np.float32)
    if not keep.any():
        return out
    lo, hi = float(scores[keep].min()), float(scores[keep].max())
    if hi > lo:
        out[keep] = (scores[keep] - lo) / (hi - lo)
    return out


def convex(
    dense: NDArray[np.float32], lexical: NDArray[np.float32], keep: NDArray[np.bool_], alpha: float
) -> NDArray[np.float32]:
    """alpha * minmax(dense) + (1 - alpha) * minmax(lexical), over the kept passages.

    Convex combination of normalised scores (Bruch, Gai and Ingber, "An Analysis of Fusion
    Functions for Hybrid Retrieval", ACM TOIS 2023): unlike RRF it keeps how far apart scores
    are, and its one parameter is tuned on the dev split.
    """
    return alpha * minmax(dense, keep) + (1 - alpha) * minmax(lexical, keep)


def rrf(
    runs: list[NDArray[np.float32]], keep: NDArray[np.bool_], k: int = 60, depth: int = 100
) -> NDArray[np.float32]:
    """Reciprocal rank fusion: sum of 1 / (k + rank) over runs, ranks from 1, top ``depth`` only.

    Cormack, Clarke and Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and individual
    rank learning methods", SIGIR 2009.
    """
    fused = np.zeros(len(keep), dtype=np.float32)
    idx = np.flatnonzero(keep)
    for scores in runs:
        order = idx[top_indices(scores[idx], depth)]
        fused[order] += 1.0 / (k + np.arange(1, len(order) + 1, dtype=np.float32))
    return fused


def cover_groups(order: list[int], group_of: list[str], top_k: int, groups: list[str]) -> list[int]:
    """Re-rank so each of ``groups`` (e.g. forces) gets its best item into the top ranks.

    The first ``len(groups)`` ranks take each group's best item, in order of those items' own
    ranks; the rest follow in the original order. Used when a question compares forces, so
    that every force asked about is answered within the first few passages.
    """
    firsts: list[int] = []
    for g in groups:
        best = next((i for i in order if group_of[i] == g), None)
        if best is not None:
            firsts.append(best)
    firsts.sort(key=order.index)
    rest = [i for i in order if i not in set(firsts)]
    return (firsts + rest)[:top_k]
