"""Answer-sentence highlighting: which sentence(s) of a passage answer the question.

A sentence scores by the query terms it contains, each weighted by the term's query weight
and inverse document frequency (rare report words such as "appropriate adult" count more
than "children"), and by its similarity to the question when sentence vectors are given.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ..ingest.sentences import sentence_spans

Span = tuple[int, int]


# One sentence as scoring reads it: its span, its set of terms and its length damping.
SentenceInfo = tuple[Span, frozenset[str], float]


def sentence_info(
    text: str, terms_of: Callable[[str], list[str]], spans: list[Span] | None = None
) -> tuple[SentenceInfo, ...]:
    """Every sentence of ``text`` (or the given spans) with its terms and length damping:
    long sentences match more terms by chance, so their score is divided, gently."""
    out = []
    for start, end in spans if spans is not None else sentence_spans(text):
        sent_terms = frozenset(terms_of(text[start:end]))
        out.append(((start, end), sent_terms, math.log2(2 + len(sent_terms))))
    return tuple(out)


def term_weights(terms: dict[str, float], idf: Callable[[str], float]) -> list[tuple[str, float]]:
    """Each query term with its query weight times its IDF, as ``score_info`` reads them."""
    return [(t, w * idf(t)) for t, w in terms.items()]


def score_info(
    sentences: tuple[SentenceInfo, ...], weights: list[tuple[str, float]]
) -> list[tuple[Span, float]]:
    """Each sentence's lexical answer score: the ``weights`` (query weight times IDF) of the
    query terms it contains, over its length damping."""
    return [
        (span, sum(w for t, w in weights if t in sent_terms) / damping)
        for span, sent_terms, damping in sentences
    ]


def score_sentences(
    text: str,
    terms: dict[str, float],
    terms_of: Callable[[str], list[str]],
    idf: Callable[[str], float],
    spans: list[Span] | None = None,
) -> list[tuple[Span, float]]:
    """Every sentence span of ``text`` (or the given spans) with its lexical answer score."""
    return score_info(sentence_info(text, terms_of, spans), term_weights(terms, idf))


def pick_highlights(
    scored: list[tuple[Span, float]],
    dense: NDArray[np.float32] | None = None,
    dense_weight: float = 0.5,
    max_sentences: int = 2,
    ratio: float = 0.8,
) -> list[Span]:
    """The best sentence, plus the next best when it scores nearly as well and is adjacent."""
    if not scored:
        return []
    lex = np.array([s for _, s in scored], dtype=np.float32)
    if lex.max() > 0:
        lex = lex / lex.max()
    score = lex if dense is None else (1 - dense_weight) * lex + dense_weight * dense
    order = [int(i) for i in np.argsort(-score, kind="stable")]
    best = order[0]
    chosen = [best]
    for i in order[1:max_sentences]:
        if abs(i - best) == 1 and score[i] >= ratio * score[best] and score[i] > 0:
            chosen.append(i)
    return sorted(scored[i][0] for i in chosen)
