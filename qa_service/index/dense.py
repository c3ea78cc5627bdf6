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


# Above this many sentence vectors they are held in RAM as float16 (half the float32 file)
# instead of memory-mapped: at 10,000 reports the file is 9 GB and each query gathered its
# candidates' sentences from random pages of it (bench/results/scale.md, p95). Smaller
# indexes keep the exact float32 vectors.
SENTENCE_F16_ABOVE = 1_000_000
_F16_BLOCK = 65_536  # rows converted at a time, so loading never holds a float32 copy


def _read_float16(path: Path) -> NDArray[np.float16]:
    """A float32 .npy matrix read block by block into a float16 array (plain reads rather
    than a memory map, so the float32 pages are not counted against the process)."""
    with path.open("rb") as f:
        major, _ = np.lib.format.read_magic(f)
        if major == 1:
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        if fortran or dtype != np.float32 or len(shape) != 2:
            raise ValueError(f"{path.name}: expected a C-order float32 matrix")
        rows, dim = shape
        half = np.empty((rows, dim), dtype=np.float16)
        buf = np.empty((_F16_BLOCK, dim), dtype=np.float32)
        for a in range(0, rows, _F16_BLOCK):
            block = buf[: min(_F16_BLOCK, rows - a)]
            if f.readinto(block.data.cast("B")) != block.nbytes:
                raise ValueError(f"{path.name} is shorter than its header says")
            half[a : a + len(block)] = block
    return half


# Files of the sentence vectors: int8 codes with one scale per sentence (written since store
# format 3), or float32 (earlier builds, and QA_SENTENCE_VECTORS=float32); both are read.
CODES_FILE = "sentence_codes.npy"
SCALES_FILE = "sentence_scales.npy"
FLOAT_FILE = "sentences.npy"


class SentenceVectors:
    """One vector per sentence of every chunk: sentence-level similarity for ranking
    (a passage is as relevant as its best sentence) and for choosing the answer sentence.

    ``vectors`` is the stored matrix as it is on disk (memory-mapped): int8 codes when
    ``scales`` is given (cosine = scale * codes . query, ``quantize``), else float32 (float16
    for a large old-format index). Every accessor returns float32 vectors or cosines.
    """

    def __init__(
        self,
        vectors: NDArray[np.generic],
        owner: NDArray[np.int32],
        spans: NDArray[np.int32],
        scales: NDArray[np.float32] | None = None,
    ) -> None:
        self.vectors = np.asarray(vectors)  # plain array over a memory map, as DenseIndex
        self.scales = scales  # per-sentence scale of int8 codes; None for float vectors
        self.owner = owner  # chunk row of each sentence (non-decreasing)
        self.spans = spans  # (start, end) of each sentence within its chunk's text
        self.first = np.searchsorted(owner, np.arange(int(owner.max(initial=-1)) + 2))

    @classmethod
    def quantized(
        cls, vectors: NDArray[np.float32], owner: NDArray[np.int32], spans: NDArray[np.int32]
    ) -> SentenceVectors:
        """Sentence vectors stored as int8 codes and scales."""
        codes, scales = quantize_int8(vectors)
        return cls(codes, owner, spans, scales)

    @property
    def encoding(self) -> str:
        """How the vectors are held: "int8", "float32" or "float16"."""
        return "int8" if self.scales is not None else str(self.vectors.dtype)

    def save(self, folder: Path) -> None:
        """Write the vectors (int8 codes and scales, or float32) and the positions."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.scales is not None:
            np.save(folder / CODES_FILE, self.vectors, allow_pickle=False)
            np.save(folder / SCALES_FILE, self.scales, allow_pickle=False)
        else:
            np.save(folder / FLOAT_FILE, self.rows(np.arange(len(self))), allow_pickle=False)
        self.save_positions(folder, self.owner, self.spans)

    @staticmethod
    def save_positions(folder: Path, owner: NDArray[np.int32], spans: NDArray[np.int32]) -> None:
        """Write sentence_owner.npy and sentence_spans.npy (the vectors are written apart)."""
        np.save(folder / "sentence_owner.npy", owner, allow_pickle=False)
        np.save(folder / "sentence_spans.npy", spans, allow_pickle=False)

    @classmethod
    def load(
        cls, folder: Path, mmap: bool = True, f16_above: int = SENTENCE_F16_ABOVE
    ) -> SentenceVectors:
        """Read what ``save`` wrote. The vectors are memory-mapped by default: nothing of them
        is read until a search asks for its candidates' sentences, and server processes share
        the pages. More than ``f16_above`` float32 vectors (an old-format index) are read into
        RAM as float16 instead."""
        mode: Literal["r"] | None = "r" if mmap else None
        owner = np.load(folder / "sentence_owner.npy", allow_pickle=False)
        spans = np.load(folder / "sentence_spans.npy", allow_pickle=False)
        scales = None
        if (folder / CODES_FILE).is_file():
            vectors = np.load(folder / CODES_FILE, allow_pickle=False, mmap_mode=mode)
            scales = np.load(folder / SCALES_FILE, allow_pickle=False, mmap_mode=mode)
            if (
                vectors.dtype != np.int8
                or scales.dtype != np.float32
                or scales.shape != (len(vectors),)
            ):
                raise ValueError(
                    f"{CODES_FILE} has dtype {vectors.dtype}, {SCALES_FILE} {scales.dtype}"
                    f" and shape {scales.shape}"
                )
        else:
            vectors = np.load(folder / FLOAT_FILE, allow_pickle=False, mmap_mode=mode)
            if vectors.dtype != np.float32:
                raise ValueError(f"{FLOAT_FILE} has dtype {vectors.dtype}")
        if vectors.ndim != 2:
            raise ValueError(f"sentence vectors have shape {vectors.shape}")
        if not (len(vectors) == len(owner) == len(spans)):
            raise ValueError("sentence files disagree in length")
        if scales is None and len(vectors) > f16_above:
            vectors = _read_float16(folder / FLOAT_FILE)
        return cls(vectors, owner.astype(np.int32), spans.astype(np.int32), scales)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dimension(self) -> int:
        """Vector dimension."""
        return int(self.vectors.shape[1])

    def _cosines(self, a: int, b: int, query: NDArray[np.float32]) -> NDArray[np.float32]:
        """Cosines of sentences ``a:b`` (consecutive) with the query."""
        sims = np.asarray(self.vectors[a:b] @ query, dtype=np.float32)
        if self.scales is not None:
            sims *= self.scales[a:b]
        return sims

    def best_per_chunk(
        self, query: NDArray[np.float32], n_chunks: int, rows: NDArray[np.int64] | None = None
    ) -> NDArray[np.float32]:
        """Each chunk's best sentence cosine with the query (-1 for chunks without sentences
        or not in ``rows``); with ``rows`` only those chunks' sentences are scored."""
        best = np.full(n_chunks, -1.0, dtype=np.float32)
        if rows is None:
            if len(self.owner):
                q = query.astype(np.float32)
                sims = np.concatenate(
                    [
                        self._cosines(a, min(a + _SCAN_BLOCK, len(self)), q)
                        for a in range(0, len(self), _SCAN_BLOCK)
                    ]
                )
                # owner is sorted: each chunk's sentences are one run starting at ``first``
                starts = self.first[:-1]
                has = starts < self.first[1:]
                head = best[: len(starts)]  # chunks after the last sentence's owner have none
                head[has] = np.maximum(np.maximum.reduceat(sims, starts[has]), -1.0)
            return best
        best[rows] = self.best_of_rows(query, rows)
        return best

    def best_of_rows(
        self, query: NDArray[np.float32], rows: NDArray[np.int64]
    ) -> NDArray[np.float32]:
        """The best sentence cosine of each of ``rows`` (-1 for a chunk without sentences)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.full(len(rows), -1.0, dtype=np.float32)
        # chunks after the last sentence's owner have none
        pos = np.flatnonzero(rows + 1 < len(self.first))
        starts, ends = self.first[rows[pos]], self.first[rows[pos] + 1]
        lens = ends - starts
        pos, starts, lens = pos[lens > 0], starts[lens > 0], lens[lens > 0]
        if len(pos):
            # The rows' sentences gathered in one index array, scored in one product.
            seg = np.concatenate([[0], np.cumsum(lens)[:-1]])
            idx = np.repeat(starts - seg, lens) + np.arange(int(lens.sum()))
            q = query.astype(np.float32)
            # np.take copies whole rows: a third of the time of fancy indexing (1,000 rows of
            # float16: 0.1 instead of 0.3 ms).
            sims = np.asarray(np.take(self.vectors, idx, axis=0) @ q, dtype=np.float32)
            if self.scales is not None:
                sims *= np.take(self.scales, idx)
            out[pos] = np.maximum.reduceat(sims, seg)
        return out

    def rows(self, idx: NDArray[np.int64]) -> NDArray[np.float32]:
        """The vectors of the given sentences, as float32."""
        # (FAISS's float16 decoder is no faster than astype on one thread and much slower
        # on two busy ones.)
        taken = np.take(self.vectors, idx, axis=0)
        if self.scales is not None:
            return dequantize_int8(taken, np.take(self.scales, idx))
        return np.asarray(taken, dtype=np.float32)

    def of_chunk(self, row: int) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The sentence spans of one chunk and their vectors (float32)."""
        if row + 1 >= len(self.first):
            return self.spans[:0], np.zeros((0, self.dimension), dtype=np.float32)
        a, b = int(self.first[row]), int(self.first[row + 1])
        if self.scales is not None:
            return self.spans[a:b], dequantize_int8(self.vectors[a:b], self.scales[a:b])
        return self.spans[a:b], np.asarray(self.vectors[a:b], dtype=np.float32)


# Sentences scored per block when every one is scored (int8 codes become float32 a block at
# a time, never the whole matrix).
_SCAN_BLOCK = 65_536
