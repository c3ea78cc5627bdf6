"""Fusion functions on hand-made scores."""

from __future__ import annotations

import numpy as np

from qa_service.fusion import convex, cover_groups, minmax, rrf


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
