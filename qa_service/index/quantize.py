"""Int8 scalar quantisation of unit vectors: one int8 code per dimension and one float32
scale per vector (symmetric, ``scale = max|x| / 127``).

A sentence vector then takes ``dim + 4`` bytes instead of ``4 * dim`` (388 instead of 1,536 at
384 dimensions) and its cosine with a query is ``scale * (codes . q)``: the error per
dimension is at most half a step (``scale / 2``), which for MiniLM's unit vectors moves a
cosine by about 5e-4 (bench/results/compact.md measures it and the evaluation figures).
"""

from __future__ import annotations

from typing import Any

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


# 8-bit scalar quantisation with a range per dimension (store format 6: the vectors of an HNSW
# passage index). FAISS's ``QT_8bit`` codes ``x`` in dimension ``j`` as
# ``floor(255 * (x - vmin_j) / vdiff_j)`` (clamped to [0, 255]) and decodes the code ``c`` to
# the middle of its step, ``vmin_j + (c + 0.5) / 255 * vdiff_j``, so a decoded vector codes to
# the same codes again as long as the ranges are kept. The ranges are the training vectors'
# minimum and maximum per dimension, widened by SQ8_MARGIN of the width on both sides so that
# later vectors usually fall inside them. ``ranges`` below is FAISS's trained array: the
# ``d`` minimums, then the ``d`` widths.
SQ8_MARGIN = 0.05


def sq8_quantizer(dim: int, ranges: NDArray[np.float32] | None = None) -> Any:
    """A FAISS 8-bit scalar quantizer for ``dim`` dimensions, trained with ``ranges`` if given."""
    import faiss

    qt: Any = faiss.ScalarQuantizer.QT_8bit  # an int enum the stubs type otherwise
    sq = faiss.ScalarQuantizer(dim, qt)
    set_sq8_ranges(sq, ranges)
    return sq


def set_sq8_ranges(sq: Any, ranges: NDArray[np.float32] | None) -> None:
    """Give a FAISS 8-bit scalar quantizer (``sq``, or an index's ``storage.sq``) the margin
    its ranges are learnt with, and ``ranges`` as its trained ranges when given."""
    import faiss

    sq.rangestat_arg = SQ8_MARGIN
    if ranges is None:
        return
    if ranges.shape != (2 * sq.d,):
        raise ValueError(f"8-bit ranges of shape {ranges.shape} do not fit {sq.d} dimensions")
    faiss.copy_array_to_vector(np.ascontiguousarray(ranges, dtype=np.float32), sq.trained)


def sq8_fits(vectors: NDArray[np.floating], ranges: NDArray[np.float32]) -> bool:
    """Whether every component of ``vectors`` lies inside ``ranges`` (none would be clamped)."""
    dim = ranges.shape[0] // 2
    x = np.asarray(vectors)
    if x.shape[1:] != (dim,):
        return False
    if not len(x):
        return True
    low, width = ranges[:dim], ranges[dim:]
    return bool((x.min(axis=0) >= low).all() and (x.max(axis=0) <= low + width).all())


def sq8_round_trip(
    vectors: NDArray[np.floating], ranges: NDArray[np.float32]
) -> NDArray[np.float32]:
    """What storing ``vectors`` as 8-bit codes with ``ranges`` gives back."""
    sq = sq8_quantizer(ranges.shape[0] // 2, ranges)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    out: NDArray[np.float32] = sq.decode(sq.compute_codes(x))
    return out


# Product quantisation (store format 5): a vector is cut into ``m`` sub-vectors and each is
# stored as the number (one byte) of its nearest of 256 centroids learnt for that slice, so a
# 384-dimension sentence takes ``m`` bytes (64 instead of int8's 388). Cosines with a query are
# taken against the decoded vectors (the query stays float32: asymmetric distance). Coding a
# decoded vector again with the same codebook gives the same codes (each slice is a centroid),
# so a build that keeps its predecessor's codebook reuses stored vectors without drift.
PQ_BITS = 8
PQ_CENTROIDS = 1 << PQ_BITS
# Training asks for this many vectors per centroid at least; fewer sentences are stored as
# int8 (a few hundred sentences take a few hundred kilobytes either way).
PQ_MIN_TRAIN = 4 * PQ_CENTROIDS
PQ_TRAIN_SAMPLE = 65_536  # vectors the codebook is learnt from (a random sample above it)


def train_pq(vectors: NDArray[np.floating], m: int, seed: int = 0) -> NDArray[np.float32]:
    """A product-quantisation codebook (``m`` slices of 256 centroids: shape (m, 256, dim/m))
    learnt from ``vectors`` (a sample of at most PQ_TRAIN_SAMPLE rows)."""
    import faiss

    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] % m:
        raise ValueError(f"cannot cut vectors of shape {x.shape} into {m} slices")
    if len(x) > PQ_TRAIN_SAMPLE:
        pick = np.random.default_rng(seed).choice(len(x), PQ_TRAIN_SAMPLE, replace=False)
        x = x[np.sort(pick)]
    pq = faiss.ProductQuantizer(x.shape[1], m, PQ_BITS)
    pq.verbose = False
    pq.cp.seed = seed
    pq.cp.max_points_per_centroid = max(256, -(-len(x) // PQ_CENTROIDS))  # no resampling
    pq.train(np.ascontiguousarray(x))
    return faiss.vector_to_array(pq.centroids).reshape(m, PQ_CENTROIDS, -1).astype(np.float32)


def _quantizer(codebook: NDArray[np.float32]) -> object:
    import faiss

    m, k, sub = codebook.shape
    if k != PQ_CENTROIDS:
        raise ValueError(f"a codebook has {PQ_CENTROIDS} centroids a slice, not {k}")
    pq = faiss.ProductQuantizer(m * sub, m, PQ_BITS)
    faiss.copy_array_to_vector(
        np.ascontiguousarray(codebook, dtype=np.float32).ravel(), pq.centroids
    )
    return pq


def encode_pq(vectors: NDArray[np.floating], codebook: NDArray[np.float32]) -> NDArray[np.uint8]:
    """Codes (one byte per slice) of vectors: each slice's nearest centroid."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    codes: NDArray[np.uint8] = _quantizer(codebook).compute_codes(x)  # type: ignore[attr-defined]
    return codes


def decode_pq(codes: NDArray[np.uint8], codebook: NDArray[np.float32]) -> NDArray[np.float32]:
    """Float32 vectors back from codes: each slice's centroid."""
    m = codebook.shape[0]
    c = np.asarray(codes, dtype=np.intp)
    if c.ndim != 2 or c.shape[1] != m:
        raise ValueError(f"codes of shape {c.shape} do not fit a codebook of {m} slices")
    # out[i, j*sub:(j+1)*sub] = codebook[j, c[i, j]]: one gather, no FAISS object per call.
    out = codebook[np.arange(m), c]  # (n, m, sub)
    return np.ascontiguousarray(out.reshape(len(c), -1), dtype=np.float32)
