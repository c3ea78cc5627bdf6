"""Reader for markdown reports (.md), including markdown with inline HTML tags.

The canonical text is the file itself. markdown-it-py (CommonMark, GFM tables) with the
mdit-py-plugins footnote plugin tokenises it; this module only maps its block tokens back to
spans of the file and tells the structure builder what each one is:

- a heading (``#`` level as a relative hint: converted reports often level headings wrongly);
- a paragraph; a line of it stands alone when it reads as a table-of-contents entry, a
  caption or a footnote, and a hard line break ends a line of its own (title pages);
- a list item, its span starting at its bullet;
- a table row: a GFM table's rows, or lines whose cells are separated by TABs (CommonMark reads
  a TAB-led line as code, so such code blocks are tables too);
- a footnote: a ``[^21]:`` definition, or a paragraph that starts with the marker
  (``<sup>21</sup> Children Act 1989...``, as converters write them).

Footnote references (``[^21]``, ``<sup>21</sup>`` inside text) are returned with their spans,
so that passages show them as ``[21]`` and a footnote can ride along with what cites it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from . import lines as L
from .extracted import RawItem
from .plaintext import line_spans

_SUP = re.compile(r"<sup>\s*(\d{1,3})\s*</sup>", re.IGNORECASE)
_REF = re.compile(r"\[\^([^\]\s]{1,20})\]")


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin

    return MarkdownIt("commonmark", {"html": True}).use(footnote_plugin).enable("table")


class _Lines:
    """Character spans of the file's lines (markdown-it maps blocks to line ranges)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.spans = line_spans(text)
        self.n = len(self.spans)

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Span of lines [first, last), trimmed to visible text."""
        last = min(last, self.n)
        if first >= last:
            return (0, 0)
        start, end = self.spans[first][0], self.spans[last - 1][1]
        raw = self.text[start:end]
        return start + len(raw) - len(raw.lstrip()), end - (len(raw) - len(raw.rstrip()))

    def each(self, first: int, last: int) -> list[tuple[int, int]]:
        """Trimmed span of every non-blank line in [first, last)."""
        out = []
        for i in range(first, min(last, self.n)):
            s, e = self.span(i, i + 1)
            if e > s:
                out.append((s, e))
        return out


def _item(text: str, s: int, e: int, kind: str = "", hint: int | None = None) -> RawItem:
    src = text[s:e]
    return RawItem(s, e, L.clean_line(src), src, hint=hint, kind=kind)


def _stands_alone(line: str) -> bool:
    return (
        L.toc_entry(line) is not None
        or L.footnote_marker(line) is not None
        or L.is_caption(L.clean_line(line))
        or L.is_table_row(line)
    )


def _paragraph(
    text: str, lines: _Lines, first: int, last: int, start: int, breaks: list[str]
) -> list[RawItem]:
    """Items of one paragraph: tab-separated rows, standalone lines, hard-broken lines.
    ``breaks``: the parser's line breaks in the paragraph, "hardbreak" or "softbreak"."""
    spans = lines.each(first, last)
    if not spans:
        return []
    spans[0] = (min(start, spans[0][0]), spans[0][1])
    if all("\t" in text[s:e] for s, e in spans):
        return [_item(text, s, e, "table") for s, e in spans]
    if len(spans) == 1:
        s, e = spans[0]
        kind = "footnote" if L.footnote_marker(text[s:e]) is not None else ""
        return [_item(text, s, e, kind)]
    items: list[RawItem] = []
    group: list[tuple[int, int]] = []

    def flush() -> None:
        if group:
            s, e = group[0][0], group[-1][1]
            kind = "footnote" if L.footnote_marker(text[s:e]) is not None else ""
            items.append(_item(text, s, e, kind))
            group.clear()

    for k, (s, e) in enumerate(spans):
        line = text[s:e]
        alone = _stands_alone(line)
        if alone or (k and k - 1 < len(breaks) and breaks[k - 1] == "hardbreak"):
            flush()
        group.append((s, e))
        if alone:
            flush()
    flush()
    return items


def extract(text: str) -> tuple[list[RawItem], list[tuple[int, int, str]]]:
    """Items (headings, paragraphs, list items, table rows, footnotes) in text order, and
    the footnote references: (start, end, number) of every marker cited in the text."""
    tokens = _parser().parse(text)
    lines = _Lines(text)
    items: list[RawItem] = []
    # Open list items: [start of the bullet line, whether its first paragraph is still to come]
    open_items: list[list[Any]] = []
    footnote_depth = 0
    for i, tok in enumerate(tokens):
        kind = tok.type
        if kind == "footnote_open":
            footnote_depth += 1
        elif kind == "footnote_close":
            footnote_depth -= 1
        elif kind == "list_item_open" and tok.map:
            open_items.append([lines.span(tok.map[0], tok.map[0] + 1)[0], True])
        elif kind == "list_item_close" and open_items:
            open_items.pop()
        elif kind == "heading_open" and tok.map:
            s, e = lines.span(tok.map[0], tok.map[1])
            items.append(_item(text, s, e, "", int(tok.tag[1])))
        elif kind == "paragraph_open" and tok.map:
            if footnote_depth:
                s, e = lines.span(tok.map[0], tok.map[1])
                items.append(_item(text, s, e, "footnote"))
                continue
            start = lines.span(tok.map[0], tok.map[1])[0]
            in_item = bool(open_items) and open_items[-1][1]
            if in_item:
                start, open_items[-1][1] = open_items[-1][0], False
            inline = tokens[i + 1] if i + 1 < len(tokens) else None
            breaks = [
                c.type
                for c in (inline.children or [] if inline is not None else [])
                if c.type in ("softbreak", "hardbreak")
            ]
            found = _paragraph(text, lines, tok.map[0], tok.map[1], start, breaks)
            if in_item and found and not found[0].kind:
                found[0].kind = "list"
            items.extend(found)
        elif kind == "tr_open" and tok.map:
            s, e = lines.span(tok.map[0], tok.map[1])
            items.append(_item(text, s, e, "table"))
        elif kind in ("code_block", "fence", "html_block") and tok.map:
            spans = lines.each(tok.map[0], tok.map[1])
            if spans and all("\t" in text[s:e] for s, e in spans):
                items.extend(_item(text, s, e, "table") for s, e in spans)
            elif spans:
                s, e = spans[0][0], spans[-1][1]
                if L.clean_line(text[s:e]):
                    items.append(_item(text, s, e))
    items.sort(key=lambda it: it.start)
    return _dedupe(items), references(text, items)


def _dedupe(items: list[RawItem]) -> list[RawItem]:
    out: list[RawItem] = []
    for it in items:
        if out and it.start < out[-1].end:
            continue  # a table row inside a paragraph already split into rows
        out.append(it)
    return out


def references(text: str, items: list[RawItem]) -> list[tuple[int, int, str]]:
    """Footnote markers cited in the body (not the marker that opens a footnote itself)."""
    refs: list[tuple[int, int, str]] = []
    for it in items:
        src = text[it.start : it.end]
        lead = L.footnote_marker(src) if it.kind == "footnote" else None
        for m in _SUP.finditer(src):
            if lead is not None and not src[: m.start()].strip():
                continue
            refs.append((it.start + m.start(), it.start + m.end(), m.group(1)))
        for m in _REF.finditer(src):
            if lead is not None and not src[: m.start()].strip():
                continue
            refs.append((it.start + m.start(), it.start + m.end(), m.group(1)))
    return sorted(refs)


def raw_items(text: str) -> list[RawItem]:
    """Split markdown into headings, paragraphs, list items, table rows and footnotes."""
    return extract(text)[0]
