"""The best ``m`` of a score array, best first, ties by position (pure functions): what the
lexical index, fusion and the retriever all cut their rankings with, so they agree on ties."""

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
