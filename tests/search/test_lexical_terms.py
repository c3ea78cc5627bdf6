"""LexicalIndex.terms gives exactly the terms bm25s.tokenize gives with the index's settings."""

from __future__ import annotations

import bm25s
import pytest

from qa_service.answer.retriever import Retriever
from qa_service.index.lexical import _TOKEN_PATTERN, LexicalIndex, _stemmer


def _bm25s_terms(text: str) -> list[str]:
    out = bm25s.tokenize(
        [text],
        stopwords="en",
        stemmer=_stemmer(),
        return_ids=False,
        show_progress=False,
        token_pattern=_TOKEN_PATTERN,
    )
    return [t for t in out[0] if t]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "the and of",
        "Does Kent still hold under-18s at the station after charge?",
        "MASH referrals: 47% (n=112) weren't timely; s.47 enquiries — Section 17.",
        "Café naïve ÉTUDE 2019/20 co-located",
        "a" * 3 + " x y zz",
    ],
)
def test_terms_match_bm25s_on_hand_made_texts(text: str) -> None:
    index = LexicalIndex.build(["one document about custody"])
    assert index.terms(text) == _bm25s_terms(text)


def test_terms_match_bm25s_on_every_passage_and_sentence(retriever: Retriever) -> None:
    real_index = retriever.index
    lexical = real_index.lexical
    checked = 0
    for row, chunk in enumerate(real_index.chunks):
        spans, _ = real_index.sentences.of_chunk(row)
        for text in [chunk.text, *(chunk.text[a:b] for a, b in spans.tolist())]:
            assert lexical.terms(text) == _bm25s_terms(text), text
            checked += 1
    assert checked > 1000
