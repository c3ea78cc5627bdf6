"""BM25 over chunks with bm25s (English stemming and stop words); plain-file save/load.

Each posting's BM25 score is stored in one byte (store format 6): a term's scores as codes 1
to 255 of its highest score, ``score = code * scale[term]`` (``TERM_SCALES_FILE``), so the error
is at most half a step, 0.2% of the term's highest score; bm25s's float32 scores took four on
disk. The codes are decoded to float32 once, when the index is built or loaded, so a query
reads the same floats either way and pays nothing to decode. Indexes with float32 scores are
read.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .topk import top_rows

_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
# In an index of at least _WIDE_MIN_CHUNKS chunks, a term in more than _WIDE_SHARE of them
# keeps its scores, once read, as one corpus-sized array (0 where it is absent), up to
# _WIDE_MAX_BYTES in all: adding that array streams 4 bytes a chunk, which costs less than
# scattering that many postings one by one, and gives the same floats (x + 0 == x).
_WIDE_MIN_CHUNKS = 50_000
_WIDE_SHARE = 0.2
_WIDE_MAX_BYTES = 256 * 2**20
_split = re.compile(_TOKEN_PATTERN).findall
TERM_SCALES_FILE = "term_scales.npy"
_CODE_MAX = 255


def quantize_scores(
    data: NDArray[np.floating], indptr: NDArray[np.integer]
) -> tuple[NDArray[np.uint8], NDArray[np.float32]]:
    """One-byte codes of the postings' scores (CSC ``data`` by term, ``indptr`` its bounds)
    and a scale per term: ``code = round(score / scale)`` with ``scale = max / 255``, at least
    1, so a chunk holding a term always scores above 0."""
    bounds = np.asarray(indptr, dtype=np.int64)
    values = np.asarray(data, dtype=np.float32)
    lengths = np.diff(bounds)
    peaks = np.zeros(len(lengths), dtype=np.float32)
    used = lengths > 0
    if values.size:
        peaks[used] = np.maximum.reduceat(values, bounds[:-1][used])
    scales = (peaks / _CODE_MAX).astype(np.float32)
    per_posting = np.repeat(np.where(scales > 0, scales, 1).astype(np.float32), lengths)
    codes = np.clip(np.rint(values / per_posting), 1, _CODE_MAX).astype(np.uint8)
    return codes, scales


def decode_scores(
    codes: NDArray[np.uint8], scales: NDArray[np.float32], indptr: NDArray[np.integer]
) -> NDArray[np.float32]:
    """The float32 scores of ``quantize_scores``'s codes."""
    bounds: NDArray[np.int64] = np.asarray(indptr, dtype=np.int64)
    out = np.asarray(codes, dtype=np.float32)
    out *= np.repeat(scales, bounds[1:] - bounds[:-1])
    return out


@functools.cache
def _stopwords() -> frozenset[str]:
    """What ``bm25s.tokenize(stopwords="en")`` removes (bm25s is imported on first use: it
    takes ~0.2 s, which commands that never touch BM25 should not pay)."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def _stemmer() -> Any:
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # PyStemmer is optional in bm25s: degrade to no stemming
        return None


class LexicalIndex:
    """BM25 scores for every chunk; queries may weight their terms."""

    def __init__(
        self,
        retriever: Any,
        stemmer: Any,
        stored: tuple[NDArray[np.uint8], NDArray[np.float32]] | None = None,
    ) -> None:
        self._bm25 = retriever
        self._stemmer = stemmer
        self._vocab: dict[str, int] = dict(retriever.vocab_dict)
        self._wide: dict[int, NDArray[np.float32]] = {}  # term id -> score of every chunk
        # What ``save`` writes in place of the float32 scores: their codes and term scales.
        self._stored = stored

    @classmethod
    def build(cls, texts: list[str], k1: float = 1.2, b: float = 0.75) -> LexicalIndex:
        """Index texts (one per chunk, in chunk order)."""
        import bm25s

        stemmer = _stemmer()
        tokens = bm25s.tokenize(
            texts,
            stopwords="en",
            stemmer=stemmer,
            show_progress=False,
            token_pattern=_TOKEN_PATTERN,
        )
        retriever = bm25s.BM25(k1=k1, b=b)
        retriever.index(tokens, show_progress=False)
        # Coded at once, so an index scores the same before it is saved as after.
        indptr = retriever.scores["indptr"]
        codes, scales = quantize_scores(retriever.scores["data"], indptr)
        retriever.scores["data"] = decode_scores(codes, scales, indptr)
        return cls(retriever, stemmer, (codes, scales))

    def save(self, folder: Path) -> None:
        """Write plain .npy/.json files (no pickle): bm25s's, with the scores as one-byte
        codes and ``TERM_SCALES_FILE`` beside them."""
        if self._stored is None:
            self._bm25.save(str(folder), allow_pickle=False)
            return
        scores = self._bm25.scores
        decoded = scores["data"]
        codes, scales = self._stored
        scores["data"] = codes  # (builds save the index they made; nothing queries it yet)
        try:
            self._bm25.save(str(folder), allow_pickle=False)
        finally:
            scores["data"] = decoded
        np.save(folder / TERM_SCALES_FILE, scales, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> LexicalIndex:
        """Read an index written by ``save``."""
        import bm25s

        retriever = bm25s.BM25.load(str(folder), allow_pickle=False, mmap=mmap)
        # Native-width row numbers: numpy converts int32 indexes on every scatter otherwise
        # (2 of 10 ms per query at 1.1M passages).
        retriever.scores["indices"] = np.asarray(retriever.scores["indices"], dtype=np.intp)
        data = retriever.scores["data"]
        if (folder / TERM_SCALES_FILE).exists():
            scales = np.load(folder / TERM_SCALES_FILE, allow_pickle=False)
            terms = len(retriever.scores["indptr"]) - 1
            if data.dtype != np.uint8 or scales.shape != (terms,) or scales.dtype != np.float32:
                raise ValueError(f"{TERM_SCALES_FILE} does not fit the index's {terms} terms")
            retriever.scores["data"] = decode_scores(data, scales, retriever.scores["indptr"])
        elif data.dtype != np.float32:
            raise ValueError(f"BM25 scores of dtype {data.dtype} without {TERM_SCALES_FILE}")
        index = cls(retriever, _stemmer())
        index.keep_common_terms()
        return index

    def keep_common_terms(self) -> int:
        """Build the score arrays of the common terms now, commonest first, rather than on a
        query's first use (each costs that query a few ms at a million chunks); returns how
        many are kept (46 terms, 200 MB at 10,000 synthetic reports; none below 50k chunks)."""
        if self.size < _WIDE_MIN_CHUNKS:
            return 0
        indptr = np.asarray(self._bm25.scores["indptr"], dtype=np.int64)
        df = np.diff(indptr)
        indices = self._bm25.scores["indices"]
        data = self._bm25.scores["data"]
        common = np.flatnonzero(df > _WIDE_SHARE * self.size)
        for tid in common[np.argsort(-df[common], kind="stable")].tolist():
            a, b = int(indptr[tid]), int(indptr[tid + 1])
            values = np.asarray(data[a:b], dtype=np.float32)
            if self._wide_scores(tid, indices[a:b], values) is None:
                break
        return len(self._wide)

    @property
    def size(self) -> int:
        """Number of indexed chunks."""
        return int(self._bm25.scores["num_docs"])

    def terms(self, text: str) -> list[str]:
        """The index terms of a text (lower-cased, stop words removed, stemmed): the terms
        ``bm25s.tokenize`` gives with the settings of ``build`` (tests/search/test_lexical_terms.py
        checks every passage and sentence of the corpus), without its per-call set-up (a
        progress bar object and vocabulary maps: ~0.1 ms a question)."""
        stop = _stopwords()
        words = [w for w in _split(text.lower()) if w not in stop]
        if self._stemmer is not None:
            words = self._stemmer.stemWords(words)
        return [t for t in words if t]

    def rows_with(self, term: str) -> NDArray[np.int64]:
        """The chunk rows that hold ``term`` (empty when the index does not know it)."""
        tid = self._vocab.get(term)
        if tid is None:
            return np.zeros(0, dtype=np.int64)
        indptr = self._bm25.scores["indptr"]
        a, b = int(indptr[tid]), int(indptr[tid + 1])
        return np.asarray(self._bm25.scores["indices"][a:b], dtype=np.int64)

    def _postings(
        self, weighted_terms: dict[str, float]
    ) -> list[tuple[float, NDArray[np.int64], NDArray[np.float32], int]]:
        """(weight, chunk rows (sorted), per-term BM25 scores, term id) of each query term
        the index knows, in the query's order."""
        data = self._bm25.scores["data"]
        indices = self._bm25.scores["indices"]
        indptr = self._bm25.scores["indptr"]
        out = []
        for term, weight in weighted_terms.items():
            tid = self._vocab.get(term)
            if tid is not None and weight > 0 and term:
                a, b = int(indptr[tid]), int(indptr[tid + 1])
                out.append((weight, indices[a:b], np.asarray(data[a:b], dtype=np.float32), tid))
        return out

    def scores(self, weighted_terms: dict[str, float]) -> NDArray[np.float32]:
        """BM25 score of every chunk for a query given as {term: weight}."""
        # A term's postings name each chunk once, so adding them in place gives the same
        # floats as adding the term's whole score array (bm25s's get_scores_from_ids), without
        # one corpus-sized array per term. ufunc.at has a fast path since numpy 1.25: half
        # the time of ``total[rows] += values`` (600k postings: 0.8 vs 1.7 ms).
        total = np.zeros(self.size, dtype=np.float32)
        for weight, rows, values, tid in self._postings(weighted_terms):
            wide = self._wide_scores(tid, rows, values)
            if wide is not None:  # the same sums, term by term in the query's order
                total += wide if weight == 1.0 else weight * wide
            else:
                np.add.at(total, rows, values if weight == 1.0 else weight * values)  # 1.0*x == x
        return total

    def _wide_scores(
        self, tid: int, rows: NDArray[np.int64], values: NDArray[np.float32]
    ) -> NDArray[np.float32] | None:
        """A common term's score of every chunk (kept after the first use), or None for a
        term in few chunks, a small index, or once the budget is spent."""
        wide = self._wide.get(tid)
        n = self.size
        if wide is not None or n < _WIDE_MIN_CHUNKS or len(rows) <= _WIDE_SHARE * n:
            return wide
        if (len(self._wide) + 1) * n * 4 > _WIDE_MAX_BYTES:
            return None
        wide = np.zeros(n, dtype=np.float32)
        wide[rows] = values
        self._wide[tid] = wide  # two threads at once only build the same array twice
        return wide

    def scores_of(
        self, weighted_terms: dict[str, float], rows: NDArray[np.int64]
    ) -> NDArray[np.float32]:
        """``scores(weighted_terms)[rows]`` (the same floats) for sorted, distinct ``rows``,
        reading only the postings that fall among them: a filter's passages lie in runs of
        consecutive rows, and each run bounds a slice of every posting list."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows), dtype=np.float32)
        if not len(rows):
            return out
        first = np.concatenate([[0], np.flatnonzero(np.diff(rows) != 1) + 1])  # run starts
        starts = rows[first]
        ends = rows[np.concatenate([first[1:] - 1, [len(rows) - 1]])] + 1
        for weight, posting, values, _ in self._postings(weighted_terms):
            lo, hi = np.searchsorted(posting, starts), np.searchsorted(posting, ends)
            lens = hi - lo
            n = int(lens.sum())
            if not n:
                continue
            run = np.repeat(np.arange(len(starts)), lens)
            at = lo[run] + np.arange(n) - np.repeat(np.cumsum(lens) - lens, lens)
            pos = first[run] + (posting[at] - starts[run])
            np.add.at(out, pos, values[at] if weight == 1.0 else weight * values[at])
        return out

    def top(
        self,
        weighted_terms: dict[str, float],
        k: int,
        keep: Callable[[NDArray[np.int64]], NDArray[np.bool_]] | None = None,
        total: NDArray[np.float32] | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """The ``k`` best-scoring chunks that contain a query term (and pass ``keep``), best
        first, ties by row, as ``top_indices`` would pick them from ``scores``; and the
        scores (``total``, when given, must be ``scores(weighted_terms)``).

        Rather than partitioning the corpus-sized array, a lower bound of the k-th best score
        is read off the chunks of the rarest terms; one vectorised comparison then leaves
        the few chunks scoring at least that much."""
        if total is None:
            total = self.scores(weighted_terms)
        # Any k distinct chunks' k-th best score is a lower bound; the rarest term's chunks
        # (distinct already) give a high one. Terms are added while there are fewer than k.
        postings = sorted(self._postings(weighted_terms), key=lambda p: len(p[1]))
        seed: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        for _, rows, _, _ in postings:
            more = rows if keep is None else rows[keep(rows)]
            seed = more if not len(seed) else np.unique(np.concatenate([seed, more[: 4 * k]]))
            if len(seed) >= k:
                break
        if 0 < k <= len(seed):
            theta = -np.partition(-total[seed], k - 1)[k - 1]  # > 0: seeds contain a term
            cand = np.flatnonzero(total >= theta)
        else:
            cand = np.flatnonzero(total > 0)
        if keep is not None:
            cand = cand[keep(cand)]
        return top_rows(cand, total[cand], k), total

    @property
    def max_idf(self) -> float:
        """The IDF a term that occurs in no indexed chunk would have."""
        n = self.size
        return float(np.log(1 + (n + 0.5) / 0.5))

    def passages_with(self, term: str) -> int:
        """How many chunks hold an index term (0 for unknown terms)."""
        tid = self._vocab.get(term)
        indptr = self._bm25.scores["indptr"]
        if tid is None or tid + 1 >= len(indptr):  # bm25s keeps a placeholder "" token
            return 0
        return int(indptr[tid + 1] - indptr[tid])

    def idf(self, term: str) -> float:
        """Inverse document frequency of an index term (0 for unknown terms)."""
        df = self.passages_with(term)
        if df == 0:
            return 0.0
        n = self.size
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


def save_json(path: Path, data: object) -> None:
    """Write JSON with UTF-8 text."""
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
