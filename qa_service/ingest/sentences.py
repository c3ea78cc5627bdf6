"""Sentence boundaries for English report prose, as character spans (a pure function)."""

from __future__ import annotations

import re

# Abbreviations that end in a full stop without ending a sentence.
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "cf",
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "no",
        "nos",
        "para",
        "paras",
        "fig",
        "figs",
        "approx",
        "incl",
        "dept",
        "govt",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "ch",
        "sec",
        "s",
        "ss",
    ]
)
_BOUNDARY = re.compile(
    r"[.!?…]+[’'\"”)\]]*(?:[⁰¹²³⁴⁵⁶⁷⁸⁹]+|\[\d{1,3}\])?(?=\s+)|\n\s*\n|\n(?=\s*[-•*A-Z0-9‘“\"'(\[])"
)
_NEXT_START = re.compile(r"\s*([A-Z0-9‘“\"'(\[•*-]|<)")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences; returns (start, end) spans that cover its non-space text."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        punct = m.group()
        if punct.startswith("."):
            word = re.search(r"([A-Za-z][A-Za-z.]*)\.$", text[start : m.start() + 1])
            if word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS:
                continue
            if re.search(r"\b[A-Z]\.$", text[max(start, m.start() - 2) : m.start() + 1]):
                continue  # an initial, e.g. "J. Smith"
        if "\n" not in punct and not _NEXT_START.match(text, end):
            continue  # next word is lower-case: not a sentence start
        _add(text, spans, start, end)
        start = end
    _add(text, spans, start, len(text))
    return spans


def _add(text: str, spans: list[tuple[int, int]], start: int, end: int) -> None:
    piece = text[start:end]
    s = start + len(piece) - len(piece.lstrip())
    e = end - (len(piece) - len(piece.rstrip()))
    if e > s:
        spans.append((s, e))
