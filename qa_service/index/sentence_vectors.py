"""Sentence vectors: one vector per sentence of every passage, stored compactly.

Three encodings are read: product-quantised codes and their codebook (``QA_SENTENCE_VECTORS=pq``,
the default since store format 5: 64 bytes a sentence at 384 dimensions), int8 codes with a
scale per sentence (format 3 and 4, and corpora too small to learn a codebook from: 388 bytes)
and float32 (earlier builds, and ``QA_SENTENCE_VECTORS=float32``: 1,536 bytes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .quantize import PQ_CENTROIDS, decode_pq, dequantize_int8, quantize_int8

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


# Files of the sentence vectors: product-quantised codes and the codebook (store format 5),
# int8 codes with one scale per sentence (format 3 on), or float32; all are read.
PQ_CODES_FILE = "sentence_pq_codes.npy"
PQ_CODEBOOK_FILE = "sentence_pq_codebook.npy"
CODES_FILE = "sentence_codes.npy"
SCALES_FILE = "sentence_scales.npy"
FLOAT_FILE = "sentences.npy"


class SentenceVectors:
    """One vector per sentence of every chunk: sentence-level similarity for ranking
    (a passage is as relevant as its best sentence) and for choosing the answer sentence.

    ``vectors`` is the stored matrix as it is on disk (memory-mapped): product-quantised
    codes when ``codebook`` is given (a cosine is the sum of the query's products with the
    codes' centroids, one per slice: ``quantize``), int8 codes when ``scales`` is given
    (cosine = scale * codes . query), else float32 (float16 for a large old-format index).
    Every accessor returns float32 vectors or cosines.
    """

    def __init__(
        self,
        vectors: NDArray[np.generic],
        owner: NDArray[np.int32],
        spans: NDArray[np.int32],
        scales: NDArray[np.float32] | None = None,
        codebook: NDArray[np.float32] | None = None,
    ) -> None:
        self.vectors = np.asarray(vectors)  # plain array over a memory map, as DenseIndex
        self.scales = scales  # per-sentence scale of int8 codes; None for float vectors
        self.codebook = codebook  # (slices, 256, dim / slices) for PQ codes, else None
        self.owner = owner  # chunk row of each sentence (non-decreasing)
        self.spans = spans  # (start, end) of each sentence within its chunk's text
        self.first = np.searchsorted(owner, np.arange(int(owner.max(initial=-1)) + 2))
        if codebook is not None:
            # Offsets of each slice's centroids in a flattened (slices * 256) lookup table.
            self._slice_base = (np.arange(codebook.shape[0]) * PQ_CENTROIDS).astype(np.int32)

    @classmethod
    def quantized(
        cls, vectors: NDArray[np.float32], owner: NDArray[np.int32], spans: NDArray[np.int32]
    ) -> SentenceVectors:
        """Sentence vectors stored as int8 codes and scales."""
        codes, scales = quantize_int8(vectors)
        return cls(codes, owner, spans, scales)

    @property
    def encoding(self) -> str:
        """How the vectors are held: "pq", "int8", "float32" or "float16"."""
        if self.codebook is not None:
            return "pq"
        return "int8" if self.scales is not None else str(self.vectors.dtype)

    def save(self, folder: Path) -> None:
        """Write the vectors (PQ codes and codebook, int8 codes and scales, or float32) and
        the positions."""
        folder.mkdir(parents=True, exist_ok=True)
        if self.codebook is not None:
            np.save(folder / PQ_CODES_FILE, self.vectors, allow_pickle=False)
            np.save(folder / PQ_CODEBOOK_FILE, self.codebook, allow_pickle=False)
        elif self.scales is not None:
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
        scales = codebook = None
        if (folder / PQ_CODES_FILE).is_file():
            vectors = np.load(folder / PQ_CODES_FILE, allow_pickle=False, mmap_mode=mode)
            codebook = np.load(folder / PQ_CODEBOOK_FILE, allow_pickle=False)
            if (
                vectors.dtype != np.uint8
                or codebook.dtype != np.float32
                or codebook.ndim != 3
                or codebook.shape[1] != PQ_CENTROIDS
                or vectors.ndim != 2
                or vectors.shape[1] != codebook.shape[0]
            ):
                raise ValueError(
                    f"{PQ_CODES_FILE} has dtype {vectors.dtype} and shape {vectors.shape},"
                    f" {PQ_CODEBOOK_FILE} shape {codebook.shape}"
                )
        elif (folder / CODES_FILE).is_file():
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
        if scales is None and codebook is None and len(vectors) > f16_above:
            vectors = _read_float16(folder / FLOAT_FILE)
        return cls(vectors, owner.astype(np.int32), spans.astype(np.int32), scales, codebook)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dimension(self) -> int:
        """Vector dimension."""
        if self.codebook is not None:
            return int(self.codebook.shape[0] * self.codebook.shape[2])
        return int(self.vectors.shape[1])

    def _table(self, query: NDArray[np.float32]) -> NDArray[np.float32]:
        """PQ: the query's product with every centroid, flattened (slice * 256 + code)."""
        assert self.codebook is not None
        m, _, sub = self.codebook.shape
        q = np.asarray(query, dtype=np.float32).reshape(m, sub)
        table: NDArray[np.float32] = np.einsum("mks,ms->mk", self.codebook, q).ravel()
        return table

    def _score(
        self, stored: NDArray[np.generic], query: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        """Cosines of stored rows (codes as on disk) with the query, before int8 scales."""
        if self.codebook is not None:
            # Asymmetric distance: one lookup per slice in the query's table, summed.
            looked = np.take(self._table(query), stored.astype(np.int32) + self._slice_base)
            return np.asarray(looked.sum(axis=1), dtype=np.float32)
        return np.asarray(np.asarray(stored) @ query, dtype=np.float32)

    def _cosines(self, a: int, b: int, query: NDArray[np.float32]) -> NDArray[np.float32]:
        """Cosines of sentences ``a:b`` (consecutive) with the query."""
        sims = self._score(self.vectors[a:b], query)
        if self.scales is not None:
            sims *= self.scales[a:b]
        return sims

    def _decode(
        self, stored: NDArray[np.generic], scales: NDArray[np.float32] | None
    ) -> NDArray[np.float32]:
        if self.codebook is not None:
            return decode_pq(np.asarray(stored), self.codebook)
        if scales is not None:
            return dequantize_int8(np.asarray(stored), scales)
        return np.asarray(stored, dtype=np.float32)

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
            sims = self._score(np.take(self.vectors, idx, axis=0), q)
            if self.scales is not None:
                sims *= np.take(self.scales, idx)
            out[pos] = np.maximum.reduceat(sims, seg)
        return out

    def rows(self, idx: NDArray[np.int64]) -> NDArray[np.float32]:
        """The vectors of the given sentences, as float32."""
        # (FAISS's float16 decoder is no faster than astype on one thread and much slower
        # on two busy ones.)
        taken = np.take(self.vectors, idx, axis=0)
        scales = np.take(self.scales, idx) if self.scales is not None else None
        return self._decode(taken, scales)

    def of_chunk(self, row: int) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
        """The sentence spans of one chunk and their vectors (float32)."""
        if row + 1 >= len(self.first):
            return self.spans[:0], np.zeros((0, self.dimension), dtype=np.float32)
        a, b = int(self.first[row]), int(self.first[row + 1])
        scales = self.scales[a:b] if self.scales is not None else None
        return self.spans[a:b], self._decode(self.vectors[a:b], scales)


# Sentences scored per block when every one is scored (int8 codes become float32 a block at
# a time, never the whole matrix).
_SCAN_BLOCK = 65_536
