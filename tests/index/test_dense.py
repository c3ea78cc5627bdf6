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
    [(10_000, True, "flat"), (0, False, "hnsw"), (0, True, "hnsw-sq8")],
)
def test_search_matches_brute_force(tmp_path: Path, threshold: int, int8: bool, kind: str) -> None:
    vecs, queries = _unit(2000), _unit(20, seed=1)
    index = DenseIndex.build(vecs, approx_threshold=threshold, int8=int8)
    assert index.kind == kind
    index.save(tmp_path)
    loaded = DenseIndex.load(tmp_path, index.kind, mmap=True)
    stored = loaded.rows(np.arange(len(vecs)))  # sq8: the vectors as the codes give them back
    # a byte a dimension: cosines within a hundredth (32 random dimensions here, each coded in
    # steps of ~0.007; 384 of MiniLM's: ~3e-4 on average, bench/results/compact.md)
    coded = kind == "hnsw-sq8"
    atol = 1e-2 if coded else 1e-5
    assert np.abs(stored - vecs).max() <= (0.01 if coded else 0)
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
    if coded:  # the only copy of the vectors is the graph's
        assert sorted(p.name for p in tmp_path.iterdir()) == ["hnsw.faiss"]


def test_sq8_codes_are_faiss_own(tmp_path: Path) -> None:
    """Scores and rows read FAISS's codes in place and decode them as FAISS does; a run of
    consecutive rows (a filter's reports) scores the same as scattered rows."""
    import faiss

    vecs = _unit(3000, d=48, seed=4)
    index = DenseIndex.build(vecs, approx_threshold=0)
    index.save(tmp_path)
    loaded = DenseIndex.load(tmp_path, "hnsw-sq8", mmap=True)
    storage = faiss.downcast_index(loaded._index.storage)
    assert not storage.codes.is_owned  # memory-mapped from the file, not read into memory
    rows = np.arange(100, 2900, dtype=np.int64)
    assert np.allclose(loaded.rows(rows), storage.reconstruct_batch(rows), rtol=0, atol=1e-6)
    q = _unit(1, d=48, seed=5)[0]
    by_runs = loaded.scores_of(q, rows)  # one run of 2,800 rows: read in place
    scattered = np.concatenate([loaded.scores_of(q, rows[i : i + 7]) for i in range(0, 2800, 7)])
    assert np.allclose(by_runs, scattered, atol=1e-6)
    assert np.allclose(by_runs, loaded.rows(rows) @ q, atol=1e-5)


def test_sq8_ranges_are_kept_so_reuse_never_drifts() -> None:
    """A build given the previous generation's ranges codes that generation's decoded vectors
    to the very same codes; vectors outside the ranges make it learn new ones."""
    vecs = _unit(1000, seed=6)
    first = DenseIndex.build(vecs, approx_threshold=0)
    ranges = first.ranges
    assert ranges is not None and ranges.shape == (64,)
    decoded = first.rows(np.arange(1000))
    fresh = decoded[:200] * 0.5  # nearer 0, so inside the first build's ranges
    second = DenseIndex.build(np.vstack([decoded, fresh]), approx_threshold=0, ranges=ranges)
    assert np.array_equal(second.ranges, ranges)
    assert np.array_equal(second.vectors[:1000], first.vectors)
    wide = fresh.copy()
    wide[0, 0] = ranges[0] - 0.5  # below dimension 0's minimum
    third = DenseIndex.build(np.vstack([decoded, wide]), approx_threshold=0, ranges=ranges)
    assert not np.array_equal(third.ranges, ranges)
    assert third.rows(np.array([1000]))[0, 0] == pytest.approx(wide[0, 0], abs=0.02)


def test_int8_generations_are_still_read(tmp_path: Path) -> None:
    """Store formats 3 to 5 kept int8 codes, a scale per vector and the graph's own copy."""
    import faiss

    from qa_service.index.quantize import dequantize_int8, quantize_int8

    vecs = _unit(500, seed=8)
    codes, scales = quantize_int8(vecs)
    graph = faiss.IndexHNSWSQ(32, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT)
    graph.train(dequantize_int8(codes, scales))
    graph.add(dequantize_int8(codes, scales))
    np.save(tmp_path / "codes.npy", codes)
    np.save(tmp_path / "scales.npy", scales)
    faiss.write_index(graph, str(tmp_path / "hnsw.faiss"))
    loaded = DenseIndex.load(tmp_path, "hnsw-int8", mmap=True)
    q = _unit(1, seed=9)[0]
    scores, ids = loaded.search(q, 10)
    assert np.allclose(scores, (dequantize_int8(codes, scales) @ q)[ids], atol=1e-5)
    assert set(ids) & set(np.argsort(-(vecs @ q))[:10])


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
    """The HNSW path (used above the measured threshold) returns what the exact scan does:
    most of each top five, and 16 of the 20 passages of these four questions (the bundled
    encoder shared 18; the adapted one 16 or 17, as its training data moves: docs/benchmarks.md,
    "Compact vectors")."""
    index = retriever.index
    hnsw_index = dataclasses.replace(index, dense=DenseIndex.build(index.dense.vectors, 0))
    approx = Retriever(hnsw_index, retriever.embedder, retriever.config)
    shared = 0
    for q in [
        "appropriate adults in custody",
        "does Kent use Operation Encompass?",
        "MOSOVO training",
        "how does a force handle missing children?",
    ]:
        exact = [h.chunk.chunk_id for h in retriever.search(q, top_k=5).hits]
        got = [h.chunk.chunk_id for h in approx.search(q, top_k=5).hits]
        assert len(set(exact) & set(got)) >= 3, q
        shared += len(set(exact) & set(got))
    assert shared >= 16
