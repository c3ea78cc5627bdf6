"""Pasted-quote clean-up and word-level diffs, for citation lookup (pure functions).

``clean_paste`` undoes what copying from a PDF or a printed page adds to a quote: page
furniture lines ("Page 12", "12 of 40", a lone page number) and words hyphenated across a
line end ("chil-\\ndren"). It returns the cleaned text with a map back to the pasted
offsets, so anything found in the cleaned text can be shown in the paste as the user sent it.
Curly quotes, dashes and line breaks need nothing here: the locator's normal form folds them.

``word_diff`` compares a quote with the report text it nearly matches, word by word, and
gives the changed words on both sides as character spans.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher

# A line holding nothing but a page number or a running "Page N" / "N of M" marker.
_FURNITURE = re.compile(
    r"(?im)^[ \t]*(?:page[ \t]+\d{1,4}(?:[ \t]+of[ \t]+\d{1,4})?|\d{1,4}(?:[ \t]*(?:of|/)[ \t]*"
    r"\d{1,4})?|[-\u2013\u2014][ \t]*\d{1,4}[ \t]*[-\u2013\u2014])[ \t]*(?:\r?\n|$)"
)
# A word broken by a hyphen at a line end, possibly with a furniture line already cut out.
_BREAK = re.compile(r"([^\W\d_]+)[-\u00ad\u2010][ \t]*\r?\n\s*([^\W\d_]+)")
_WORD = re.compile(r"[^\W_]+(?:['\u2019\u2018][^\W_]+)*")
_FOLD = str.maketrans(dict.fromkeys("\u2019\u2018\u201b\u02bc`\u00b4", "'"))

Span = tuple[int, int]


@dataclass(frozen=True)
class CleanPaste:
    """Cleaned text and, for each of its characters, the pasted offset it came from."""

    text: str
    origin: tuple[int, ...]  # len(text) + 1 entries; the last is the paste's length

    def span(self, start: int, end: int) -> Span:
        """The pasted span of the cleaned span [start, end)."""
        if start >= end:
            at = self.origin[start]
            return at, at
        return self.origin[start], self.origin[end - 1] + 1


def _edit(text: str, edits: list[tuple[int, int, str]]) -> CleanPaste:
    """Apply non-overlapping (start, end, replacement) edits, keeping the origin map."""
    out: list[str] = []
    origin: list[int] = []
    pos = 0
    for start, end, new in sorted(edits):
        out.append(text[pos:start])
        origin.extend(range(pos, start))
        out.append(new)
        origin.extend([start] * len(new))
        pos = end
    out.append(text[pos:])
    origin.extend(range(pos, len(text) + 1))
    return CleanPaste("".join(out), tuple(origin))


def clean_paste(text: str, known: Callable[[str], bool] | None = None) -> CleanPaste:
    """Drop page-number lines and rejoin words hyphenated at line ends.

    A broken word is rejoined without its hyphen when ``known`` accepts the joined form
    (lower-cased), or always when no ``known`` is given; otherwise the hyphen stays
    ("face-to-\\nface" is "face-to-face"). Furniture lines are only dropped from a paste of
    several lines, and never when they are all the paste holds.
    """
    edits: list[tuple[int, int, str]] = []
    if "\n" in text.strip():
        furniture = [(m.start(), m.end()) for m in _FURNITURE.finditer(text)]
        kept = "".join(text[a:b] for a, b in _gaps(furniture, len(text)))
        if kept.strip():
            edits += [(a, b, "") for a, b in furniture]
    first = _edit(text, edits)
    joins: list[tuple[int, int, str]] = []
    for m in _BREAK.finditer(first.text):
        joined = (m.group(1) + m.group(2)).lower()
        keep_hyphen = known is not None and not known(joined)
        joins.append((m.end(1), m.start(2), "-" if keep_hyphen else ""))
    if not joins:
        return first
    second = _edit(first.text, joins)
    origin = tuple(first.origin[i] for i in second.origin)
    return CleanPaste(second.text, origin)


def _gaps(spans: list[Span], length: int) -> list[Span]:
    """The parts of [0, length) outside the sorted, non-overlapping ``spans``."""
    out, pos = [], 0
    for a, b in spans:
        out.append((pos, a))
        pos = b
    out.append((pos, length))
    return out


def _key(word: str) -> str:
    """How words compare in a diff: letter case, apostrophe style and width ignored."""
    return unicodedata.normalize("NFKC", word).translate(_FOLD).casefold()


@dataclass(frozen=True)
class WordDiff:
    """Changed words, as paired spans: ``quote[i]`` in the quote became ``text[i]``.

    A span is empty (start == end) where that side has no words at that place: words the
    quote adds have an empty report span at the point they would go, and vice versa.
    """

    quote: tuple[Span, ...]
    text: tuple[Span, ...]


def word_diff(quote: str, text: str) -> WordDiff:
    """Word-level differences between ``quote`` and ``text`` (punctuation is not a word)."""
    qm, tm = list(_WORD.finditer(quote)), list(_WORD.finditer(text))
    keys = [_key(m.group()) for m in qm], [_key(m.group()) for m in tm]
    sm = SequenceMatcher(None, *keys, autojunk=False)

    def span(found: list[re.Match[str]], i: int, j: int, whole: str) -> Span:
        if i < j:
            return found[i].start(), found[j - 1].end()
        at = found[i].start() if i < len(found) else len(whole.rstrip())
        return at, at

    q_spans: list[Span] = []
    t_spans: list[Span] = []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op != "equal":
            q_spans.append(span(qm, i1, i2, quote))
            t_spans.append(span(tm, j1, j2, text))
    return WordDiff(tuple(q_spans), tuple(t_spans))


def render_diff(quote: str, text: str, diff: WordDiff) -> str:
    """The report text with each change written ``[-quote words-]{+report words+}``."""
    out, pos = [], 0
    for (qs, qe), (ts, te) in zip(diff.quote, diff.text, strict=True):
        out.append(text[pos:ts])
        old, new = " ".join(quote[qs:qe].split()), text[ts:te]
        if old and not new:  # words only the quote has: keep them apart from their neighbours
            before = " " if ts and not text[ts - 1].isspace() else ""
            after = " " if ts < len(text) and text[ts].isalnum() else ""
            out.append(f"{before}[-{old}-]{after}")
        else:
            out.append((f"[-{old}-]" if old else "") + f"{{+{new}+}}")
        pos = te
    out.append(text[pos:])
    return "".join(out)
