"""Reader for HTML reports (.html/.htm): the visible text of the page, one line per block.

The canonical text is the text we extract: one line per block element (headings,
paragraphs, list items, table rows with cells joined by a TAB, captions...), a blank
line between blocks, and a line break wherever the page has ``<br>``. Page chrome
(navigation, header, footer, scripts) is left out. Every line becomes one ``RawItem``
whose ``source`` keeps bold runs as ``<b>`` so the builder can read bold TOC entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from . import lines as L
from .extracted import Extracted, RawItem

# Never report content: page chrome, scripts and interactive widgets.
_SKIP = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "head",
        "nav",
        "header",
        "footer",
        "aside",
        "form",
        "button",
        "svg",
        "title",
    }
)
# Elements that start and end a line of their own.
_BLOCK = frozenset(
    {
        "p",
        "li",
        "dt",
        "dd",
        "caption",
        "figcaption",
        "blockquote",
        "pre",
        "div",
        "section",
        "article",
        "main",
        "body",
        "html",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "tr",
        "ul",
        "ol",
        "dl",
        "figure",
        "hr",
        "address",
        "details",
        "summary",
        "center",
        "fieldset",
        "legend",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
    }
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BOLD = frozenset({"b", "strong"})
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_FOOTNOTE_ID = re.compile(r"^(?:fn|footnote)[-:_]?(\d{1,3})$", re.IGNORECASE)
_BACKLINK = re.compile("[↩\ufe0e\ufe0f]")  # "back to the text" arrows after footnotes

Seg = tuple[str, bool]  # a run of text and whether it is bold


@dataclass
class _Line:
    text: str
    source: str
    hint: int | None
    soft: bool  # follows a <br> (or a <pre> line break): no blank line before it


def _collapse(segs: list[Seg]) -> list[tuple[str, bool]]:
    """Characters of the runs with whitespace collapsed to single spaces and ends trimmed."""
    chars: list[tuple[str, bool]] = []
    for text, bold in segs:
        for ch in text:
            if ch.isspace():
                if chars and chars[-1][0] != " ":
                    chars.append((" ", bold))
            else:
                chars.append((ch, bold))
    while chars and chars[-1][0] == " ":
        chars.pop()
    return chars


def bold_source(chars: list[tuple[str, bool]]) -> tuple[str, str]:
    """(plain text, source with bold runs wrapped in ``<b>``) of (character, bold) pairs."""
    text = "".join(c for c, _ in chars)
    out: list[str] = []
    i = 0
    while i < len(chars):
        j = i
        while j < len(chars) and chars[j][1] == chars[i][1]:
            j += 1
        run = "".join(c for c, _ in chars[i:j])
        if chars[i][1] and run.strip():
            core = run.strip()
            lead = run[: len(run) - len(run.lstrip())]
            trail = run[len(run.rstrip()) :]
            out.append(f"{lead}<b>{core}</b>{trail}")
        else:
            out.append(run)
        i = j
    return text, "".join(out)


class _Parser(HTMLParser):
    """Collects the lines of a page; block elements end lines, inline ones add runs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[_Line] = []
        self.segs: list[Seg] = []
        self.prefix = ""  # list marker waiting for the item's first line
        self.hint: int | None = None
        self.bold = self.sup = self.pre = 0
        self.skip: list[str] = []  # the open chrome element, once per nesting level
        self.lists: list[int | None] = []  # None: <ul>; n: next number of an <ol>
        self.row: list[list[Seg]] | None = None  # finished cells of the open table row
        self.cell: list[Seg] | None = None
        self.soft = False
        self.last_row = False  # the last line emitted was a table row

    # -- lines ---------------------------------------------------------------------------
    def _emit(self, text: str, source: str, row: bool = False) -> None:
        if text.strip():
            # Rows of one table sit on consecutive lines, as in a text report.
            soft = self.soft or (row and self.last_row)
            self.lines.append(_Line(text, source, self.hint, soft))
            self.soft, self.last_row = False, row

    def flush(self, soft_next: bool = False) -> None:
        """End the current line; the next line follows a <br> when ``soft_next``."""
        chars = _collapse(self.segs)
        self.segs = []
        if chars:
            text, source = bold_source(chars)
            if self.prefix:
                text, source, self.prefix = self.prefix + text, self.prefix + source, ""
            self._emit(text, source)
        if soft_next and self.lines:
            self.soft = True
        elif not soft_next:
            self.soft = False

    def flush_row(self) -> None:
        """Emit the open table row as one line, cells joined by a TAB."""
        self.end_cell()
        if self.row is not None:
            cells = [bold_source(_collapse(c)) for c in self.row]
            if any(t for t, _ in cells):
                self._emit("\t".join(t for t, _ in cells), "\t".join(s for _, s in cells), True)
        self.row = None

    def end_cell(self) -> None:
        if self.cell is not None and self.row is not None:
            self.row.append(self.cell)
        self.cell = None

    # -- parser callbacks ------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip:
            if tag == self.skip[0]:
                self.skip.append(tag)
            elif tag == "body" and self.skip[0] == "head":  # <head> left unclosed
                self.skip = []
            return
        if tag in _SKIP:
            self.skip = [tag]
            return
        if tag in ("td", "th"):
            if self.row is None:
                self.flush()
                self.row = []
            self.end_cell()
            self.cell = []
            return
        if self.cell is not None:  # everything inside a cell is inline text
            if tag in _BLOCK or tag == "br":
                self.cell.append((" ", False))
            self._inline_start(tag)
            return
        if tag == "tr":
            self.flush_row()
            self.flush()
            self.row = []
            return
        if tag == "br":
            # A <br> inside a heading is typesetting, not a second heading.
            if self.hint is not None:
                self.segs.append((" ", False))
            else:
                self.flush(soft_next=True)
            return
        if tag in _BLOCK:
            self.flush_row()
            self.flush()
            if tag in _HEADINGS:
                self.hint = _HEADINGS[tag]
            elif tag == "ul":
                self.lists.append(None)
            elif tag == "ol":
                start = dict(attrs).get("start") or "1"
                self.lists.append(int(start) if start.isdigit() else 1)
            elif tag == "li":
                # Footnotes of gov.uk and markdown pages: <li id="fn:3"> in a closing list.
                note = _FOOTNOTE_ID.match(dict(attrs).get("id") or "")
                number = self._marker()
                self.prefix = note.group(1).translate(_SUPERSCRIPT) + " " if note else number
            elif tag == "pre":
                self.pre += 1
            return
        self._inline_start(tag)

    def _marker(self) -> str:
        n = self.lists[-1] if self.lists else None
        if n is None:
            return "- "
        self.lists[-1] = n + 1
        return f"{n}) " if n < 100 else "- "  # lines.is_list_item reads up to two digits

    def _inline_start(self, tag: str) -> None:
        if tag in _BOLD:
            self.bold += 1
        elif tag == "sup":
            self.sup += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr", "img", "input", "meta", "link", "wbr"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            if tag == self.skip[0]:
                self.skip.pop()
            return
        if tag in _BOLD:
            self.bold = max(0, self.bold - 1)
        elif tag == "sup":
            self.sup = max(0, self.sup - 1)
        elif tag in ("td", "th"):
            self.end_cell()
        elif tag == "tr":
            self.flush_row()
        elif self.cell is not None:
            if tag in _BLOCK:
                self.cell.append((" ", False))
            if tag == "table":  # a table left with an open cell
                self.flush_row()
        elif tag in _BLOCK:
            self.flush_row()
            self.flush()
            if tag in _HEADINGS:
                self.hint = None
            elif tag == "table":
                self.last_row = False
            elif tag in ("ul", "ol") and self.lists:
                self.lists.pop()
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)
            elif tag == "li":
                self.prefix = ""

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        data = _BACKLINK.sub("", data)
        if self.sup and data.strip().isdigit():
            # Footnote markers as Unicode superscripts, which lines.footnote_marker reads.
            data = data.strip().translate(_SUPERSCRIPT)
        target = self.cell if self.cell is not None else self.segs
        if self.row is not None and self.cell is None:
            return  # whitespace between cells
        if self.pre and self.cell is None:
            parts = data.split("\n")
            for k, part in enumerate(parts):
                if k:
                    self.flush(soft_next=True)
                self.segs.append((part, self.bold > 0))
            return
        target.append((data, self.bold > 0))

    def close(self) -> None:
        super().close()
        self.flush_row()
        self.flush()


def extract(text: str) -> Extracted:
    """Extract the canonical text of an HTML page and one RawItem per line."""
    parser = _Parser()
    parser.feed(text)
    parser.close()
    out: list[str] = []
    items: list[RawItem] = []
    pos = 0
    for line in parser.lines:
        if out:
            sep = "\n" if line.soft else "\n\n"
            out.append(sep)
            pos += len(sep)
        # Offsets point at visible text: a row with an empty first cell starts with a TAB.
        lead = len(line.text) - len(line.text.lstrip())
        start, end = pos + lead, pos + len(line.text.rstrip())
        items.append(
            RawItem(
                start,
                end,
                L.clean_line(line.text),
                line.source.strip(),
                hint=line.hint,
                plain=False,
            )
        )
        out.append(line.text)
        pos += len(line.text)
    return Extracted("".join(out), items)
