"""FAISS indexes against a brute-force numpy reference; the approximate path end to end."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from qa_service.answer.retriever import Retriever
from qa_service.index.dense import DenseIndex, SentenceVectors


def _unit(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize(
    ("threshold", "int8", "kind"),
    [(10_000, True, "flat"), (0, False, "hnsw"), (0, True, "hnsw-int8")],
)
def test_search_matches_brute_force(tmp_path: Path, threshold: int, int8: bool, kind: str) -> None:
    vecs, queries = _unit(2000), _unit(20, seed=1)
    index = DenseIndex.build(vecs, approx_threshold=threshold, int8=int8)
    assert index.kind == kind
    index.save(tmp_path)
    loaded = DenseIndex.load(tmp_path, index.kind, mmap=True)
    stored = loaded.rows(np.arange(len(vecs)))  # int8: the vectors as the codes give them back
    # a byte a dimension: cosines within a few thousandths (32 dimensions here; 384: ~5e-4)
    atol = 5e-3 if kind == "hnsw-int8" else 1e-5
    assert np.abs(stored - vecs).max() <= (0.01 if kind == "hnsw-int8" else 0)
    hits = 0
    for q in queries:
        want = np.argsort(-(vecs @ q))[:10]
        scores, ids = loaded.search(q, 10)
        assert np.allclose(scores, (stored @ q)[ids], atol=1e-5)  # exact over what is stored
        assert np.all(np.diff(scores) <= 0)
        assert np.allclose(scores, (vecs @ q)[ids], atol=atol)
        hits += len(set(ids) & set(want))
        assert np.allclose(loaded.all_scores(q), vecs @ q, atol=atol)
        rows = np.array([5, 3, 1999, 4, 6, 7], dtype=np.int64)
        assert np.allclose(loaded.scores_of(q, rows), (stored @ q)[rows], atol=1e-5)
    assert hits / (10 * len(queries)) >= (1.0 if threshold else 0.95)


def test_sentence_best_per_chunk() -> None:
    vecs = _unit(5)
    owner = np.array([0, 0, 1, 3, 3], dtype=np.int32)
    spans = np.zeros((5, 2), dtype=np.int32)
    sv = SentenceVectors(vecs, owner, spans)
    q = _unit(1, seed=3)[0]
    sims = vecs @ q
    best = sv.best_per_chunk(q, 4)
    assert np.allclose(best, [max(sims[0], sims[1]), sims[2], -1.0, max(sims[3], sims[4])])
    some = sv.best_per_chunk(q, 4, np.array([1, 3]))
    assert np.allclose(some, [-1.0, sims[2], -1.0, max(sims[3], sims[4])])
    assert [tuple(s) for s in sv.of_chunk(3)[0]] == [(0, 0), (0, 0)]


def test_approximate_index_gives_the_same_answers(retriever) -> None:
    """The HNSW path (used above the measured threshold) returns what the exact scan does."""
    index = retriever.index
    hnsw_index = dataclasses.replace(index, dense=DenseIndex.build(index.dense.vectors, 0))
    approx = Retriever(hnsw_index, retriever.embedder, retriever.config)
    for q in [
        "appropriate adults in custody",
        "does Kent use Operation Encompass?",
        "MOSOVO training",
        "how does a force handle missing children?",
    ]:
        exact = [h.chunk.chunk_id for h in retriever.search(q, top_k=5).hits]
        got = [h.chunk.chunk_id for h in approx.search(q, top_k=5).hits]
        assert len(set(exact) & set(got)) >= 4, q
