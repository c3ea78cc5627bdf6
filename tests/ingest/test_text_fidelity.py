"""Every chunk of every report, in every format, shows the report's own text.

The four reports as they are (.txt and .md) and the markdown report rendered to HTML and to
PDF (tests/formats.py) are chunked, and every chunk is checked:
- it slices back from the canonical text (CONTRACT.md), judged here by a reading of the rule
  written apart from ``qa_service.ingest.textnorm``;
- every footnote reference in its span is shown as ``[21]``, and no digit run glues a footnote
  number to the word or number the report prints before it ("198921");
- no line of it is page furniture or a table-of-contents line;
- it holds blocks of one type, and that is its type;
and every section title is one of the report's own lines, whole.
"""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from qa_service.index.chunking import ChunkParams, chunk_document
from qa_service.ingest import corpus_files, read_document
from qa_service.ingest import lines as L
from qa_service.types import Chunk, Document

try:
    from tests.formats import html_to_pdf, markdown_to_html
except ImportError:  # tests/ on sys.path as a plain folder
    from formats import html_to_pdf, markdown_to_html  # type: ignore[no-redef]

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
MARKDOWN = CORPUS / "lancashire-2017-inspection.md"

# The contract's markup, as a reader would list it: footnote markers first (their digits go
# with them), then tags, heading marks, links, emphasis and escapes.
_MARKERS = re.compile(r"<sup>\s*\d{1,3}\s*</sup>|\[\^\d{1,3}\]:?|\[\d{1,3}\](?!\()|[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_MARKUP = [
    (re.compile(r"</?[A-Za-z][^<>]*>"), ""),
    (re.compile(r"(?m)^[ \t]{0,3}#{1,6}[ \t]+"), ""),
    (re.compile(r"\[([^\]\n]*)\]\([^)\s]*\)"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"\\([!-/:-@\[-`{-~])"), r"\1"),
]
_SHOWN = re.compile(r"\[\d{1,3}\]")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")


def _squeeze(s: str) -> str:
    return re.sub(r" (?=[.,;:!?)\]’”])", "", re.sub(r"\s+", " ", s).strip())


def visible(raw: str) -> str:
    """Canonical text as a reader sees it, footnote markers left out."""
    raw = _MARKERS.sub("", raw)
    for pattern, repl in _MARKUP:
        raw = pattern.sub(repl, raw)
    return _squeeze(htmllib.unescape(raw))


def shown(text: str) -> str:
    """A passage's text with its ``[21]`` markers left out."""
    return _squeeze(_SHOWN.sub("", text))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Document]:
    """The corpus as it is, and the markdown report rendered to HTML and PDF."""
    out = tmp_path_factory.mktemp("fidelity")
    page = markdown_to_html(MARKDOWN.read_text(encoding="utf-8"))
    (out / "lancashire.html").write_text(page, encoding="utf-8")
    html_to_pdf(page, out / "lancashire.pdf", "Lancashire Constabulary (test render)")
    paths = list(corpus_files(CORPUS))
    paths += [out / "lancashire.html", out / "lancashire.pdf"]
    return {f"{p.stem}{p.suffix}": read_document(p) for p in paths}


@pytest.fixture(scope="module")
def chunked(
    reports: dict[str, Document],
    chunk_params: ChunkParams,
    count_tokens: Callable[[str], int],
    model_tokenizer: Callable[[str], int],
) -> dict[str, list[Chunk]]:
    return {
        name: chunk_document(doc, chunk_params, count_tokens, model_tokenizer)
        for name, doc in reports.items()
    }


def test_every_format_is_covered(reports: dict[str, Document]) -> None:
    assert {d.format for d in reports.values()} == {"txt", "md", "html", "pdf"}
    assert len(reports) == 6


def test_every_chunk_slices_back(
    reports: dict[str, Document], chunked: dict[str, list[Chunk]]
) -> None:
    for name, chunks in chunked.items():
        doc = reports[name]
        assert chunks, name
        for c in chunks:
            assert visible(doc.text[c.start : c.end]) == shown(c.text), (name, c.chunk_id)


def test_footnote_references_are_shown_and_never_glued(
    reports: dict[str, Document], chunked: dict[str, list[Chunk]]
) -> None:
    cited = 0
    for name, chunks in chunked.items():
        doc = reports[name]
        assert len(doc.references) >= len(doc.footnotes) - 1, name  # each footnote is cited
        for c in chunks:
            refs = [r for r in doc.references if c.start <= r.start < c.end]
            for r in refs:
                want = sum(x.marker == r.marker for x in refs)
                assert c.text.count(f"[{r.marker}]") >= want, (name, c.chunk_id, r)
                before = re.search(r"(\w+)\W*$", visible(doc.text[c.start : r.start]))
                if before and before.group(1)[-1:].isdigit():
                    glued = before.group(1) + r.marker
                    assert not re.search(rf"(?<![\w\[]){glued}(?!\w)", c.text), (name, glued)
                cited += 1
            # no raw marker survives into the text
            assert not re.search(r"<sup>|\[\^\d|[⁰¹²³⁴⁵⁶⁷⁸⁹]", c.text), (name, c.chunk_id)
    assert cited >= 30 * 3 + 8 + 7  # md, html and pdf of one report, two text reports


def test_chunks_cite_the_footnotes_they_hold(reports: dict[str, Document]) -> None:
    doc = reports["lancashire-2017-inspection.md"]
    ref = next(r for r in doc.references if r.marker == "21")
    assert ref.footnote is not None
    note = doc.footnotes[ref.footnote]
    assert "Under section 46 of the Children Act 1989" in doc.text[note.start : note.end]
    assert doc.text[ref.start - 4 : ref.start] == "1989"


def test_no_furniture_in_any_chunk(chunked: dict[str, list[Chunk]]) -> None:
    for name, chunks in chunked.items():
        for c in chunks:
            for line in c.text.splitlines():
                clean = line.strip()
                if not clean:
                    continue
                assert clean.lower().rstrip(":") not in L.BOILERPLATE, (name, line)
                assert not (L.is_page_number(clean) and "\t" not in line), (name, line)
                toc = L.toc_entry(line)
                assert toc is None or not toc.leaders, (name, line)


def test_a_chunk_holds_one_block_type(
    reports: dict[str, Document], chunked: dict[str, list[Chunk]]
) -> None:
    for name, chunks in chunked.items():
        doc = reports[name]
        for c in chunks:
            types = {b.type for b in doc.blocks if b.start < c.end and c.start < b.end}
            assert types == {c.type}, (name, c.chunk_id, types)


def test_section_titles_are_whole_report_lines(reports: dict[str, Document]) -> None:
    for name, doc in reports.items():
        lines = {L.clean_line(line) for line in doc.text.splitlines()}
        for s in doc.sections:
            if s.heading_end > s.start:
                assert s.title == L.clean_line(doc.text[s.start : s.heading_end]), (name, s)
            else:  # content before any heading, under the report's title line
                assert s.title in lines, (name, s.title)
