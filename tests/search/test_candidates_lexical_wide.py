"""Common terms' scores kept as corpus-sized arrays (large indexes): the same BM25 floats as
scattering their postings, judged by the scatter-only path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa_service.index import lexical
from qa_service.index.lexical import LexicalIndex

QUESTIONS = Path(__file__).resolve().parents[2] / "eval" / "questions.jsonl"


def _fresh(index: LexicalIndex) -> LexicalIndex:
    """The same postings with an empty cache of wide terms."""
    return LexicalIndex(index._bm25, index._stemmer)


def test_wide_terms_give_the_same_floats(retriever, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Every question's scores (terms weighted 1 and otherwise), with every term wide, with
    only the commonest, and with none, are bit for bit the same; so is ``top``."""
    rows = [json.loads(line) for line in QUESTIONS.open(encoding="utf-8")]
    plans = [retriever.plan(r["question"]).terms for r in rows[:80]]
    plans.append({t: 0.7 for t in plans[0]})  # expansion weights
    monkeypatch.setattr(lexical, "_WIDE_MAX_BYTES", 0)
    scatter = _fresh(retriever.index.lexical)
    want = [scatter.scores(t) for t in plans]
    tops = [scatter.top(t, 20)[0].tolist() for t in plans]
    assert not scatter._wide
    monkeypatch.setattr(lexical, "_WIDE_MAX_BYTES", 1 << 30)
    monkeypatch.setattr(lexical, "_WIDE_MIN_CHUNKS", 0)
    for share in (0.0, 0.05):
        monkeypatch.setattr(lexical, "_WIDE_SHARE", share)
        wide = _fresh(retriever.index.lexical)
        for terms, ref, top in zip(plans, want, tops, strict=True):
            assert np.array_equal(wide.scores(terms), ref)
            assert wide.top(terms, 20)[0].tolist() == top
        assert wide._wide


def test_small_indexes_and_a_spent_budget_keep_postings(  # type: ignore[no-untyped-def]
    retriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The four-report index (376 passages) never builds wide arrays; nor does a spent budget."""
    terms = retriever.plan("How does the force supervise investigations?").terms
    small = _fresh(retriever.index.lexical)
    small.scores(terms)
    assert not small._wide
    monkeypatch.setattr(lexical, "_WIDE_MIN_CHUNKS", 0)
    monkeypatch.setattr(lexical, "_WIDE_SHARE", 0.0)
    monkeypatch.setattr(lexical, "_WIDE_MAX_BYTES", small.size * 4)
    capped = _fresh(retriever.index.lexical)
    capped.scores(terms)
    assert len(capped._wide) == 1


def test_common_terms_are_kept_at_load_commonest_first(  # type: ignore[no-untyped-def]
    retriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading keeps none for the four-report index; within a budget, the commonest first."""
    assert not retriever.index.lexical._wide
    monkeypatch.setattr(lexical, "_WIDE_MIN_CHUNKS", 0)
    monkeypatch.setattr(lexical, "_WIDE_SHARE", 0.0)
    index = _fresh(retriever.index.lexical)
    monkeypatch.setattr(lexical, "_WIDE_MAX_BYTES", 3 * index.size * 4)
    assert index.keep_common_terms() == 3
    indptr = index._bm25.scores["indptr"]
    df = np.diff(indptr)
    assert sorted(df[list(index._wide)].tolist()) == sorted(df.tolist())[-3:]
