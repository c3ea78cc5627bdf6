"""FAISS inner-product search over L2-normalised vectors (cosine similarity).

Below ``APPROX_THRESHOLD`` vectors they are the source of truth on disk (``vectors.npy``, no
pickle) and the exact FAISS index is rebuilt from them at load (a copy). Above it an HNSW graph
is built instead (approximate search; see bench/ for the measured crossover) and saved with
FAISS's own binary format; since store format 6 its 8-bit codes are the only copy of the
vectors (``hnsw.faiss``, memory-mapped by FAISS at load).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .quantize import dequantize_int8, set_sq8_ranges, sq8_fits

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
    "stored_passage_vectors",
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

    ``kind`` "flat" keeps float32 vectors; "hnsw-sq8" (the approximate index since store
    format 6) an HNSW graph whose storage, FAISS's 8-bit scalar-quantised codes with a range
    per dimension (``quantize.sq8_*``), is the only copy of the vectors: every score is taken
    against the decoded codes. "hnsw-int8" (formats 3 to 5, still read) keeps int8 codes with
    a scale per vector as the vectors and the graph over FAISS's own 8-bit copy of them;
    "hnsw" (``QA_APPROX_VECTORS=float32``) keeps float32 vectors and a float32 graph storage.
    """

    def __init__(
        self,
        vectors: NDArray[np.generic],
        index: Any,
        kind: str,
        scales: NDArray[np.float32] | None = None,
        affine: tuple[NDArray[np.float32], NDArray[np.float32]] | None = None,
    ) -> None:
        # A plain array over a memory map (no copy): row reads skip np.memmap's per-slice
        # Python overhead, which per search added up to ~0.1 ms.
        self.vectors = np.asarray(vectors)
        self.scales = scales  # per-vector scale of int8 codes; None for float32 vectors
        # 8-bit codes with a range per dimension decode to ``offset + codes * step``.
        self.affine = affine
        self._index = index
        self.kind = kind

    @classmethod
    def build(
        cls,
        vectors: NDArray[np.float32],
        approx_threshold: int = APPROX_THRESHOLD,
        int8: bool = True,
        ranges: NDArray[np.float32] | None = None,
    ) -> DenseIndex:
        """Index vectors (rows must be L2-normalised); above the threshold an HNSW graph,
        over 8-bit codes unless ``int8`` is false. ``ranges``: the 8-bit ranges of the
        previous generation, kept when every vector fits them (the vectors it stored, read
        back, then code to the very same codes: reuse never drifts); else they are learnt."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        index: Any
        if len(vectors) > approx_threshold and int8:
            qt: Any = faiss.ScalarQuantizer.QT_8bit  # an int enum the stubs type otherwise
            index = faiss.IndexHNSWSQ(dim, qt, _HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.hnsw.efSearch = 64
            storage: Any = faiss.downcast_index(index.storage)
            if ranges is not None and ranges.shape == (2 * dim,) and sq8_fits(vectors, ranges):
                set_sq8_ranges(storage.sq, ranges)
                storage.is_trained = index.is_trained = True
            else:
                set_sq8_ranges(storage.sq, None)
                index.train(vectors)
            index.add(vectors)
            return cls._over_codes(index)
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

    @classmethod
    def _over_codes(cls, index: Any) -> DenseIndex:
        """An "hnsw-sq8" index reading its vectors from the graph's 8-bit codes (no copy)."""
        import faiss

        storage: Any = faiss.downcast_index(index.storage)
        dim = int(index.d)
        if not isinstance(storage, faiss.IndexScalarQuantizer) or storage.code_size != dim:
            raise ValueError("hnsw.faiss does not hold 8-bit scalar-quantised vectors")
        n = int(index.ntotal)
        if n:
            codes = faiss.rev_swig_ptr(storage.codes.data(), n * dim).reshape(n, dim)
            codes.flags.writeable = False
        else:
            codes = np.zeros((0, dim), dtype=np.uint8)
        # Decoding is affine in the code, per dimension: read it off FAISS's own decoder (the
        # step from the two ends, so that its rounding error is not multiplied by the code).
        low, high = storage.sa_decode(np.array([[0] * dim, [255] * dim], dtype=np.uint8))
        affine = (low.astype(np.float32), ((high - low) / 255).astype(np.float32))
        return cls(codes, index, "hnsw-sq8", affine=affine)

    @property
    def ranges(self) -> NDArray[np.float32] | None:
        """The 8-bit codes' ranges (FAISS's trained array) of an "hnsw-sq8" index, else None."""
        import faiss

        if self.kind != "hnsw-sq8":
            return None
        storage: Any = faiss.downcast_index(self._index.storage)
        return faiss.vector_to_array(storage.sq.trained).astype(np.float32)

    def save(self, folder: Path) -> None:
        """Write vectors.npy (codes.npy and scales.npy for int8) and hnsw.faiss if approximate
        (for "hnsw-sq8" hnsw.faiss alone: its codes are the vectors)."""
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        if self.scales is not None:
            np.save(folder / "codes.npy", self.vectors, allow_pickle=False)
            np.save(folder / "scales.npy", self.scales, allow_pickle=False)
        elif self.kind != "hnsw-sq8":
            np.save(folder / "vectors.npy", self.vectors, allow_pickle=False)
        if self.kind != "flat":
            faiss.write_index(self._index, str(folder / "hnsw.faiss"))

    @classmethod
    def load(cls, folder: Path, kind: str, mmap: bool = False) -> DenseIndex:
        """Read an index written by ``save``."""
        import faiss

        mode: Literal["r"] | None = "r" if mmap else None
        if kind == "hnsw-sq8":
            # IO_FLAG_MMAP_IFC: the codes stay in the file (the page cache holds one copy,
            # shared by every server process); the graph is read into memory.
            flags = faiss.IO_FLAG_MMAP_IFC if mmap else 0
            return cls._over_codes(faiss.read_index(str(folder / "hnsw.faiss"), flags))
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
        if self.scales is None and self.affine is None:
            return scores[0], ids[0]
        # The graph ranks by FAISS's 8-bit estimates; the scores given are those of
        # ``scores_of``, as every other score of this index, in their order (for "hnsw-sq8"
        # the same cosines up to the order of summation, so ties break the same way).
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
        if self.affine is not None:
            offset, step = self.affine
            decoded: NDArray[np.float32] = taken.astype(np.float32)
            decoded *= step
            decoded += offset
            return decoded
        return np.asarray(taken, dtype=np.float32)

    def scores_of(self, query: NDArray[np.float32], rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """Cosine similarity of the query with the given rows' vectors."""
        q, bias = self._query(query)
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
        if bias:
            sims += bias
        return sims

    def all_scores(self, query: NDArray[np.float32]) -> NDArray[np.float32]:
        """Cosine similarity of the query with every vector (exact, for small indexes)."""
        q, bias = self._query(query)
        sims = np.asarray(self.vectors @ q, dtype=np.float32)
        if self.scales is not None:
            sims *= self.scales
        if bias:
            sims += bias
        return sims

    def _query(self, query: NDArray[np.float32]) -> tuple[NDArray[np.float32], float]:
        """The vector to multiply the stored rows by, and the constant to add: for 8-bit
        codes ``q . (offset + c * step) = c . (q * step) + q . offset``."""
        q = query.astype(np.float32)
        if self.affine is None:
            return q, 0.0
        offset, step = self.affine
        return q * step, float(q @ offset)


def _stored_vectors(index: Any, dim: int) -> NDArray[np.float32]:
    """A read-only numpy view of an HNSW index's flat storage (no copy; lives with ``index``)."""
    import faiss

    storage: Any = faiss.downcast_index(index.storage)
    view = faiss.rev_swig_ptr(storage.get_xb(), index.ntotal * dim).reshape(index.ntotal, dim)
    view.flags.writeable = False
    return np.asarray(view, dtype=np.float32)


def stored_passage_vectors(
    folder: Path, kind: str, block: int = 65_536
) -> tuple[NDArray[np.float32], NDArray[np.float32] | None]:
    """A generation's passage vectors as float32 (float32 files memory-mapped, no copy), and
    the ranges of their 8-bit codes if they are stored as such (what the next build reuses)."""
    if kind not in ("hnsw-int8", "hnsw-sq8"):
        vectors: NDArray[np.float32] = np.load(
            folder / "vectors.npy", mmap_mode="r", allow_pickle=False
        )
        return vectors, None
    index = DenseIndex.load(folder, kind, mmap=True)
    out = np.empty((len(index), index.dimension), dtype=np.float32)
    for a in range(0, len(index), block):
        out[a : a + block] = index.rows(np.arange(a, min(a + block, len(index))))
    return out, index.ranges
