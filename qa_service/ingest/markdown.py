"""Reader for markdown reports (.md), including markdown with inline HTML tags.

The canonical text is the file itself. ``#`` headings give a level hint (relative only:
converted reports often level headings wrongly); soft-wrapped lines of one paragraph
are joined; a line ending in two spaces, a list item, table row or footnote stands alone.
"""

from __future__ import annotations

import re

from . import lines as L
from .plaintext import line_spans
from .structure import RawItem

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_RULE = re.compile(r"^ {0,3}(?:[-*_][ \t]*){3,}$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _stands_alone(line: str) -> bool:
    return (
        L.is_list_item(line)
        or L.is_table_row(line)
        or L.footnote_marker(line) is not None
        or L.toc_entry(line) is not None
        or L.is_caption(L.clean_line(line))
        or bool(_ATX.match(line))
    )


def raw_items(text: str) -> list[RawItem]:
    """Split markdown into headings and paragraphs with their spans."""
    items: list[RawItem] = []
    group: list[tuple[int, int]] = []

    def flush() -> None:
        if group:
            start, end = group[0][0], group[-1][1]
            src = text[start:end]
            items.append(RawItem(start, end, L.clean_line(src), src))
            group.clear()

    in_fence = False
    for s, e in line_spans(text):
        line = text[s:e]
        if _FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() or _RULE.match(line):
            flush()
            continue
        lead = len(line) - len(line.lstrip())
        s, e = s + lead, e - (len(line) - len(line.rstrip()))
        m = _ATX.match(line)
        if m and not in_fence:
            flush()
            title_start = s + line.lstrip().index(m.group(2)) if m.group(2) else s
            items.append(
                RawItem(s, e, L.clean_line(m.group(2)), text[title_start:e], hint=len(m.group(1)))
            )
            continue
        if _stands_alone(line) or (group and text[group[-1][1] : s].startswith("  ")):
            flush()
        group.append((s, e))
        if _stands_alone(line):
            flush()
    flush()
    return items
