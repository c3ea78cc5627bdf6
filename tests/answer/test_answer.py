"""Answer-sentence highlighting on hand-made passages."""

from __future__ import annotations

import numpy as np

from qa_service.answer.highlight import pick_highlights, score_sentences


def terms_of(text: str) -> list[str]:
    return [w.strip(".,").lower() for w in text.split()]


def test_rare_terms_pick_the_answer_sentence() -> None:
    text = "Children were seen. An appropriate adult arrived late. Children were happy."
    idf = {"children": 0.1, "appropriate": 3.0, "adult": 2.0}.get
    scored = score_sentences(
        text, {"appropriate": 1.0, "adult": 1.0, "children": 1.0}, terms_of, lambda t: idf(t, 0.0)
    )
    spans = pick_highlights(scored)
    assert [text[a:b] for a, b in spans] == ["An appropriate adult arrived late."]


def test_adjacent_close_second_sentence_is_added() -> None:
    scored = [((0, 10), 1.0), ((11, 20), 0.9), ((21, 30), 0.1)]
    assert pick_highlights(scored) == [(0, 10), (11, 20)]
    scored = [((0, 10), 1.0), ((11, 20), 0.1), ((21, 30), 0.95)]  # close but not adjacent
    assert pick_highlights(scored) == [(0, 10)]


def test_dense_similarity_breaks_lexical_ties() -> None:
    scored = [((0, 10), 0.0), ((11, 20), 0.0)]
    assert pick_highlights(scored, np.array([0.1, 0.8], dtype=np.float32)) == [(11, 20)]
    assert pick_highlights([]) == []
