"""BM25 over chunks with bm25s (English stemming and stop words); plain-file save/load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def _stemmer() -> Any:
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # PyStemmer is optional in bm25s: degrade to no stemming
        return None


class LexicalIndex:
    """BM25 scores for every chunk; queries may weight their terms."""

    def __init__(self, retriever: Any, stemmer: Any) -> None:
        self._bm25 = retriever
        self._stemmer = stemmer
        self._vocab: dict[str, int] = dict(retriever.vocab_dict)

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
        return cls(retriever, stemmer)

    def save(self, folder: Path) -> None:
        """Write plain .npy/.json files (no pickle)."""
        self._bm25.save(str(folder), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> LexicalIndex:
        """Read an index written by ``save``."""
        import bm25s

        retriever = bm25s.BM25.load(str(folder), allow_pickle=False, mmap=mmap)
        return cls(retriever, _stemmer())

    @property
    def size(self) -> int:
        """Number of indexed chunks."""
        return int(self._bm25.scores["num_docs"])

    def terms(self, text: str) -> list[str]:
        """The index terms of a text (lower-cased, stop words removed, stemmed)."""
        import bm25s

        out = bm25s.tokenize(
            [text],
            stopwords="en",
            stemmer=self._stemmer,
            return_ids=False,
            show_progress=False,
            token_pattern=_TOKEN_PATTERN,
        )
        return [t for t in out[0] if t]

    def _postings(
        self, weighted_terms: dict[str, float]
    ) -> list[tuple[float, NDArray[np.int64], NDArray[np.float32]]]:
        """(weight, chunk rows, per-term BM25 scores) of each query term the index knows."""
        data = self._bm25.scores["data"]
        indices = self._bm25.scores["indices"]
        indptr = self._bm25.scores["indptr"]
        out = []
        for term, weight in weighted_terms.items():
            tid = self._vocab.get(term)
            if tid is not None and weight > 0 and term:
                a, b = int(indptr[tid]), int(indptr[tid + 1])
                out.append((weight, indices[a:b], data[a:b].astype(np.float32)))
        return out

    def scores(self, weighted_terms: dict[str, float]) -> NDArray[np.float32]:
        """BM25 score of every chunk for a query given as {term: weight}."""
        # A term's postings name each chunk once, so adding them in place gives the same
        # floats as adding the term's whole score array (bm25s's get_scores_from_ids), without
        # one corpus-sized array per term.
        total = np.zeros(self.size, dtype=np.float32)
        for weight, rows, values in self._postings(weighted_terms):
            total[rows] += weight * values
        return total

    def matches(
        self, weighted_terms: dict[str, float]
    ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Every chunk's score (as ``scores``) and the chunks that contain a query term, each
        once: the work is the length of the terms' postings, not of the corpus."""
        total = np.zeros(self.size, dtype=np.float32)  # untouched pages stay unallocated
        touched = []
        for weight, rows, values in self._postings(weighted_terms):
            touched.append(rows[total[rows] == 0])  # scores are > 0 once a term matched
            total[rows] += weight * values
        if not touched:
            return total, np.zeros(0, dtype=np.int64)
        return total, np.concatenate(touched).astype(np.int64)

    @property
    def max_idf(self) -> float:
        """The IDF a term that occurs in no indexed chunk would have."""
        n = self.size
        return float(np.log(1 + (n + 0.5) / 0.5))

    def idf(self, term: str) -> float:
        """Inverse document frequency of an index term (0 for unknown terms)."""
        tid = self._vocab.get(term)
        indptr = self._bm25.scores["indptr"]
        if tid is None or tid + 1 >= len(indptr):  # bm25s keeps a placeholder "" token
            return 0.0
        df = int(indptr[tid + 1] - indptr[tid])
        n = self.size
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))


def save_json(path: Path, data: object) -> None:
    """Write JSON with UTF-8 text."""
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
