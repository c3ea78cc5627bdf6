"""BM25 scores stored as one byte a posting (store format 6): within half a step of bm25s's
float32 scores, never 0 for a chunk holding the term, the same after a save and a load; and
indexes with float32 scores are still read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa_service.index.lexical import TERM_SCALES_FILE, LexicalIndex, quantize_scores
from tests.conftest import CORPUS


def _texts() -> list[str]:
    paragraphs = []
    for path in sorted(CORPUS.iterdir()):
        paragraphs += [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return paragraphs


def _float_index(texts: list[str]) -> LexicalIndex:
    """bm25s's own float32 scores, as indexes before format 6 kept them."""
    import bm25s

    from qa_service.index.lexical import _TOKEN_PATTERN, _stemmer

    stemmer = _stemmer()
    tokens = bm25s.tokenize(
        texts, stopwords="en", stemmer=stemmer, show_progress=False, token_pattern=_TOKEN_PATTERN
    )
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index(tokens, show_progress=False)
    return LexicalIndex(retriever, stemmer)


def test_codes_are_within_half_a_step_of_the_scores() -> None:
    data = np.array([0.2, 4.0, 1.0, 0.001, 7.5], dtype=np.float32)
    indptr = np.array([0, 2, 2, 5])  # term 1 has no postings
    codes, scales = quantize_scores(data, indptr)
    assert codes.dtype == np.uint8 and codes.min() >= 1
    assert scales.tolist() == pytest.approx([4.0 / 255, 0.0, 7.5 / 255])
    step = np.repeat(scales, np.diff(indptr))
    decoded = codes * step
    tiny = data < step / 2  # would round to 0: the lowest code instead
    assert np.all(np.abs(decoded - data)[~tiny] <= step[~tiny] / 2 + 1e-6)
    assert np.array_equal(decoded[tiny], step[tiny])
    assert codes[1] == codes[4] == 255  # each term's highest score is its top code


def test_coded_scores_rank_as_the_float_scores(tmp_path: Path) -> None:
    texts = _texts()
    coded, exact = LexicalIndex.build(texts), _float_index(texts)
    coded.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert (tmp_path / TERM_SCALES_FILE).exists()
    for question in (
        "children detained overnight in police custody",
        "missing children return home interviews",
        "child sexual exploitation training for officers",
    ):
        terms = {t: 1.0 for t in coded.terms(question)}
        want, got = exact.scores(terms), coded.scores(terms)
        assert np.array_equal(loaded.scores(terms), got)
        assert np.array_equal(got > 0, want > 0)
        # half a step (0.2% of a term's highest score) for each term of the question
        assert np.abs(got - want).max() <= 0.002 * len(terms) * want.max()
        top = np.argsort(-want, kind="stable")[:10]
        assert len(set(top) & set(coded.top(terms, 10)[0].tolist())) >= 9


def test_float_scores_are_still_read(tmp_path: Path) -> None:
    texts = _texts()[:200]
    _float_index(texts).save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    terms = {t: 1.0 for t in loaded.terms("custody of children")}
    assert np.allclose(loaded.scores(terms), _float_index(texts).scores(terms))
    np.save(tmp_path / TERM_SCALES_FILE, np.ones(3, dtype=np.float32))  # does not fit
    with pytest.raises(ValueError, match="does not fit"):
        LexicalIndex.load(tmp_path)
