"""Hybrid retrieval: query understanding, dense + BM25 scores, fusion, filters.

Retrieval only: ``answer/retriever.py`` extends ``PassageRetriever`` with answer sentences
and the answered / partial / not-answered decision, through ``respond``.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ..index.embedding import Embedder
from ..index.search_index import SearchIndex
from ..index.topk import top_indices
from ..ingest.lines import title_key
from ..types import Chunk
from .candidates import CandidateScorer, paths_under
from .fusion import convex, cover_groups, pin_first, rrf, with_rows
from .inputs import why_empty
from .merging import Riders, group_adjacent, merged_chunk, ride_along, type_weights
from .query import COMPARE_INTENT, QueryPlan, dense_text, plan_query
from .spelling import english_words, spell
from .types import Filters, Hit, RetrievalConfig, SearchResult, metadata_passes

# Up to this many sentence vectors an exact index scores every sentence (a few ms at most);
# above it, only the sentences of the SENTENCE_CANDIDATES best passages by passage cosine
# (bench/scale.py: 51k sentences took 8 ms a query, as much as encoding it).
SENTENCE_SCAN_LIMIT = 20_000
# Retriever.warm tokenizes every passage and sentence up to this many passages (~0.2 s for
# the four reports' 376); the terms cache holds 32k texts, so larger indexes warm lazily.
WARM_LIMIT = 5_000
SENTENCE_CANDIDATES = 1_000
# Up to this many passages every passage is scored and fusion normalises over all of them
# (the exact path, used by the four-report corpus and its evaluation); above it BM25 and
# the dense index each give their top candidates and only those are scored and fused
# (search/candidates.py; bench/scale.py: lexical scoring and fusion took ~14 ms each at 1.1M).
FUSION_SCAN_LIMIT = 50_000


class PassageRetriever:
    """Ranks the passages of one loaded SearchIndex for a question; safe to share between
    threads."""

    def __init__(
        self,
        index: SearchIndex,
        embedder: Embedder,
        config: RetrievalConfig | None = None,
        cache_size: int = 1024,
        fusion_scan_limit: int = FUSION_SCAN_LIMIT,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.config = config or RetrievalConfig()
        self._cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._cache_lock = threading.Lock()  # server threads share the cache
        self._cache_size = cache_size
        self._forces = index.forces
        # Every per-passage array comes from the index's columns: nothing here reads a passage
        # or a report (store format 4 builds those on first use).
        columns = index.columns
        doc_forces = [index.metadata[d].force or "" for d in index.documents]
        self._force_of = [doc_forces[d] for d in columns.doc.tolist()]
        self._doc_of = columns.doc
        self._everything = np.ones(len(index.chunks), dtype=bool)
        self._everything.setflags(write=False)
        self.fusion_scan_limit = fusion_scan_limit
        self._docs = [(d, index.metadata[d]) for d in index.documents]
        self._scorer: CandidateScorer | None = None  # built on first use by a large index
        self._scorer_lock = threading.Lock()
        self._allowed = functools.lru_cache(maxsize=256)(self._allowed_docs)
        # Which of the index's distinct heading paths lie under a title-keyed path.
        self._paths_under = functools.lru_cache(maxsize=256)(
            functools.partial(paths_under, index.columns.sections)
        )
        # Stemmed terms of a text, memoised: the same passages and sentences come back for
        # many questions (confidence and highlights tokenize them on every search).
        self._terms = functools.lru_cache(maxsize=32_768)(index.lexical.terms)
        # The index term a mistyped question word stands for, or None (search/spelling.py).
        self.spell = functools.partial(
            spell, english_words(embedder.model_name), self.terms, index.lexical.passages_with
        )
        # Merged passages (search/merging.py) by their rows: building one cleans its text again.
        self.merged = functools.lru_cache(maxsize=4_096)(self._merged_chunk)
        # Footnotes and bare captions ride along with the passage citing them (search/merging.py).
        self._host = columns.host
        self._host.setflags(write=False)
        self._riders = Riders(index.chunks, columns.doc, columns.type, list(index.documents))
        self._weight = type_weights(columns.type)

    def warm(self, limit: int = WARM_LIMIT) -> None:
        """Fill the per-text caches a search uses so the first questions after a (re)load are as
        fast as later ones: every passage's and sentence's terms (up to ``limit`` passages),
        and encodes of a few lengths (the encoder sizes its buffers on first use)."""
        chunks = self.index.chunks
        if len(chunks) <= limit:
            for row, chunk in enumerate(chunks):
                self.terms(chunk.text)
                self.warm_row(row)
                for title in chunk.section:
                    self.terms(title)
        for words in (4, 12, 30):
            self.embedder.encode([" ".join(["custody"] * words)])

    def warm_row(self, row: int) -> None:
        """Fill the per-passage caches of one row (the answer stage adds its sentences)."""

    def pinned_rows(
        self, plan: QueryPlan, allowed: Callable[[], NDArray[np.bool_]], limit: int
    ) -> list[int]:
        """Up to ``limit`` rows the filters keep (``allowed()``) that a question's wording says
        to rank first (the answer stage: where the acronym asked about is defined)."""
        return []

    def companion_texts(self, plan: QueryPlan) -> list[str]:
        """Texts a later stage will encode (the answer stage's), batched with the question:
        two short texts take about 7.5 ms in one batch, 9.4 in two calls. None here."""
        return []

    def respond(
        self,
        result: SearchResult,
        groups: list[tuple[int, ...]],
        confidence: float,
        compared: list[str],
        cfg: RetrievalConfig,
    ) -> SearchResult:
        """The passages as retrieved; the answer stage overrides this to pick the answer
        sentences and decide whether the reports answer."""
        return result

    @property
    def doc_of(self) -> NDArray[np.int32]:
        """Each passage row's document, as a position in the index's documents."""
        return self._doc_of

    @property
    def force_of(self) -> list[str]:
        """Each passage row's force ("" when its report names none); do not modify."""
        return self._force_of

    def terms(self, text: str) -> list[str]:
        """Stemmed, stopword-free terms of a text (cached; do not modify the list)."""
        return self._terms(text)

    def encode(
        self, text: str, also: Callable[[], Sequence[str]] | None = None
    ) -> NDArray[np.float32]:
        """The query vector, from a small LRU cache; on a miss, the uncached texts ``also``
        gives are encoded in the same batch and cached for later."""
        with self._cache_lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
        extra = also() if also is not None else ()
        with self._cache_lock:
            todo = [text] + [t for t in dict.fromkeys(extra) if t != text and t not in self._cache]
        vecs = self.embedder.encode(todo)  # slow part: outside the lock
        with self._cache_lock:
            for t, v in zip(todo, vecs, strict=True):
                self._cache[t] = v
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        vec: NDArray[np.float32] = vecs[0]
        return vec

    def _encode_question(self, plan: QueryPlan, cfg: RetrievalConfig) -> NDArray[np.float32]:
        """The vector dense ranking reads, with the later stages' texts in the same batch."""
        return self.encode(
            dense_text(plan, cfg.dense_on_topic, cfg.expand_dense),
            lambda: self.companion_texts(plan),
        )

    def plan(self, question: str, config: RetrievalConfig | None = None) -> QueryPlan:
        """Query understanding only."""
        cfg = config or self.config
        return plan_query(
            question,
            self._forces,
            self.terms,
            self.index.acronyms if cfg.expand else {},
            cfg.expansion_weight if cfg.expand else 0.0,
            cfg.expand_dense and cfg.expand,
            everyday=cfg.expand,
            force_words_removed=cfg.force_filter,
            spell=self.spell if cfg.expand else None,
        )

    def _merged_chunk(self, rows: tuple[int, ...]) -> Chunk:
        """The passage joining neighbouring rows of one section (search/merging.py)."""
        members = [self.index.chunks[j] for j in rows]
        return merged_chunk(self.index.documents[members[0].doc_id].text, members)

    def attached(self, chunk: Chunk) -> tuple[Chunk, ...]:
        """The footnotes and captions that ride along with a passage (merging.Riders)."""
        doc = self.index.documents[chunk.doc_id]
        return tuple(self.index.chunks[r] for r in self._riders.of(chunk, doc))

    def confidence(self, plan: QueryPlan, top: list[int], cfg: RetrievalConfig) -> float:
        """How well the best passages cover the question's topic: the topic's best cosine with
        them, plus ``coverage_weight`` times the share of its (IDF-weighted) terms they contain.
        Force names are left out: they match every passage of a force's report."""
        if not top:
            return 0.0
        qv = self.encode(plan.topic)
        similarity = float(self.index.dense.scores_of(qv, np.asarray(top)).max())
        lex = self.index.lexical
        present: set[str] = set()
        for i in top:
            present.update(self.terms(self.index.chunks[i].text))
        total = found = 0.0
        for term, weight in plan.terms.items():
            if term in plan.translated:
                continue
            idf = lex.idf(term) or lex.max_idf  # a word the corpus never uses: strong signal
            total += weight * idf
            if term in present:
                found += weight * idf
        coverage = found / total if total else 0.0
        return similarity + cfg.coverage_weight * coverage

    def _compared_forces(
        self, plan: QueryPlan, applied: Filters, cfg: RetrievalConfig
    ) -> list[str]:
        """Forces a question compares: several named, or all when it asks across forces."""
        if not cfg.diversify:
            return []
        if len(applied.forces) >= 2:
            return list(applied.forces)
        if not applied.forces and COMPARE_INTENT.search(plan.question):
            return list(self._forces)
        return []

    def mask(self, filters: Filters) -> NDArray[np.bool_]:
        """Which chunks pass the filters (read-only when nothing is filtered)."""
        if filters == Filters():
            return self._everything
        allowed = self._allowed(filters)  # the documents' conditions, cached per filter
        keep = np.ones(len(self._doc_of), dtype=bool) if allowed is None else allowed[self._doc_of]
        if filters.section:
            want = tuple(title_key(s) for s in filters.section)
            keep &= self._paths_under(want)[self.index.columns.section]
        return keep

    def allowed_docs(self, filters: Filters) -> NDArray[np.bool_] | None:
        """Which documents pass the filters' document conditions (None: all of them), in the
        index's document order; cached per filter, read-only."""
        return self._allowed(filters)

    def _allowed_docs(self, filters: Filters) -> NDArray[np.bool_] | None:
        """Which documents pass the filters' document conditions (None: all of them)."""
        if replace(filters, section=()) == Filters():
            return None
        allowed = np.array([metadata_passes(d, m, filters) for d, m in self._docs], dtype=bool)
        allowed.setflags(write=False)
        return allowed

    def why_empty(self, filters: Filters) -> str:
        """Which filter leaves no passage to search (``inputs.why_empty``)."""
        return why_empty(filters, self.mask)

    def scorer(self) -> CandidateScorer:
        """The candidate scorer (built once, on first use)."""
        with self._scorer_lock:
            if self._scorer is None:
                self._scorer = CandidateScorer(self.index, self._doc_of)
            return self._scorer

    def search(
        self,
        question: str,
        top_k: int = 5,
        filters: Filters | None = None,
        config: RetrievalConfig | None = None,
    ) -> SearchResult:
        """Retrieve the passages that best answer ``question``."""
        cfg = config or self.config
        timings: dict[str, float] = {}
        t = time.perf_counter()
        plan = self.plan(question, cfg)
        applied = filters or Filters()
        if cfg.force_filter and plan.forces_in_corpus and not applied.forces:
            applied = replace(applied, forces=plan.forces_in_corpus)
        timings["understand"] = _ms(t)
        if (
            cfg.force_filter
            and plan.forces_missing
            and not plan.forces_in_corpus
            and not (filters and filters.forces)
        ):
            covered = ", ".join(self._forces)
            named = ", ".join(plan.forces_missing)
            return SearchResult(
                question,
                False,
                [],
                applied,
                plan,
                f"The corpus has no report on {named}. It covers: {covered}.",
                timings,
                state="not_answered",
            )

        rows: NDArray[np.int64] | None = None  # the scored rows; None: every row, in order
        allowed = functools.cache(lambda: self.mask(applied))  # only when needed
        pins = self.pinned_rows(plan, allowed, max(top_k, 1) * 20)  # as many as can show
        if len(self.index.chunks) > self.fusion_scan_limit:
            rows, dense, lexical = self._candidate_scores(plan, cfg, applied, top_k, timings)
            if pins:
                rows, dense, lexical = with_rows(rows, dense, lexical, pins, allowed())
            keep = np.ones(len(rows), dtype=bool)
        else:
            keep = allowed()
            dense, lexical = self._exact_scores(plan, cfg, keep, timings)

        t = time.perf_counter()
        if cfg.mode == "dense":
            fused = dense.copy()
        elif cfg.mode == "lexical":
            fused = lexical.copy()
        elif cfg.fusion == "rrf":
            fused = rrf([dense, lexical], keep, cfg.rrf_k, cfg.candidates)
        else:
            fused = convex(dense, lexical, keep, cfg.alpha)
        fused = ride_along(np.where(keep, fused, -np.inf), self._host, rows, self._weight)
        pin_first(fused, pins, rows)
        best = top_indices(fused, max(top_k, 1) * 20)
        ranked = best[np.isfinite(fused[best])].tolist()
        compared = self._compared_forces(plan, applied, cfg)
        if len(compared) >= 2:
            group_of = self._force_of
            if rows is not None:
                group_of = [self._force_of[r] for r in rows.tolist()]
            picked = cover_groups(ranked, group_of, top_k, compared)
            groups: list[tuple[int, ...]] = [
                (i,) for i in (picked if rows is None else [int(rows[p]) for p in picked])
            ]
        else:
            # positions in the score arrays -> rows of the index
            ranked_rows = ranked if rows is None else [int(rows[p]) for p in ranked]
            position = dict(zip(ranked_rows, ranked, strict=True))
            if cfg.merge_window > 1:
                window = cfg.merge_window * top_k
                groups = group_adjacent(ranked_rows, self.index.chunks, top_k, window)
            else:
                groups = [(i,) for i in ranked_rows[:top_k]]
            picked = [position[g[0]] for g in groups]
        order = [g[0] for g in groups]  # each result's best row
        timings["fusion"] = _ms(t)

        t = time.perf_counter()
        confidence = self.confidence(plan, order[:5], cfg) if order else 0.0
        answerable = bool(order) and confidence >= cfg.answerable_threshold
        timings["answerable"] = _ms(t)
        message = None
        if not order and not applied.is_empty():
            message = self.why_empty(applied)
        elif not answerable:
            message = "No passage in the corpus answers this question closely."
        if plan.forces_missing and cfg.force_filter:
            answerable = False
            message = (
                f"The corpus has no report on {', '.join(plan.forces_missing)}; passages shown"
                f" are for {', '.join(applied.forces) or 'the forces it covers'}."
            )

        t = time.perf_counter()
        hits = []
        for p, group in zip(picked, groups, strict=True):
            i = group[0]
            lead = self.index.chunks[i]
            chunk = self.merged(group) if len(group) > 1 else lead
            hits.append(
                Hit(
                    chunk,
                    self.index.documents[chunk.doc_id],
                    float(fused[p]),
                    float(dense[p]),
                    float(lexical[p]),
                    (),
                    i,
                    self.attached(chunk),
                )
            )
        result = SearchResult(
            question,
            answerable,
            hits,
            applied,
            plan,
            message,
            timings,
            state="answered" if answerable else "not_answered",
            confidence=round(confidence, 4),
        )
        if cfg.highlight and hits:
            result = self.respond(result, groups, confidence, compared, cfg)
        timings["highlight"] = _ms(t)
        return result

    def _exact_scores(
        self,
        plan: QueryPlan,
        cfg: RetrievalConfig,
        keep: NDArray[np.bool_],
        timings: dict[str, float],
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Dense and lexical scores of every passage."""
        n = len(self.index.chunks)
        dense = np.zeros(n, dtype=np.float32)
        lexical = np.zeros(n, dtype=np.float32)
        if cfg.mode in ("hybrid", "dense"):
            t = time.perf_counter()
            qv = self._encode_question(plan, cfg)
            timings["encode"] = _ms(t)
            t = time.perf_counter()
            dense = self._dense_scores(qv, keep, cfg)
            timings["dense"] = _ms(t)
        if cfg.mode in ("hybrid", "lexical"):
            t = time.perf_counter()
            lexical = self.index.lexical.scores(plan.terms)
            timings["lexical"] = _ms(t)
        return dense, lexical

    def _candidate_scores(
        self,
        plan: QueryPlan,
        cfg: RetrievalConfig,
        applied: Filters,
        top_k: int,
        timings: dict[str, float],
    ) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.float32]]:
        """Rows pooled from the BM25 and dense top candidates, with their scores."""

        def encode() -> NDArray[np.float32]:
            t = time.perf_counter()
            qv = self._encode_question(plan, cfg)
            timings["encode"] = _ms(t)
            return qv

        terms = plan.terms if cfg.mode in ("hybrid", "lexical") else None
        section = tuple(title_key(s) for s in applied.section)
        cand = self.scorer().score(
            encode if cfg.mode in ("hybrid", "dense") else None,
            terms,
            max(cfg.candidates, max(top_k, 1) * 20),
            cfg.sentence_weight,
            self._allowed(applied),
            section,
            timings,
        )
        return cand.rows, cand.dense, cand.lexical

    def _dense_scores(
        self, qv: NDArray[np.float32], keep: NDArray[np.bool_], cfg: RetrievalConfig
    ) -> NDArray[np.float32]:
        scores = self._passage_scores(qv, keep, cfg.candidates)
        sentences = self.index.sentences
        if cfg.sentence_weight > 0 and len(sentences):
            n = len(self.index.chunks)
            if self.index.dense.kind != "flat":
                # Only the candidates the approximate index returned have scores; scoring
                # their sentences alone keeps the cost independent of the corpus size.
                rows = np.flatnonzero(scores)
                best = sentences.best_per_chunk(qv, n, rows)
            elif len(sentences) <= SENTENCE_SCAN_LIMIT:
                best = sentences.best_per_chunk(qv, n)  # every sentence: cheap at this size
            else:
                # A larger exact index: the best passages by their own cosine get their
                # sentences scored; the others keep their passage cosine as is.
                rows = top_indices(np.where(keep, scores, -np.inf), SENTENCE_CANDIDATES)
                best = scores.copy()
                best[rows] = sentences.best_per_chunk(qv, n, rows)[rows]
            scores = (1 - cfg.sentence_weight) * scores + cfg.sentence_weight * best
        return scores.astype(np.float32)

    def _passage_scores(
        self, qv: NDArray[np.float32], keep: NDArray[np.bool_], candidates: int
    ) -> NDArray[np.float32]:
        if self.index.dense.kind == "flat":
            return self.index.dense.all_scores(qv)
        # Approximate index: fetch extra candidates so filtering still leaves enough.
        scores = np.zeros(len(self.index.chunks), dtype=np.float32)
        want = candidates * max(1, int(len(keep) / max(1, int(keep.sum()))))
        top, ids = self.index.dense.search(qv, min(len(keep), want))
        valid = ids >= 0
        scores[ids[valid]] = top[valid]
        return scores


def _ms(t: float) -> float:
    return round((time.perf_counter() - t) * 1000, 3)
