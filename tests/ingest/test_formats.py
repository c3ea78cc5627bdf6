"""The HTML and PDF readers give the same report structure as the markdown it was made from."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from qa_service.ingest import IngestError, html, pdf, read_document
from qa_service.ingest import lines as L
from qa_service.ingest.textnorm import matches_span, passage_text
from qa_service.types import Document

try:
    from tests.formats import html_to_pdf, markdown_to_html
except ImportError:  # tests/ on sys.path as a plain folder
    from formats import html_to_pdf, markdown_to_html  # type: ignore[no-redef]

SEED = Path(__file__).resolve().parents[2] / "corpus" / "lancashire-2017-inspection.md"
RUNNING_TITLE = "Lancashire Constabulary – National Child Protection Inspection (test render)"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The seed report as markdown, and rendered to HTML and to PDF."""
    out = tmp_path_factory.mktemp("formats")
    page = markdown_to_html(SEED.read_text(encoding="utf-8"))
    (out / "lancashire.html").write_text(page, encoding="utf-8")
    html_to_pdf(page, out / "lancashire.pdf", RUNNING_TITLE)
    return {"md": SEED, "html": out / "lancashire.html", "pdf": out / "lancashire.pdf"}


@pytest.fixture(scope="module")
def docs(rendered: dict[str, Path]) -> dict[str, Document]:
    return {fmt: read_document(path) for fmt, path in rendered.items()}


def _tree(doc: Document) -> list[tuple[int, str]]:
    return [(s.level, L.title_key(s.title)) for s in doc.sections]


def _block_text(doc: Document, i: int) -> str:
    b = doc.blocks[i]
    return passage_text(doc.text, b.start, b.end)


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_section_tree_matches_markdown(docs: dict[str, Document], fmt: str) -> None:
    assert _tree(docs[fmt]) == _tree(docs["md"])


def test_top_level_sections(docs: dict[str, Document]) -> None:
    for fmt, doc in docs.items():
        top = [s.title for s in doc.sections if s.level == 1]
        numbers = {int(n) for t in top if (n := L.numbering(t))}
        assert numbers >= set(range(1, 12)), fmt
        keys = [L.title_key(t) for t in top]
        for want in ("foreword", "summary", "next steps", "annex a", "annex b"):
            assert any(k == want or k.startswith(want + " ") for k in keys), (fmt, want)


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_offset_rule_for_every_block(docs: dict[str, Document], fmt: str) -> None:
    doc = docs[fmt]
    assert doc.blocks
    for b in doc.blocks:
        text = passage_text(doc.text, b.start, b.end)
        assert text, b
        assert matches_span(doc.text, b.start, b.end, text), b


def test_reader_items_point_at_their_text(rendered: dict[str, Path]) -> None:
    for ex in (
        html.extract(rendered["html"].read_text(encoding="utf-8")),
        pdf.extract(rendered["pdf"].read_bytes(), "lancashire.pdf"),
    ):
        for it in ex.items:
            assert L.clean_line(ex.text[it.start : it.end]) == it.text
            assert it.text and not ex.text[it.start].isspace()


def test_no_page_chrome_or_furniture(docs: dict[str, Document]) -> None:
    assert "Crown copyright" not in docs["html"].text  # the page's <footer>
    doc = docs["pdf"]
    assert RUNNING_TITLE not in doc.text
    assert not re.search(r"(?m)^Page \d+$", doc.text)
    for i in range(len(doc.blocks)):
        for line in _block_text(doc, i).splitlines():
            assert not re.fullmatch(r"(?:Page\s+)?\d{1,3}", line.strip()), line
            assert "test render" not in line


def test_footnotes_found_in_every_format(docs: dict[str, Document]) -> None:
    want = {str(n) for n in range(1, 31)}
    for fmt, doc in docs.items():
        assert {f.marker for f in doc.footnotes} == want, fmt
    # In the PDF each footnote is a block of its own, never inside a paragraph.
    doc = docs["pdf"]
    for b in doc.blocks:
        if b.type != "footnote":
            assert not re.search(r"\n[⁰¹²³⁴⁵⁶⁷⁸⁹]+ ", doc.text[b.start : b.end])


def test_tables_with_captions_in_every_format(docs: dict[str, Document]) -> None:
    for fmt, doc in docs.items():
        figures = set()
        for i, b in enumerate(doc.blocks):
            m = re.match(r"Figure (\d+):", _block_text(doc, i))
            if b.type == "table" and m:
                assert "\t" in doc.text[b.start : b.end], (fmt, m.group())
                figures.add(int(m.group(1)))
        assert figures == set(range(1, 11)), fmt


def test_html_skips_chrome_and_reads_table_caption(tmp_path: Path) -> None:
    page = """<!DOCTYPE html><html><head><title>Site</title>
<script>var s = "<p>not report text</p>";</script><style>p {color: red}</style></head>
<body><header><p>Site header</p></header>
<nav><ul><li>Home</li><li>Publications</li></ul></nav>
<main><h1>Police child protection report</h1>
<h2>1. Introduction</h2>
<p>The police have a duty to inquire into the case of any child at risk of significant
harm, and to act quickly.<sup>1</sup> More&nbsp;text &amp; symbols follow here.</p>
<table><caption>Figure 1: Cases by outcome</caption>
<thead><tr><th>Case type</th><th>Good</th><th>Inadequate</th></tr></thead>
<tbody><tr><td><b>Missing children</b></td><td>3</td><td>4</td></tr></tbody></table>
<p><sup>1</sup> Children Act 1989, section 46.</p>
<ul><li>First point.</li><li>Second point.</li></ul>
<div class="footnotes"><ol><li id="fn:2"><p>Working Together, 2015. <a href="#fnref:2">↩</a></p>
</li></ol></div></main>
<aside>Related links</aside><form><button>Search</button></form>
<footer><p>© Crown copyright</p><p>Back to top</p></footer></body></html>"""
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    doc = read_document(path)
    for chrome in (
        "Site",
        "Home",
        "Publications",
        "not report text",
        "color",
        "Related",
        "Search",
        "Crown copyright",
        "Back to top",
    ):
        assert chrome not in doc.text, chrome
    assert "More text & symbols" in doc.text
    assert "- First point.\n\n- Second point." in doc.text
    assert [s.title for s in doc.sections][-1] == "1. Introduction"
    tables = [b for b in doc.blocks if b.type == "table"]
    assert len(tables) == 1
    table = doc.text[tables[0].start : tables[0].end]
    assert table.startswith("Figure 1: Cases by outcome")
    assert "Case type\tGood\tInadequate\nMissing children\t3\t4" in table
    assert [f.marker for f in doc.footnotes] == ["1", "2"]
    assert "\n² Working Together, 2015.\n" in doc.text + "\n"
    assert "act quickly.¹ More" in doc.text


def _body(c: canvas.Canvas, y: float, text: str, size: float = 10) -> None:
    c.setFont("Helvetica", size)
    c.drawString(72, y, text)


def _furniture(c: canvas.Canvas, page: int) -> None:
    c.setFont("Helvetica", 8)
    c.drawCentredString(A4[0] / 2, A4[1] - 40, "Test Constabulary inspection report")
    c.drawCentredString(A4[0] / 2, 30, str(page))


def test_pdf_paragraph_across_page_break_with_footnote(tmp_path: Path) -> None:
    path = tmp_path / "break.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    _furniture(c, 1)
    c.setFont("Helvetica-Bold", 16)
    c.drawString(72, 740, "1. Introduction")
    filler = "Officers recorded what they saw, spoke with the child and told the social worker."
    y = 710.0
    for _ in range(40):
        _body(c, y, filler)
        y -= 13
    _body(c, y - 6, "This paragraph begins on the first page and sets out the duty of the police")
    _body(c, y - 19, "under the Children Act 1989,¹ which every officer must apply when a child is")
    # Footnotes at the page foot: one with a raised marker, one with a plain number.
    t = c.beginText(72, 100)
    t.setFont("Helvetica", 5.5)
    t.setRise(3)
    t.textOut("1")
    t.setRise(0)
    t.setFont("Helvetica", 8)
    t.textOut(" Children Act 1989, section 46.")
    c.drawText(t)
    _body(c, 88, "2 Working Together to Safeguard Children, HM Government, 2015.", 8)
    c.showPage()
    _furniture(c, 2)
    _body(c, 740, "at risk, and it ends here on the second page.")
    _body(c, 719, "A second paragraph follows on the second page and is finished.")
    c.showPage()
    _furniture(c, 3)
    _body(c, 740, "A third page carries the running header for the third time.")
    c.showPage()
    c.save()

    doc = read_document(path)
    assert "Test Constabulary" not in doc.text
    assert not re.search(r"(?m)^\d+$", doc.text)
    texts = [_block_text(doc, i) for i in range(len(doc.blocks))]
    para = next(i for i, t in enumerate(texts) if "begins on the first page" in t)
    assert "it ends here on the second page." in texts[para]
    assert doc.blocks[para].type != "footnote"
    notes = sorted(doc.footnotes, key=lambda f: f.start)
    assert [f.marker for f in notes] == ["1", "2"]
    assert all(f.start > doc.blocks[para].end for f in notes)
    assert doc.text[notes[0].start : notes[0].end] == "¹ Children Act 1989, section 46."
    assert any(t.startswith("A second paragraph") for t in texts[para + 1 :])


def test_pdf_dash_lists_and_wrapped_dashes(tmp_path: Path) -> None:
    path = tmp_path / "dashes.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica-Bold", 16)
    c.drawString(72, 760, "2. Context for the force")
    _body(c, 730, "Police forces have a particular role in protecting children, and the police")
    _body(c, 717, "– working together with other agencies – must share what they know about")
    _body(c, 704, "children at risk of harm.")
    _body(c, 680, "Common themes include:")
    for y, item in ((656, "domestic abuse"), (643, "child sexual exploitation")):
        _body(c, y, "–")
        c.drawString(90, y, item)  # item text at the hanging indent
    c.showPage()
    c.save()
    doc = read_document(path)
    texts = [_block_text(doc, i) for i in range(len(doc.blocks))]
    assert any("the police – working together" in t and t.endswith("risk of harm.") for t in texts)
    assert "- domestic abuse" in texts and "- child sexual exploitation" in texts


def test_corrupt_pdf_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(random.Random(7).randbytes(4096))
    with pytest.raises(IngestError, match=r"^report\.pdf: not a readable PDF \("):
        read_document(path)


def test_pdf_without_text_layer_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(2):
        c.rect(72, 72, 400, 600, fill=1)  # stands in for a scanned page image
        c.showPage()
    c.save()
    with pytest.raises(IngestError, match=r"^scan\.pdf: no text layer \(scanned PDF\?\); OCR"):
        read_document(path)
