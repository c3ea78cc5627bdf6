"""Markup removal and whitespace rules that define how a passage's text relates to its span.

CONTRACT.md: ``canonical_text[char_start:char_end]`` with markup removed (HTML tags,
markdown emphasis and heading marks) and whitespace runs collapsed equals the passage
``text`` with whitespace runs collapsed. ``strip_markup`` is that removal; every stage
that produces passage text goes through it, and the tests check the rule with it.
"""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_HEADING_MARK = re.compile(r"(?m)^[ \t]{0,3}#{1,6}[ \t]+")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_WS = re.compile(r"\s+")
_SPACES = re.compile(r"[^\S\t\n]+")  # whitespace runs other than tabs (table cells) and newlines
_SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_FOOTNOTE_MARK = re.compile(
    r"(?:<sup>\s*\d{1,3}\s*</sup>|[" + _SUPERSCRIPT_DIGITS + r"]+|\[\d{1,3}\](?!\())"
)


def strip_markup(text: str) -> str:
    """Remove HTML tags, markdown heading marks and bold emphasis; unescape entities."""
    text = _TAG.sub("", text)
    text = _HEADING_MARK.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    return html.unescape(text)


def collapse_ws(text: str) -> str:
    """Collapse every whitespace run to one space and trim the ends."""
    return _WS.sub(" ", text).strip()


def remove_footnote_marks(text: str) -> str:
    """Drop footnote markers (``<sup>6</sup>``, ``¹``, ``[4]``) so they don't pollute embeddings."""
    return _FOOTNOTE_MARK.sub("", text)


def passage_text(canonical: str, start: int, end: int) -> str:
    """The passage text of a span: markup removed, blank lines squeezed, ends trimmed."""
    raw = strip_markup(canonical[start:end])
    lines = [_SPACES.sub(" ", line).strip() for line in raw.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def matches_span(canonical: str, start: int, end: int, text: str) -> bool:
    """True when ``text`` satisfies the CONTRACT.md offset rule for ``[start, end)``."""
    return collapse_ws(strip_markup(canonical[start:end])) == collapse_ws(text)
