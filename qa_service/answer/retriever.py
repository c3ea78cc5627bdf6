"""The retriever the service runs: passage retrieval (``search/retriever.py``) with answers.

``Retriever.search`` returns the ranked passages together with the answer sentences marked
in them, the answered / partial / not-answered state and its confidence (answer/answering.py).
API, CLI, page and evaluation all search through it, so they agree on every answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..search.query import QueryPlan
from ..search.retriever import WARM_LIMIT, PassageRetriever
from ..search.types import RetrievalConfig, SearchResult
from .answerability import answerability
from .answering import AnswerLayer
from .highlight import SentenceInfo, sentence_info, term_weights
from .rank import ranker


class Retriever(PassageRetriever):
    """Answers questions from one loaded SearchIndex; safe to share between threads. Takes
    the same arguments as ``PassageRetriever``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each passage's sentences as answer scoring reads them (spans, term sets, length
        # damping), memoised per row: the same passages come back for many questions.
        self.sentences_of = functools.lru_cache(maxsize=32_768)(self._sentence_info)
        # Answer sentences and the answered / partial / not-answered decision.
        self.answers = AnswerLayer(self)

    def warm(self, limit: int = WARM_LIMIT) -> None:
        """The passage caches (``PassageRetriever.warm``), and the answer models: the ranker's
        trees load LightGBM (about 1 s), which the first question would otherwise wait for."""
        super().warm(limit)
        ranker()
        answerability()

    def warm_row(self, row: int) -> None:
        """Fill the per-passage caches of one row: its sentences' terms."""
        self.sentences_of(row)

    def _sentence_info(self, row: int) -> tuple[SentenceInfo, ...]:
        """The sentences of one passage: span, term set and length damping (highlight.py)."""
        text = self.index.chunks[row].text
        spans, _ = self.index.sentences.of_chunk(row)
        return sentence_info(text, self.terms, [(int(a), int(b)) for a, b in spans.tolist()])

    def pinned_rows(
        self, plan: QueryPlan, allowed: Callable[[], NDArray[np.bool_]], limit: int
    ) -> list[int]:
        """The passages that define the acronym a question asks the meaning of."""
        if self.answers.definition(plan.question) is None:
            return []
        return self.answers.defining_rows(plan.question, allowed(), limit)

    def companion_texts(self, plan: QueryPlan) -> list[str]:
        """What the answer stage will encode besides the question, so that the search
        encodes it in the same batch."""
        return self.answers.companion_texts(plan)

    def respond(
        self,
        result: SearchResult,
        groups: list[tuple[int, ...]],
        confidence: float,
        compared: list[str],
        cfg: RetrievalConfig,
    ) -> SearchResult:
        """The answer sentences of the retrieved passages and the answered / partial /
        not-answered decision over them."""
        weights = term_weights(result.plan.terms, self.index.lexical.idf)
        topic = None
        if cfg.mode != "lexical" and len(self.index.sentences):
            topic = self.encode(result.plan.topic)
        return self.answers.respond(result, groups, weights, topic, confidence, compared, cfg)
