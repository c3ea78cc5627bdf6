"""FAISS inner-product search over L2-normalised vectors (cosine similarity).

Vectors are the source of truth on disk (``vectors.npy``, no pickle); the FAISS index is
rebuilt from them at load, which for exact search is a copy. Above ``APPROX_THRESHOLD``
vectors an HNSW graph is built instead (approximate search; see bench/ for the measured
crossover) and saved beside the vectors with FAISS's own binary format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .quantize import dequantize_int8, quantize_int8

# Re-exported: the sentence vectors live in their own module (sentence_vectors.py).
from .sentence_vectors import (
    CODES_FILE,
    FLOAT_FILE,
    PQ_CODEBOOK_FILE,
    PQ_CODES_FILE,
    SCALES_FILE,
    SENTENCE_F16_ABOVE,
    SentenceVectors,
)

__all__ = [
    "CODES_FILE",
    "FLOAT_FILE",
    "PQ_CODEBOOK_FILE",
    "PQ_CODES_FILE",
    "SCALES_FILE",
    "SENTENCE_F16_ABOVE",
    "DenseIndex",
    "SentenceVectors",
]

# Below this many passages an exact scan is fast enough and has perfect recall; above it an
# HNSW graph is used. Measured on 2 cores at 384 dimensions (bench/results/dense_scale.md):
# the exact scan takes 1.6 ms at 50k passages but 11 ms at 100k, as long as encoding the query
# itself, while HNSW answers in ~0.2 ms with recall@10 of 1.0 (0.996 at 200k).
APPROX_THRESHOLD = 75_000
_HNSW_M = 32


# scores_of reads runs of consecutive rows in place when there are at least this many rows
# and the runs average at least this length.
_RUN_MIN_ROWS = 2_048
_RUN_MIN_LENGTH = 16


class DenseIndex:
    """Exact (flat) or approximate (HNSW) inner-product index over unit vectors.

    ``kind`` "flat" keeps float32 vectors; "hnsw-int8" (the approximate index since store
    format 3) keeps int8 codes with a scale per vector (``quantize``) as the vectors, and an
    HNSW graph over FAISS's own 8-bit scalar-quantised copy; "hnsw" (older builds, or
    ``QA_APPROX_VECTORS=float32``) keeps float32 vectors and a float32 graph storage.
    """

    def __init__(
        self,
        vectors: NDArray[np.generic],
        index: Any,
        kind: str,
        scales: NDArray[np.float32] | None = None,
    ) -> None:
        # A plain array over a memory map (no copy): row reads skip np.memmap's per-slice
        # Python overhead, which per search added up to ~0.1 ms.
        self.vectors = np.asarray(vectors)
        self.scales = scales  # per-vector scale of int8 codes; None for float32 vectors
        self._index = index
        self.kind = kind

    @classmethod
    def build(
        cls,
        vectors: NDArray[np.float32],
        approx_threshold: int = APPROX_THRESHOLD,
        int8: bool = True,
    ) -> DenseIndex:
        """Index vectors (rows must be L2-normalised); above the threshold an HNSW graph,
        over int8 vectors unless ``int8`` is false."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        index: Any
        if len(vectors) > approx_threshold and int8:
            codes, scales = quantize_int8(vectors)
            stored = dequantize_int8(codes, scales)  # what every later build reads back
            qt: Any = faiss.ScalarQuantizer.QT_8bit  # an int enum the stubs type otherwise
            index = faiss.IndexHNSWSQ(dim, qt, _HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = 64
            index.train(stored)
            index.add(stored)
            return cls(codes, index, "hnsw-int8", scales)
        if len(vectors) > approx_threshold:
            index = faiss.IndexHNSWFlat(dim, _HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = 64
            kind = "hnsw"
        else:
            index = faiss.IndexFlatIP(dim)
            kind = "flat"
        index.add(vectors)
        return cls(vectors, index, kind)

    def save(self, folder: Path) -> None:
        """Write vectors.npy (codes.npy and scales.npy for int8) and hnsw.faiss if approximate."""
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        if self.scales is not None:
            np.save(folder / "codes.npy", self.vectors, allow_pickle=False)
            np.save(folder / "scales.npy", self.scales, allow_pickle=False)
        else:
            np.save(folder / "vectors.npy", self.vectors, allow_pickle=False)
        if self.kind != "flat":
            faiss.write_index(self._index, str(folder / "hnsw.faiss"))

    @classmethod
    def load(cls, folder: Path, kind: str, mmap: bool = False) -> DenseIndex:
        """Read an index written by ``save``."""
        import faiss

        mode: Literal["r"] | None = "r" if mmap else None
        if kind == "hnsw-int8":
            codes = np.load(folder / "codes.npy", allow_pickle=False, mmap_mode=mode)
            scales = np.load(folder / "scales.npy", allow_pickle=False, mmap_mode=mode)
            if codes.dtype != np.int8 or codes.ndim != 2 or scales.shape != (len(codes),):
                raise ValueError(f"codes.npy has dtype {codes.dtype} and shape {codes.shape}")
            index = faiss.read_index(str(folder / "hnsw.faiss"))
            if index.ntotal != len(codes):
                raise ValueError(f"hnsw.faiss holds {index.ntotal} vectors, not {len(codes)}")
            return cls(codes, index, kind, scales)
        vectors = np.load(folder / "vectors.npy", allow_pickle=False, mmap_mode=mode)
        if vectors.dtype != np.float32 or vectors.ndim != 2:
            raise ValueError(f"vectors.npy has dtype {vectors.dtype} and shape {vectors.shape}")
        if kind == "hnsw":
            index = faiss.read_index(str(folder / "hnsw.faiss"))
            if index.ntotal == len(vectors):
                # The graph keeps its own float32 copy of the vectors in RAM: read rows from
                # it rather than page-faulting them in from vectors.npy.
                vectors = _stored_vectors(index, vectors.shape[1])
        else:
            index = faiss.IndexFlatIP(vectors.shape[1])
            index.add(np.ascontiguousarray(vectors))
        return cls(vectors, index, kind)

    @property
    def dimension(self) -> int:
        """Vector dimension."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def search(
        self, query: NDArray[np.float32], k: int
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-k (scores, row ids) for one unit query vector; ids are -1 past the end."""
        k = max(1, min(k, len(self)))
        scores, ids = self._index.search(
            np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k
        )
        if self.scales is None:
            return scores[0], ids[0]
        # The graph ranks by FAISS's 8-bit estimates; the scores given are the stored int8
        # vectors' cosines, as every other score of this index, in their order.
        found = ids[0][ids[0] >= 0]
        exact = self.scores_of(query, found)
        order = np.argsort(-exact, kind="stable")
        out_scores = np.full(k, -np.inf, dtype=np.float32)
        out_ids = np.full(k, -1, dtype=np.int64)
        out_scores[: len(found)], out_ids[: len(found)] = exact[order], found[order]
        return out_scores, out_ids

    def rows(self, idx: NDArray[np.int64]) -> NDArray[np.float32]:
        """The stored vectors of the given rows, as float32."""
        taken = np.take(self.vectors, idx, axis=0)
        if self.scales is not None:
            return dequantize_int8(taken, np.take(self.scales, idx))
        return np.asarray(taken, dtype=np.float32)

    def scores_of(self, query: NDArray[np.float32], rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """Cosine similarity of the query with the given rows' vectors."""
        q = query.astype(np.float32)
        rows = np.asarray(rows, dtype=np.int64)
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        if len(rows) >= _RUN_MIN_ROWS and len(breaks) * _RUN_MIN_LENGTH < len(rows):
            # Mostly runs of consecutive rows (a filter's reports: their passages are stored
            # together): one product per run reads the vectors in place instead of copying
            # them (25k rows: 4 ms instead of 10).
            starts = rows[np.concatenate([[0], breaks])]
            ends = rows[np.concatenate([breaks - 1, [len(rows) - 1]])] + 1
            parts = [
                np.asarray(self.vectors[a:b] @ q, dtype=np.float32)
                for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
            ]
            sims = np.concatenate(parts).astype(np.float32, copy=False)
        else:
            sims = np.asarray(np.take(self.vectors, rows, axis=0) @ q, dtype=np.float32)
        if self.scales is not None:
            sims *= np.take(self.scales, rows)
        return sims

    def all_scores(self, query: NDArray[np.float32]) -> NDArray[np.float32]:
        """Cosine similarity of the query with every vector (exact, for small indexes)."""
        sims = np.asarray(self.vectors @ query.astype(np.float32), dtype=np.float32)
        if self.scales is not None:
            sims *= self.scales
        return sims


def _stored_vectors(index: Any, dim: int) -> NDArray[np.float32]:
    """A read-only numpy view of an HNSW index's flat storage (no copy; lives with ``index``)."""
    import faiss

    storage: Any = faiss.downcast_index(index.storage)
    view = faiss.rev_swig_ptr(storage.get_xb(), index.ntotal * dim).reshape(index.ntotal, dim)
    view.flags.writeable = False
    return np.asarray(view, dtype=np.float32)
