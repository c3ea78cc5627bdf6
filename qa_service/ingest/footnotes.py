"""Footnote references: where the text cites a footnote, and which footnote that is.

A format's parser may give the references itself (markdown-it's footnote plugin and inline
HTML tokens); otherwise they are the footnote markers the canonical text prints inside body
blocks (``²¹`` in text extracted from HTML and PDF, ``[21]`` or ``<sup>21</sup>`` in text
files). Footnote numbering may restart (per chapter): a reference points to the first
footnote with its number at or after it, else the last one before it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict

from ..types import Block, Footnote, FootnoteRef, Section
from .textnorm import footnote_number

_MARKER = re.compile(r"<sup>\s*\d{1,3}\s*</sup>|\[\^\d{1,3}\]|[⁰¹²³⁴⁵⁶⁷⁸⁹]+|\[\d{1,3}\](?!\()")


def _in_gap(pos: int, block: Block) -> bool:
    return any(gs <= pos < ge for gs, ge in block.gaps)


def scan(text: str, blocks: list[Block], sections: list[Section]) -> list[tuple[int, int, str]]:
    """(start, end, number) of every footnote marker printed in a heading or a body block."""
    out = []
    for s in sections:
        for m in _MARKER.finditer(text, s.start, s.heading_end):
            out.append((m.start(), m.end(), footnote_number(m.group())))
    for b in blocks:
        if b.type == "footnote":
            continue
        for m in _MARKER.finditer(text, b.start, b.end):
            if not _in_gap(m.start(), b):
                out.append((m.start(), m.end(), footnote_number(m.group())))
    return out


def resolve(
    found: list[tuple[int, int, str]], footnotes: tuple[Footnote, ...] | list[Footnote]
) -> tuple[FootnoteRef, ...]:
    """References with the footnote each one points to."""
    by_number: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for k, f in enumerate(footnotes):
        by_number[f.marker].append((f.start, k))
    refs = []
    for start, end, number in sorted(set(found)):
        notes = by_number.get(number, [])
        at = bisect_left(notes, (start, -1))
        target = notes[at][1] if at < len(notes) else (notes[-1][1] if notes else None)
        refs.append(FootnoteRef(number, start, end, target))
    return tuple(refs)
