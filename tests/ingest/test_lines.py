"""Line cues on hand-made lines."""

from __future__ import annotations

import pytest

from qa_service.ingest import lines as L


@pytest.mark.parametrize(
    ("line", "title", "page"),
    [
        ("The 2017 inspection.....\t3", "The 2017 inspection", 3),
        ("1. Background\t3", "1. Background", 3),
        ("<b>Foreword</b> .....\t<b>2</b>", "Foreword", 2),
        (
            "Annex B – Definitions &amp; Interpretations ..... 55",
            "Annex B – Definitions & Interpretations",
            55,
        ),
    ],
)
def test_toc_entries(line: str, title: str, page: int) -> None:
    entry = L.toc_entry(line)
    assert entry is not None and (entry.title, entry.page) == (title, page)


@pytest.mark.parametrize(
    "line",
    ["<b>HMICFRS assessment</b>\t6\t20\t20", "In 2019, 45 children were detained.", "Page 2"],
)
def test_not_toc_entries(line: str) -> None:
    entry = L.toc_entry(line)
    assert entry is None or not entry.leaders


@pytest.mark.parametrize(
    "line",
    [
        "Fewer children are being detained after charge",
        "Post-inspection review findings: Initial contact",
        "2. Post-inspection review findings",
        "Case study",
        "Officers still don’t gather and record children’s views enough",
    ],
)
def test_headings(line: str) -> None:
    assert L.looks_like_heading(line)


@pytest.mark.parametrize(
    "line",
    [
        "The interview was recorded on COMPACT. The boy went home",  # two sentences
        "- examining force policies, strategies and other documents;",
        "This meant that some children got a poorer service.",
        "the review included:",
        "⁴ Framework that is used by the police service",
        "9–19 October 2017",
    ],
)
def test_not_headings(line: str) -> None:
    assert not L.looks_like_heading(line)


@pytest.mark.parametrize(
    ("text", "headline"),
    [
        ("Fewer children are being detained after charge", True),
        ("Managers made changes in the FCR", True),
        ("The force isn’t recording information", True),
        ("Detailed post-inspection review findings", False),
        ("Managing those posing a risk to children", False),
        ("Methodology for the revisit and impact of COVID-19", False),
    ],
)
def test_headline_or_label(text: str, headline: bool) -> None:
    assert L.is_headline(text) is headline


def test_footnotes_captions_furniture() -> None:
    assert L.footnote_marker("⁸ An appropriate adult is a parent") == "8"
    assert L.footnote_marker("[4] NSPIS is a system") == "4"
    assert L.footnote_marker("<sup>21</sup> Under section 46") == "21"
    assert L.footnote_marker("4 children were seen") is None
    assert L.is_caption("Figure 3: Cases assessed involving enquiries")
    assert not L.is_caption("Figures show an increase")
    for chrome in ["Print this document", "Back to publication", "Contents", "12", "Page 3 of 40"]:
        assert L.is_furniture(chrome)
    assert not L.is_furniture("Police detention")
    assert L.numbering("2. Post-inspection review findings") == "2"
    assert L.numbering("2.1 Initial contact") == "2.1"
    assert L.numbering("2017 inspection") is None
    assert L.title_key("## **5. Initial contact**") == "initial contact"
