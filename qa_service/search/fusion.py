"""Rank fusion of dense and lexical scores (pure functions over score arrays)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ..index.topk import top_indices


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


def with_rows(
    rows: NDArray[np.int64],
    dense: NDArray[np.float32],
    lexical: NDArray[np.float32],
    wanted: list[int],
    allowed: NDArray[np.bool_],
) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32]]:
    """A large index's candidate ``rows`` (with their scores) joined by the ``wanted`` rows
    they lack and the filters keep (``allowed``, per row), scored 0."""
    have = set(rows.tolist())
    extra = np.asarray([r for r in wanted if r not in have and allowed[r]], dtype=np.int64)
    zeros = np.zeros(len(extra), dtype=np.float32)
    return (
        np.concatenate([rows, extra]),
        np.concatenate([dense, zeros.astype(dense.dtype)]),
        np.concatenate([lexical, zeros.astype(lexical.dtype)]),
    )


def pin_first(fused: NDArray[np.float32], pins: list[int], rows: NDArray[np.int64] | None) -> None:
    """Raise the ``pins`` rows that the filters keep (finite scores) above every other score
    in ``fused`` (positions are rows, or index ``rows``), in place, in pin order."""
    if not pins:
        return
    if rows is None:
        where = {r: r for r in pins}
    else:
        wanted = set(pins)
        where = {r: p for p, r in enumerate(rows.tolist()) if r in wanted}
    finite = fused[np.isfinite(fused)]
    if not len(finite):
        return
    top = float(finite.max())
    for n, r in enumerate(pins):
        p = where.get(r)
        if p is not None and np.isfinite(fused[p]):
            fused[p] = top + 1.0 + 1e-3 * (len(pins) - n)
