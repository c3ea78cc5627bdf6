"""Hybrid scoring over candidate sets, for indexes too large to score every passage per query.

The exact path (search/retriever.py) scores every passage densely and lexically and normalises over
all of them. Here the BM25 top passages (from the query terms' postings) and the dense top
passages (from the approximate FAISS index) are pooled; only that pool gets dense, sentence
and lexical scores, and fusion normalises over it. Filters are applied to the candidates;
a filter that leaves few passages (a report, a force) is scored exactly over what it leaves.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..index.search_index import SearchIndex
from ..index.topk import top_rows
from ..ingest.lines import under_section

# A filter leaving at most this many passages is scored exactly over all of them (a dense
# product over 30k rows takes ~3 ms); above it the filter is applied to the candidates.
SUBSET_SCAN_LIMIT = 30_000
# Within an exactly scored subset, the sentences of this many best passages are scored.
SUBSET_SENTENCE_CANDIDATES = 1_000
# The approximate index is asked for at most this many passages when over-fetching for a
# filter (few passages pass it but more than SUBSET_SCAN_LIMIT).
MAX_DENSE_FETCH = 20_000
# Encodes the question while BM25 scores its postings (the encoder releases the GIL; at a
# million passages BM25 takes ~4 ms, most of an encode). Two workers: one per core.
_ENCODER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="qa-encode")
OVERLAP_ENCODE = True


def paths_under(paths: Sequence[tuple[str, ...]], want: tuple[str, ...]) -> NDArray[np.bool_]:
    """Which of ``paths`` (heading paths) lie under ``want`` (title-keyed); read-only."""
    under = np.array([under_section(p, want) for p in paths], dtype=bool).reshape(len(paths))
    under.setflags(write=False)
    return under


@dataclass(frozen=True)
class Candidates:
    """Scores of a set of passages: ``rows`` (sorted) and the scores aligned with them."""

    rows: NDArray[np.int64]
    dense: NDArray[np.float32]
    lexical: NDArray[np.float32]


class CandidateScorer:
    """Per-index lookups for candidate scoring (built once; read-only afterwards)."""

    def __init__(self, index: SearchIndex, doc_of: NDArray[np.int32]) -> None:
        self.index = index
        self.doc_of = doc_of
        n_docs = len(index.documents)
        self.doc_sizes = np.bincount(doc_of, minlength=n_docs)
        # Rows of document d are by_doc[bounds[d]:bounds[d + 1]], in row order.
        self.by_doc = np.argsort(doc_of, kind="stable").astype(np.int64)
        self.bounds = np.concatenate([[0], np.cumsum(self.doc_sizes)])
        self._paths_under = functools.lru_cache(maxsize=256)(
            functools.partial(paths_under, index.columns.sections)
        )

    def rows_of(self, allowed_docs: NDArray[np.bool_]) -> NDArray[np.int64]:
        """The rows of the allowed documents, sorted."""
        docs = np.flatnonzero(allowed_docs)
        parts = [self.by_doc[self.bounds[d] : self.bounds[d + 1]] for d in docs]
        rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return np.sort(rows)

    def in_section(self, rows: NDArray[np.int64], want: tuple[str, ...]) -> NDArray[np.bool_]:
        """Which rows lie under the heading path ``want`` (already title-keyed)."""
        return self._paths_under(want)[self.index.columns.section[rows]]

    def score(
        self,
        encode: Callable[[], NDArray[np.float32]] | None,
        terms: dict[str, float] | None,
        depth: int,
        sentence_weight: float,
        allowed_docs: NDArray[np.bool_] | None,
        section: tuple[str, ...],
        timings: dict[str, float],
    ) -> Candidates:
        """Dense (when ``encode``, which returns the query vector, is given) and lexical (when
        ``terms`` are) scores of the pooled top-``depth`` candidates of each, restricted to the
        allowed documents and section; the time of each side goes into ``timings``. With both,
        the question is encoded in another thread while BM25 runs in this one."""
        n = len(self.index.chunks)
        allowed_rows = n if allowed_docs is None else int(self.doc_sizes[allowed_docs].sum())
        if allowed_docs is not None and allowed_rows <= SUBSET_SCAN_LIMIT:
            qv = encode() if encode is not None else None
            rows = self.rows_of(allowed_docs)
            if section:
                rows = rows[self.in_section(rows, section)]
            return self._score_subset(qv, terms, rows, sentence_weight, timings)

        def passes(rows: NDArray[np.int64]) -> NDArray[np.bool_]:
            ok = (
                np.ones(len(rows), dtype=bool)
                if allowed_docs is None
                else allowed_docs[self.doc_of[rows]]
            )
            if section and ok.any():
                ok[ok] = self.in_section(rows[ok], section)
            return ok

        pools = []
        encoding: Future[NDArray[np.float32]] | None = None
        if encode is not None and terms is not None and OVERLAP_ENCODE:
            encoding = _ENCODER.submit(encode)
        t = time.perf_counter()
        lexical_all = None
        if terms is not None:
            best, lexical_all = self._lexical_candidates(
                terms, depth, allowed_docs, passes, section
            )
            pools.append(best)
            timings["lexical"] = _ms(t)
        qv = encoding.result() if encoding is not None else encode() if encode else None
        t = time.perf_counter()
        if qv is not None:
            pools.append(
                self._dense_candidates(qv, depth, n / max(1, allowed_rows), passes, allowed_docs)
            )
        rows = np.unique(np.concatenate(pools)) if pools else np.zeros(0, dtype=np.int64)
        dense = self._dense_of(qv, rows, sentence_weight, len(rows))
        if qv is not None:
            timings["dense"] = _ms(t)
        lexical = np.zeros(len(rows), dtype=np.float32)
        if lexical_all is not None:
            lexical = lexical_all[rows]
        return Candidates(rows, dense, lexical)

    def _score_subset(
        self,
        qv: NDArray[np.float32] | None,
        terms: dict[str, float] | None,
        rows: NDArray[np.int64],
        sentence_weight: float,
        timings: dict[str, float],
    ) -> Candidates:
        """Every row of a small filtered subset, scored as the exact path would."""
        t = time.perf_counter()
        dense = self._dense_of(qv, rows, sentence_weight, SUBSET_SENTENCE_CANDIDATES)
        if qv is not None:
            timings["dense"] = _ms(t)
        t = time.perf_counter()
        lexical = np.zeros(len(rows), dtype=np.float32)
        if terms is not None:
            lexical = self.index.lexical.scores_of(terms, rows)
            timings["lexical"] = _ms(t)
        return Candidates(rows, dense, lexical)

    def _lexical_candidates(
        self,
        terms: dict[str, float],
        depth: int,
        allowed_docs: NDArray[np.bool_] | None,
        passes: Callable[[NDArray[np.int64]], NDArray[np.bool_]],
        section: tuple[str, ...],
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """BM25's top passages that pass the filters (up to ``depth``), and every passage's
        BM25 score. A section is checked passage by passage, so only as many of the best
        as needed are checked."""
        lexical = self.index.lexical
        in_docs = None
        if allowed_docs is not None:
            allowed = allowed_docs

            def in_docs(rows: NDArray[np.int64]) -> NDArray[np.bool_]:
                return allowed[self.doc_of[rows]]

        best, total = lexical.top(terms, depth if not section else depth * 4, in_docs)
        if not section:
            return best, total
        m = depth * 4
        while True:
            ok = best[passes(best)]
            if len(ok) >= depth or len(best) < m:
                return ok[:depth], total
            m *= 4
            best, _ = lexical.top(terms, m, in_docs, total)

    def _dense_candidates(
        self,
        qv: NDArray[np.float32],
        depth: int,
        oversample: float,
        passes: Callable[[NDArray[np.int64]], NDArray[np.bool_]],
        allowed_docs: NDArray[np.bool_] | None = None,
    ) -> NDArray[np.int64]:
        """The approximate index's top passages that pass the filters (up to ``depth``).
        More are fetched (4x, up to MAX_DENSE_FETCH) only when a filter rejected some and the
        index returned all it was asked for: HNSW can return fewer (a graph with many equal
        vectors), and asking again for more found no more at 1,000 synthetic reports, but
        cost ~1 ms a question at 10,000. A dense index that filters by report itself (the
        Milvus store: ``search_in_docs``) is given the allowed reports, and is not
        over-fetched for them."""
        dense = self.index.dense
        in_docs = getattr(dense, "search_in_docs", None) if allowed_docs is not None else None
        if in_docs is not None:
            oversample = 1.0
        want = int(depth * max(1.0, oversample))
        while True:
            asked = min(len(dense), want)
            found: NDArray[np.int64]
            if in_docs is not None:
                _, found = in_docs(qv, asked, allowed_docs)
            else:
                _, found = dense.search(qv, asked)
            ids = found[found >= 0].astype(np.int64)
            ok = ids[passes(ids)]
            enough = len(ok) >= depth or want >= min(len(dense), MAX_DENSE_FETCH)
            if enough or len(ids) < asked:  # (not enough: asked == want > len(ok))
                return ok[:depth]
            want *= 4

    def _dense_of(
        self,
        qv: NDArray[np.float32] | None,
        rows: NDArray[np.int64],
        sentence_weight: float,
        sentence_rows: int,
    ) -> NDArray[np.float32]:
        """(1 - w) * passage cosine + w * best sentence cosine of each row; only the best
        ``sentence_rows`` rows by passage cosine get their sentences scored."""
        if qv is None:
            return np.zeros(len(rows), dtype=np.float32)
        scores = self.index.dense.scores_of(qv, rows)
        sentences = self.index.sentences
        if sentence_weight > 0 and len(sentences):
            if len(rows) <= sentence_rows:
                best = sentences.best_of_rows(qv, rows)
            else:
                pick = top_rows(np.arange(len(rows)), scores, sentence_rows)
                best = scores.copy()
                best[pick] = sentences.best_of_rows(qv, rows[pick])
            scores = (1 - sentence_weight) * scores + sentence_weight * best
        return scores.astype(np.float32)


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 3)
