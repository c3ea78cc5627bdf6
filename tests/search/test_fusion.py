"""Fusion functions on hand-made scores."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qa_service.index.dense import SentenceVectors
from qa_service.index.topk import top_indices
from qa_service.search.fusion import convex, cover_groups, minmax, rrf


def test_minmax_ignores_filtered_out() -> None:
    s = np.array([1.0, 3.0, 100.0, 2.0], dtype=np.float32)
    keep = np.array([True, True, False, True])
    assert np.allclose(minmax(s, keep), [0.0, 1.0, 0.0, 0.5])
    assert not minmax(s, np.zeros(4, dtype=bool)).any()
    assert not minmax(np.ones(4, dtype=np.float32), keep).any()  # all equal


def test_convex_by_hand() -> None:
    dense = np.array([0.2, 0.6, 0.4], dtype=np.float32)  # minmax -> 0, 1, .5
    lex = np.array([10.0, 0.0, 5.0], dtype=np.float32)  # minmax -> 1, 0, .5
    keep = np.ones(3, dtype=bool)
    assert np.allclose(convex(dense, lex, keep, 0.25), [0.75, 0.25, 0.5])


def test_rrf_by_hand() -> None:
    a = np.array([3.0, 2.0, 1.0], dtype=np.float32)  # ranks 1, 2, 3
    b = np.array([1.0, 3.0, 2.0], dtype=np.float32)  # ranks 3, 1, 2
    keep = np.ones(3, dtype=bool)
    got = rrf([a, b], keep, k=1)
    assert np.allclose(got, [1 / 2 + 1 / 4, 1 / 3 + 1 / 2, 1 / 4 + 1 / 3])
    # depth cuts the tail: only rank 1 of each run counts
    assert np.allclose(rrf([a, b], keep, k=1, depth=1), [1 / 2, 1 / 2, 0])


def test_cover_groups_puts_each_group_first() -> None:
    order = [0, 1, 2, 3, 4]
    groups = ["kent", "kent", "kent", "lincs", "lancs"]
    assert cover_groups(order, groups, 3, ["kent", "lincs", "lancs"]) == [0, 3, 4]
    assert cover_groups(order, groups, 5, ["lincs"]) == [3, 0, 1, 2, 4]
    assert cover_groups(order, groups, 2, ["essex"]) == [0, 1]


@given(
    st.lists(st.sampled_from([0.0, 0.5, 1.0, -1.0, 2.5, float("-inf")]), max_size=60),
    st.integers(min_value=0, max_value=70),
)
def test_top_indices_equal_a_stable_sort(values: list[float], m: int) -> None:
    scores = np.array(values, dtype=np.float32)
    expected = np.argsort(-scores, kind="stable")[:m]
    assert top_indices(scores, m).tolist() == expected.tolist()


@given(st.lists(st.integers(min_value=0, max_value=6), max_size=40), st.integers(0, 3))
def test_best_sentence_per_chunk_equals_a_plain_loop(owners: list[int], extra: int) -> None:
    owner = np.array(sorted(owners), dtype=np.int32)
    rng = np.random.default_rng(len(owners))
    vectors = rng.normal(size=(len(owner), 4)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)  # unit rows, as indexed
    sv = SentenceVectors(vectors, owner, np.zeros((len(owner), 2), dtype=np.int32))
    n_chunks = (int(owner.max()) + 1 if len(owner) else 0) + extra
    query = rng.normal(size=4).astype(np.float32)
    query /= np.linalg.norm(query)
    expected = np.full(n_chunks, -1.0, dtype=np.float32)
    for row, vec in zip(owner, vectors, strict=True):
        expected[row] = max(expected[row], float(vec @ query))
    np.testing.assert_allclose(sv.best_per_chunk(query, n_chunks), expected, rtol=1e-5, atol=1e-6)
    rows = np.arange(n_chunks)
    np.testing.assert_allclose(
        sv.best_per_chunk(query, n_chunks, rows), expected, rtol=1e-5, atol=1e-6
    )
