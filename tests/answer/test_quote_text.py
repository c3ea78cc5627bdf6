"""Pasted-quote clean-up and word diffs on hand-made inputs."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from qa_service.answer.quote_text import WordDiff, clean_paste, render_diff, word_diff


def test_page_furniture_lines_are_dropped() -> None:
    for furniture in ("12", "Page 12", "page 3 of 40", "12 of 40", "7/40", "– 12 –", "  12  "):
        paste = f"children were detained\n{furniture}\novernight in custody"
        cleaned = clean_paste(paste)
        assert cleaned.text.split() == "children were detained overnight in custody".split()
    # a number inside a line is text, not furniture
    assert clean_paste("held for\n12 hours").text == "held for\n12 hours"


def test_furniture_alone_or_on_one_line_is_kept() -> None:
    assert clean_paste("Page 12").text == "Page 12"
    assert clean_paste("12\n").text == "12\n"
    assert clean_paste("12\n40").text == "12\n40"  # nothing else left: keep it all


def test_line_end_hyphenation_is_rejoined() -> None:
    assert clean_paste("safe-\nguarding children").text == "safeguarding children"
    assert clean_paste("safe-\r\n  guarding").text == "safeguarding"
    # across a page number line too
    assert clean_paste("safe-\nPage 4\nguarding").text == "safeguarding"
    # a real compound keeps its hyphen when the joined word is not known
    known = {"safeguarding"}.__contains__
    assert clean_paste("face-to-\nface", known).text == "face-to-face"
    assert clean_paste("safe-\nguarding", known).text == "safeguarding"
    # a hyphen mid-line is not a line break
    assert clean_paste("well-being").text == "well-being"


def test_origin_maps_back_to_the_paste() -> None:
    paste = "Officers safe-\nPage 9\nguard children"
    cleaned = clean_paste(paste)
    assert cleaned.text == "Officers safeguard children"
    start = cleaned.text.index("children")
    assert cleaned.span(start, start + 8) == (paste.index("children"), len(paste))
    word = cleaned.text.index("safeguard")
    s, e = cleaned.span(word, word + len("safeguard"))
    assert paste[s:e] == "safe-\nPage 9\nguard"
    assert cleaned.span(3, 3) == (3, 3)
    assert len(cleaned.origin) == len(cleaned.text) + 1


def test_curly_quotes_dashes_and_line_breaks_pass_through() -> None:
    paste = "the force’s “child-centred”\napproach – mostly"
    assert clean_paste(paste).text == paste  # the locator's normal form folds these


def test_word_diff_replacement_insertion_deletion() -> None:
    quote = "Officers are too busy and lack spare time."
    text = "Officers are busy and lack the time."
    d = word_diff(quote, text)
    pairs = [(quote[a:b], text[c:e]) for (a, b), (c, e) in zip(d.quote, d.text, strict=True)]
    assert pairs == [("too", ""), ("spare", "the")]
    # the empty report span sits where "too" would go
    assert d.text[0] == (text.index("busy"),) * 2
    assert (
        render_diff(quote, text, d) == "Officers are [-too-] busy and lack [-spare-]{+the+} time."
    )


def test_word_diff_words_only_the_report_has() -> None:
    quote = "we found that children waited"
    text = "we found that some children often waited"
    d = word_diff(quote, text)
    assert [text[a:b] for a, b in d.text] == ["some", "often"]
    assert all(a == b for a, b in d.quote)
    rendered = render_diff(quote, text, d)
    assert rendered == "we found that {+some+} children {+often+} waited"


def test_word_diff_ignores_case_apostrophes_and_punctuation() -> None:
    d = word_diff("They don’t have “enough” Time", "they don't have enough time.")
    assert d == WordDiff((), ())


def test_word_diff_at_the_ends() -> None:
    quote = "In 2019 officers were trained"
    text = "officers were trained last year"
    d = word_diff(quote, text)
    pairs = [(quote[a:b], text[c:e]) for (a, b), (c, e) in zip(d.quote, d.text, strict=True)]
    assert pairs == [("In 2019", ""), ("", "last year")]
    assert render_diff(quote, text, d) == "[-In 2019-] officers were trained {+last year+}"


WORDS = st.lists(
    st.sampled_from(["the", "force", "child", "custody", "review", "found"]), max_size=12
)


@given(WORDS, WORDS)
def test_spans_slice_whole_words_and_rebuild_the_report(a: list[str], b: list[str]) -> None:
    quote, text = " ".join(a), " ".join(b)
    d = word_diff(quote, text)
    assert len(d.quote) == len(d.text)
    for side, spans in ((quote, d.quote), (text, d.text)):
        for s, e in spans:
            assert 0 <= s <= e <= len(side)
            assert re.fullmatch(r"(\w+( \w+)*)?", side[s:e])
    # swapping each changed quote span for its report span turns the quote's words into the report's
    out, pos = [], 0
    for (qs, qe), (ts, te) in zip(d.quote, d.text, strict=True):
        out += [quote[pos:qs], " ", text[ts:te], " "]
        pos = qe
    out.append(quote[pos:])
    assert "".join(out).split() == text.split()
    if a == b:
        assert d == WordDiff((), ())
