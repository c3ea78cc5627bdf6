"""Markup removal and whitespace rules that define how a passage's text relates to its span.

CONTRACT.md: ``canonical_text[char_start:char_end]`` with markup removed (HTML tags,
markdown emphasis, link syntax and heading marks, footnote markers) and whitespace runs
collapsed equals the passage ``text`` with whitespace runs collapsed and its footnote markers,
which ``text`` writes ``[21]`` whatever the format printed (``<sup>21</sup>``, ``[^21]``,
``²¹``), removed. ``passage_text`` writes a span's text by that rule and ``matches_span``
checks it; every stage that produces passage text goes through them.
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
    r"(?:<sup>\s*\d{1,3}\s*</sup>|\[\^\d{1,3}\]:?|["
    + _SUPERSCRIPT_DIGITS
    + r"]+|\[\d{1,3}\](?!\())"
)
# The same markers with their number captured: (<sup>), ([^N]), (superscripts), ([N]).
_MARK_NUMBER = re.compile(
    r"<sup>\s*(\d{1,3})\s*</sup>|\[\^(\d{1,3})\]:?|(["
    + _SUPERSCRIPT_DIGITS
    + r"]+)|\[(\d{1,3})\](?!\()"
)
_SHOWN_MARK = re.compile(r"\[\d{1,3}\]")
_SUPERSCRIPTS = str.maketrans(_SUPERSCRIPT_DIGITS, "0123456789")
# Inline markdown a reader never sees: [text](url) links, *emphasis*, backslash escapes.
_LINK = re.compile(r"\[([^\]\n]*)\]\(\s*<?[^()\s<>]*(?:\([^()\s]*\)[^()\s<>]*)*>?\s*\)")
_STAR_EMPHASIS = re.compile(r"(?<![\w*\\])\*(?=[^\s*])([^*\n]*?[^\s*\\])\*(?![\w*])")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_SPACE_BEFORE_PUNCT = re.compile(r" +(?=[.,;:!?)\]’”])")


def strip_markup(text: str) -> str:
    """Remove HTML tags, markdown heading marks and bold emphasis; unescape entities."""
    text = _TAG.sub("", text)
    text = _HEADING_MARK.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    return html.unescape(text)


def footnote_number(marker: str) -> str:
    """The number a footnote marker stands for (``<sup>21</sup>``, ``[^21]``, ``²¹`` -> 21)."""
    m = _MARK_NUMBER.fullmatch(marker.strip())
    if not m:
        return ""
    return next(g for g in m.groups() if g is not None).translate(_SUPERSCRIPTS)


def _shown_marker(m: re.Match[str]) -> str:
    number = next(g for g in m.groups() if g is not None).translate(_SUPERSCRIPTS)
    return f"[{number}]"


def visible_text(raw: str) -> str:
    """What a reader sees of raw canonical text: footnote markers written ``[21]``, HTML tags,
    heading marks, emphasis, link syntax and escapes removed (whitespace left as it is)."""
    raw = _MARK_NUMBER.sub(_shown_marker, raw)
    raw = _TAG.sub("", raw)
    raw = _HEADING_MARK.sub("", raw)
    raw = _LINK.sub(r"\1", raw)
    raw = _EMPHASIS.sub(r"\2", raw)
    raw = _STAR_EMPHASIS.sub(r"\1", raw)
    raw = _ESCAPE.sub(r"\1", raw)
    return html.unescape(raw)


def without_markers(text: str) -> str:
    """Passage text with its ``[21]`` footnote markers removed (for embedding, comparing)."""
    return _SHOWN_MARK.sub("", text)


def collapse_ws(text: str) -> str:
    """Collapse every whitespace run to one space and trim the ends."""
    return _WS.sub(" ", text).strip()


def remove_footnote_marks(text: str) -> str:
    """Drop footnote markers (``<sup>6</sup>``, ``¹``, ``[4]``) so they don't pollute embeddings."""
    return _FOOTNOTE_MARK.sub("", text)


def passage_text(canonical: str, start: int, end: int) -> str:
    """The passage text of a span: markup removed, blank lines squeezed, ends trimmed."""
    raw = visible_text(canonical[start:end])
    lines = [_SPACES.sub(" ", line).strip() for line in raw.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def matches_span(canonical: str, start: int, end: int, text: str) -> bool:
    """True when ``text`` satisfies the CONTRACT.md offset rule for ``[start, end)``."""
    return _comparable(visible_text(canonical[start:end])) == _comparable(text)


def _comparable(text: str) -> str:
    # A removed marker leaves no trace: "children.[7] The" and "children. The" agree.
    return _SPACE_BEFORE_PUNCT.sub("", collapse_ws(without_markers(text)))
