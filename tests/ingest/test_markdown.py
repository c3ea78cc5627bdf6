"""The markdown reader: markdown-it-py tokens mapped back to spans of the file."""

from __future__ import annotations

from pathlib import Path

from qa_service.index.chunking import readable_table
from qa_service.ingest import markdown, read_document
from qa_service.ingest.footnotes import resolve
from qa_service.ingest.textnorm import matches_span, passage_text

REPORT = """# A review of Someforce

## Introduction

Under the Children Act 1989[^1] officers may act. A second point.<sup>2</sup>

**Figure 1: Cases graded**

Case type\tGood\tInadequate
Place of safety\t0\t2

| Area | Good |
|---|---|
| Custody | 4 |

- first item with a note[^1]
- second item

[^1]: Children Act 1989, section 46.

<sup>2</sup> A note written as converters write them.
"""


def test_items_footnotes_and_references() -> None:
    items, refs = markdown.extract(REPORT)
    kinds = [(it.kind, it.text[:20]) for it in items]
    assert ("footnote", "Children Act 1989, s") in kinds
    assert ("footnote", "A note written as co") in kinds
    assert [
        k for k, t in kinds if t.startswith(("Case type", "Place of", "| Area", "| Custody"))
    ] == ["table"] * 4
    assert [k for k, t in kinds if t.startswith("- first")] == ["list"]
    # references: the marker's own span, never the footnote's opening marker
    assert [(REPORT[s:e], n) for s, e, n in refs] == [
        ("[^1]", "1"),
        ("<sup>2</sup>", "2"),
        ("[^1]", "1"),
    ]


def test_markers_are_shown_apart_and_slice_back(tmp_path: Path) -> None:
    path = tmp_path / "someforce.md"
    path.write_text(REPORT, encoding="utf-8")
    doc = read_document(path)
    assert [f.marker for f in doc.footnotes] == ["1", "2"]
    assert [(r.marker, r.footnote) for r in doc.references] == [("1", 0), ("2", 1), ("1", 0)]
    body = next(b for b in doc.blocks if "officers may act" in doc.text[b.start : b.end])
    text = passage_text(doc.text, body.start, body.end)
    assert "Children Act 1989[1] officers" in text and "point.[2]" in text
    assert "19891" not in text
    assert matches_span(doc.text, body.start, body.end, text)
    caption = next(b for b in doc.blocks if b.type == "table")
    assert doc.text[caption.start :].startswith("**Figure 1")


def test_resolve_points_to_the_next_footnote_of_that_number() -> None:
    from qa_service.types import Footnote

    notes = [Footnote("1", 100, 120, 0), Footnote("1", 300, 320, 1)]
    refs = resolve([(50, 53, "1"), (200, 203, "1"), (400, 403, "1"), (10, 13, "9")], notes)
    assert [r.footnote for r in refs] == [None, 0, 1, 1]


def test_readable_table_rows() -> None:
    text = "Figure 8: Place of safety\nCase type\tGood\tInadequate\nSection 46\t0\t2"
    assert readable_table(text) == "Figure 8: Place of safety\nSection 46: Good 0, Inadequate 2"
