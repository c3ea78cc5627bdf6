"""Int8 scalar quantisation of unit vectors: one int8 code per dimension and one float32
scale per vector (symmetric, ``scale = max|x| / 127``).

A sentence vector then takes ``dim + 4`` bytes instead of ``4 * dim`` (388 instead of 1,536 at
384 dimensions) and its cosine with a query is ``scale * (codes . q)``: the error per
dimension is at most half a step (``scale / 2``), which for MiniLM's unit vectors moves a
cosine by about 5e-4 (bench/results/compact.md measures it and the evaluation figures).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

LEVELS = 127  # codes in [-127, 127]: symmetric, so -x is coded as exactly minus x's code


def quantize_int8(vectors: NDArray[np.floating]) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """Codes and per-row scales of a float matrix (a zero row gets scale 0 and codes 0)."""
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a matrix, got shape {x.shape}")
    peak = np.abs(x).max(axis=1) if x.shape[1] else np.zeros(len(x), dtype=np.float32)
    scales = (peak / LEVELS).astype(np.float32)
    safe = np.where(scales > 0, scales, 1.0).astype(np.float32)
    codes = np.clip(np.rint(x / safe[:, None]), -LEVELS, LEVELS).astype(np.int8)
    return codes, scales


def dequantize_int8(codes: NDArray[np.int8], scales: NDArray[np.float32]) -> NDArray[np.float32]:
    """Float32 vectors back from codes and scales (``codes * scale`` row by row)."""
    out: NDArray[np.float32] = np.asarray(codes, dtype=np.float32)
    out *= np.asarray(scales, dtype=np.float32)[:, None]
    return out


def round_trip(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    """What storing ``vectors`` as int8 gives back (to compare fresh vectors with stored ones)."""
    return dequantize_int8(*quantize_int8(vectors))
