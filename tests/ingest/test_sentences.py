"""Sentence spans."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qa_service.ingest.sentences import sentence_spans


def test_examples() -> None:
    text = (
        "We found this, e.g. in Kent. The force (HMICFRS)¹ did well. It rose 3.5 percent! "
        "Mr. J. Smith said no.\n- item one;\n- item two."
    )
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == [
        "We found this, e.g. in Kent.",
        "The force (HMICFRS)¹ did well.",
        "It rose 3.5 percent!",
        "Mr. J. Smith said no.",
        "- item one;",
        "- item two.",
    ]


@given(st.text(alphabet=st.sampled_from(list("ab .!?\n-ABC1’")), max_size=200))
def test_spans_are_ordered_and_cover_text(text: str) -> None:
    spans = sentence_spans(text)
    pos = 0
    for s, e in spans:
        assert pos <= s < e <= len(text)
        assert text[pos:s].strip() == ""
        pos = e
    assert text[pos:].strip() == ""
