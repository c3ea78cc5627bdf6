"""Test helpers: render a markdown report to HTML (markdown-it) and HTML to PDF (reportlab).

The PDF is typeset like a published report: headings in larger bold type, footnotes in
small type, tables with ruled cells, and page furniture (a running header with the title
and a page-number footer on every page) that a PDF reader must drop.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

from markdown_it import MarkdownIt
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    ListFlowable,
    ListItem,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
BODY_SIZE = 10.0
HEADING_SIZES = {1: 20.0, 2: 16.0, 3: 13.5, 4: 12.0, 5: 10.0, 6: 10.0}
FOOTNOTE_SIZE = 8.0


def _fonts() -> tuple[str, bool]:
    """The font family to use, and whether it covers Unicode (else text is made cp1252)."""
    faces = {
        "": "DejaVuSans.ttf",
        "-Bold": "DejaVuSans-Bold.ttf",
        "-Oblique": "DejaVuSans-Oblique.ttf",
        "-BoldOblique": "DejaVuSans-BoldOblique.ttf",
    }
    if not all((_DEJAVU / f).exists() for f in faces.values()):
        return "Helvetica", False
    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        for suffix, file in faces.items():
            pdfmetrics.registerFont(TTFont(f"DejaVuSans{suffix}", str(_DEJAVU / file)))
        pdfmetrics.registerFontFamily(
            "DejaVuSans",
            normal="DejaVuSans",
            bold="DejaVuSans-Bold",
            italic="DejaVuSans-Oblique",
            boldItalic="DejaVuSans-BoldOblique",
        )
    return "DejaVuSans", True


def _tab_table(lines: list[str], md: MarkdownIt) -> str:
    rows = []
    for line in lines:
        cells = "".join(f"<td>{md.renderInline(c.strip())}</td>" for c in line.split("\t"))
        rows.append(f"<tr>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def markdown_to_html(md_text: str) -> str:
    """Render a markdown report to an HTML page, TAB-separated rows becoming <table>s."""
    md = MarkdownIt("commonmark", {"html": True, "breaks": True})
    out: list[str] = []
    block: list[str] = []
    # A run of TAB-separated lines is a table; commonmark would read a leading TAB as code.
    for line in [*md_text.splitlines(), ""]:
        if "\t" in line and line.strip():
            block.append(line)
            continue
        if block:
            out += ["", _tab_table(block, md), ""]
            block = []
        out.append(line)
    body = md.render("\n".join(out))
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Report</title>'
        "<style>body{font-family:sans-serif}</style></head>\n<body>\n"
        '<nav><a href="/">Home</a> &gt; <a href="/reports">Reports</a></nav>\n'
        f"<main>\n{body}</main>\n<footer><p>© Crown copyright</p></footer>\n</body></html>\n"
    )


@dataclass
class _Node:
    tag: str
    children: list[_Node | str] = field(default_factory=list)


class _Tree(HTMLParser):
    """A minimal DOM of the HTML that markdown-it writes."""

    _VOID = frozenset({"br", "hr", "img", "meta", "link", "input"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("root")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = _Node(tag)
        self.stack[-1].children.append(node)
        if tag not in self._VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for k in range(len(self.stack) - 1, 0, -1):
            if self.stack[k].tag == tag:
                del self.stack[k:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


class _Renderer:
    """Turns the DOM into reportlab flowables."""

    _INLINE: ClassVar[dict[str, str]] = {
        "strong": "b",
        "b": "b",
        "em": "i",
        "i": "i",
        "sup": "super",
    }
    _SKIP = frozenset({"head", "nav", "footer", "script", "style"})

    def __init__(self, font: str, unicode_ok: bool) -> None:
        self.font, self.unicode_ok = font, unicode_ok
        self.body = ParagraphStyle(
            "body", fontName=font, fontSize=BODY_SIZE, leading=13, spaceAfter=6
        )
        self.foot = ParagraphStyle(
            "foot", parent=self.body, fontSize=FOOTNOTE_SIZE, leading=10, spaceAfter=3
        )
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=9, leading=11, spaceAfter=0)
        self.heads = {
            n: ParagraphStyle(
                f"h{n}",
                parent=self.body,
                fontName=f"{font}-Bold" if unicode_ok else "Helvetica-Bold",
                fontSize=size,
                leading=size * 1.25,
                spaceBefore=10,
                spaceAfter=6,
                keepWithNext=1,
            )
            for n, size in HEADING_SIZES.items()
        }

    def text(self, s: str) -> str:
        if not self.unicode_ok:  # deterministic fallback for fonts without these glyphs
            s = unicodedata.normalize("NFKD", s).encode("cp1252", "replace").decode("cp1252")
        return html.escape(s, quote=False)

    def inline(self, node: _Node) -> str:
        parts: list[str] = []
        for ch in node.children:
            if isinstance(ch, str):
                parts.append(self.text(ch))
            elif ch.tag == "br":
                parts.append("<br/>")
            elif ch.tag in self._INLINE:
                tag = self._INLINE[ch.tag]
                parts.append(f"<{tag}>{self.inline(ch)}</{tag}>")
            else:
                parts.append(self.inline(ch))
        return re.sub(r"\s*\n\s*", " ", "".join(parts)).strip()

    def flowables(self, node: _Node) -> list[Flowable]:
        out: list[Flowable] = []
        for ch in node.children:
            if isinstance(ch, str):
                if ch.strip():
                    out.append(Paragraph(self.text(ch.strip()), self.body))
            elif ch.tag in self._SKIP:
                continue
            elif ch.tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                out.append(Paragraph(self.inline(ch), self.heads[int(ch.tag[1])]))
            elif ch.tag == "p":
                first = next((c for c in ch.children if not isinstance(c, str) or c.strip()), None)
                is_note = isinstance(first, _Node) and first.tag == "sup"
                out.append(Paragraph(self.inline(ch), self.foot if is_note else self.body))
            elif ch.tag in ("ul", "ol"):
                out.append(self.listing(ch))
            elif ch.tag == "table":
                out += [self.table(ch), Spacer(1, 8)]
            elif ch.tag == "hr":
                out.append(Spacer(1, 4))
            else:
                out += self.flowables(ch)
        return out

    def listing(self, node: _Node) -> ListFlowable:
        items = []
        for li in (c for c in node.children if isinstance(c, _Node) and c.tag == "li"):
            inline = _Node(
                "span",
                [c for c in li.children if isinstance(c, str) or c.tag not in ("ul", "ol", "p")],
            )
            parts: list[Flowable] = []
            if self.inline(inline):
                parts.append(Paragraph(self.inline(inline), self.body))
            parts += self.flowables(
                _Node(
                    "div",
                    [c for c in li.children if isinstance(c, _Node) and c.tag in ("ul", "ol", "p")],
                )
            )
            items.append(ListItem(parts))
        kind: dict[str, Any] = (
            {"bulletType": "1"} if node.tag == "ol" else {"bulletType": "bullet", "start": "•"}
        )
        return ListFlowable(
            items, bulletFontName=self.font, bulletFontSize=BODY_SIZE, leftIndent=18, **kind
        )

    def table(self, node: _Node) -> Table:
        rows: list[list[Paragraph]] = []

        def walk(n: _Node) -> None:
            for c in n.children:
                if isinstance(c, _Node) and c.tag == "tr":
                    rows.append(
                        [
                            Paragraph(self.inline(td), self.cell)
                            for td in c.children
                            if isinstance(td, _Node) and td.tag in ("td", "th")
                        ]
                    )
                elif isinstance(c, _Node):
                    walk(c)

        walk(node)
        ncols = max(len(r) for r in rows)
        rows = [r + [Paragraph("", self.cell)] * (ncols - len(r)) for r in rows]
        # Columns as wide as their longest text (square-root damped), filling the frame.
        lens = [max(len(r[k].getPlainText()) for r in rows) ** 0.5 + 2 for k in range(ncols)]
        width = A4[0] - 2 * 72
        table = Table(rows, colWidths=[width * x / sum(lens) for x in lens])
        table.setStyle(
            TableStyle(
                [("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]
            )
        )
        return table


def html_to_pdf(html_text: str, path: Path, title: str) -> None:
    """Typeset an HTML report as a PDF with a running header and page-number footer."""
    font, unicode_ok = _fonts()
    tree = _Tree()
    tree.feed(html_text)
    tree.close()
    renderer = _Renderer(font, unicode_ok)
    header = renderer.text(title) if unicode_ok else title.encode("ascii", "replace").decode()

    def furniture(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawCentredString(A4[0] / 2, A4[1] - 40, html.unescape(header))
        canvas.drawCentredString(A4[0] / 2, 30, f"Page {doc.page}")
        canvas.restoreState()

    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=72,
        rightMargin=72,
        topMargin=80,
        bottomMargin=70,
        title=title,
    )
    doc.build(renderer.flowables(tree.root), onFirstPage=furniture, onLaterPages=furniture)
