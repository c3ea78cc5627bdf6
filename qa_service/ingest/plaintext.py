"""Reader for plain-text reports (.txt): web-page text and PDF-extracted text.

The canonical text is the file itself. Plain text has no heading markup, so each line
is offered to the structure builder as a possible heading, judged by how it reads.
"""

from __future__ import annotations

import re

from . import lines as L
from .extracted import RawItem

_LINE = re.compile(r"[^\n]*\n?")


def line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every line, without its line break."""
    spans = []
    for m in _LINE.finditer(text):
        if m.start() == len(text):
            break
        end = m.end() - (1 if m.group().endswith("\n") else 0)
        if end > m.start() and text[end - 1] == "\r":
            end -= 1
        spans.append((m.start(), end))
    return spans


def _wrap_width(lengths: list[int]) -> int | None:
    """The width a hard-wrapped file was wrapped at, or None if lines are unwrapped."""
    if len(lengths) < 20:
        return None
    p90 = sorted(lengths)[int(len(lengths) * 0.9)]
    return p90 if p90 <= 130 else None


def _starts_own_item(line: str) -> bool:
    return (
        L.is_list_item(line)
        or L.is_table_row(line)
        or L.footnote_marker(line) is not None
        or L.toc_entry(line) is not None
        or L.is_caption(line)
    )


def raw_items(text: str, plain: bool = True) -> list[RawItem]:
    """Split text into items: one per line, or per wrapped paragraph in hard-wrapped text."""
    spans = [(s, e) for s, e in line_spans(text) if text[s:e].strip()]
    width = _wrap_width([e - s for s, e in spans])
    groups: list[list[tuple[int, int]]] = []
    prev_end = -1
    for s, e in spans:
        line = text[s:e]
        joined = False
        if width is not None and groups and prev_end >= 0:
            between = text[prev_end:s]
            last_s, last_e = groups[-1][-1]
            if (
                between.count("\n") == 1
                and (last_e - last_s) >= 0.6 * width
                and not _starts_own_item(line)
            ):
                groups[-1].append((s, e))
                joined = True
        if not joined:
            groups.append([(s, e)])
        prev_end = e
    items = []
    for g in groups:
        start, end = g[0][0], g[-1][1]
        # Trim leading/trailing spaces so the span starts and ends on visible text.
        raw = text[start:end]
        start += len(raw) - len(raw.lstrip())
        end -= len(raw) - len(raw.rstrip())
        src = text[start:end]
        items.append(RawItem(start, end, L.clean_line(src), src, None, plain))
    return items
