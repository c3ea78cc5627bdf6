"""Cues read off a single line of report text: heading, TOC entry, caption, footnote, furniture.

These are layout-independent cues of how reports are written (a heading has no closing
full stop and is one short phrase; a table-of-contents entry ends in a page number), not
rules for one file. The structure builder combines them with the markup a format has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .textnorm import (
    collapse_ws,
    remove_footnote_marks,
    strip_markup,
    visible_text,
    without_markers,
)

_LIST_ITEM = re.compile(r"^\s*(?:[-*•●▪◦–]|\(?[a-z]{1,3}\)|\(?\d{1,2}\))\s+")
_TOC_ENTRY = re.compile(
    r"^(?P<title>\S.*?)(?:\s*(?:\.{2,}|…+)\s*|\t+\s*|\s{3,})(?P<page>\d{1,3})\s*$"
)
_CAPTION = re.compile(
    r"^(?:figure|table|chart|graph|diagram|exhibit)\s+\d+[a-z]?\s*[:.–—-]", re.IGNORECASE
)
_FOOTNOTE_LINE = re.compile(
    r"^\s*(?:[⁰¹²³⁴⁵⁶⁷⁸⁹]+|\[\d{1,3}\]|\[\^\d{1,3}\]:|<sup>\s*\d{1,3}\s*</sup>)\s*\S"
)
_FOOTNOTE_MARKER = re.compile(
    r"^\s*(?:([⁰¹²³⁴⁵⁶⁷⁸⁹]+)|\[(\d{1,3})\]|\[\^(\d{1,3})\]:|<sup>\s*(\d{1,3})\s*</sup>)"
)
_NUMBERING = re.compile(r"^(?P<num>\d{1,2}(?:\.\d{1,2})*)(?:\.\s+|\s+(?=\S))(?=[A-Z])")
_SENTENCE_BREAK = re.compile(r"[A-Za-z0-9)’'\"”][.!?]\s+[A-Z‘“\"]")
_CASE_LABEL = re.compile(r"^case stud(?:y|ies)\b[^.!?]{0,60}$", re.IGNORECASE)
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
_FRONT_MATTER = re.compile(
    r"^(?:©|\(c\)\s|copyright\b|isbn\b|issn\b|www\.|https?://|\[www\.|\[https?://)",
    re.IGNORECASE,
)
# Web-page and document chrome that is never report content. A short, reviewed list of
# navigation phrases, not a list of any one report's lines.
BOILERPLATE = frozenset(
    {
        "contents",
        "table of contents",
        "print this document",
        "print this page",
        "back to publication",
        "back to top",
        "skip to main content",
        "share this page",
        "download this report",
        "download the report",
        "return to top",
    }
)
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")

# Words that make a heading read as a statement (a finding headline) rather than a label.
_VERBISH = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "must",
        "will",
        "would",
        "may",
        "might",
        "need",
        "needs",
        "needed",
        "remain",
        "remains",
        "remained",
        "still",
        "not",
        "no",
        "longer",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "don't",
        "doesn't",
        "didn't",
        "haven't",
        "hasn't",
        "can't",
        "won't",
        "shouldn't",
        "they",
        "it",
        "we",
        "he",
        "she",
        "made",
        "make",
        "makes",
        "take",
        "takes",
        "took",
        "get",
        "gets",
        "got",
        "give",
        "gives",
        "gave",
        "find",
        "finds",
        "found",
        "see",
        "sees",
        "saw",
        "know",
        "knows",
        "knew",
        "keep",
        "keeps",
        "kept",
        "hold",
        "holds",
        "held",
        "wait",
        "waits",
        "work",
        "works",
        "use",
        "uses",
        "lead",
        "leads",
        "put",
        "puts",
        "set",
        "sets",
        "show",
        "shows",
        "begin",
        "begins",
        "began",
    ]
)

_LABEL_WORDS_ED = frozenset({"detailed", "related", "selected", "advanced", "red", "bed"})


@dataclass(frozen=True)
class TocEntry:
    """One line of a table of contents."""

    title: str
    page: int
    bold: bool
    leaders: bool  # dot leaders: a TOC line even outside a "Contents" section


def clean_line(line: str) -> str:
    """The visible text of one line: markup and footnote markers removed, whitespace collapsed
    (a heading printed "Children Act 1989<sup>21</sup>" is titled "Children Act 1989")."""
    return collapse_ws(without_markers(visible_text(line)))


def is_blank(line: str) -> bool:
    """True for an empty or whitespace-only line."""
    return not line.strip()


def is_list_item(line: str) -> bool:
    """A bullet or lettered list item."""
    return bool(_LIST_ITEM.match(line))


def is_table_row(line: str) -> bool:
    """A tab- or pipe-separated row of a table."""
    s = line.strip(" \r\n")  # keep a leading TAB: the first cell may be empty
    if not s.strip():
        return False
    if "\t" in s and not ((toc := toc_entry(s)) is not None and toc.leaders):
        return True
    return "|" in s and (s.endswith("|") or s.startswith("|") or " | " in s)


def toc_entry(line: str) -> TocEntry | None:
    """Parse a table-of-contents line such as ``Investigation ..... 9``."""
    raw = line.strip()
    if not raw or len(raw) > 250:
        return None
    text = strip_markup(raw)
    m = _TOC_ENTRY.match(text.strip())
    if not m:
        return None
    if "\t" in m.group("title").strip():
        return None  # a table row with a number in its last cell
    title = collapse_ws(m.group("title")).rstrip(" .")
    if not title or not re.search(r"[A-Za-z]", title) or title.endswith((",", ";")):
        return None
    bold = bool(re.match(r"^\s*(?:<b>|<strong>|\*\*)", raw))
    leaders = bool(re.search(r"\.{3,}|…", text))
    return TocEntry(title=title, page=int(m.group("page")), bold=bold, leaders=leaders)


def is_caption(text: str) -> bool:
    """A figure or table caption (``Figure 3: ...``)."""
    return bool(_CAPTION.match(text))


def footnote_marker(line: str) -> str | None:
    """The marker of a footnote line (``⁴ Framework ...``, ``[4] NSPIS ...``), else None."""
    if not _FOOTNOTE_LINE.match(line):
        return None
    m = _FOOTNOTE_MARKER.match(line)
    assert m is not None
    return next(g for g in m.groups() if g is not None).translate(_SUPERSCRIPTS)


def is_case_label(text: str) -> bool:
    """A 'Case study' label that introduces an illustrative case."""
    return bool(_CASE_LABEL.match(text))


def is_furniture(text: str) -> bool:
    """Navigation chrome, page numbers and imprint lines that are never content."""
    s = text.strip().lower().rstrip(":")
    return s in BOILERPLATE or bool(_PAGE_NUMBER.match(s))


def is_page_number(text: str) -> bool:
    """A bare page number (``12``, ``Page 3 of 40``)."""
    return bool(_PAGE_NUMBER.match(text.strip().lower()))


_DATE_LINE = re.compile(
    r"^(?:\d{1,2}\s*(?:[–—-]\s*\d{1,2}\s*)?)?(?:january|february|march|april|may|june|july|"
    r"august|september|october|november|december)\s+\d{4}$",
    re.IGNORECASE,
)


def is_date_line(text: str) -> bool:
    """A line that is only a date (``May 2018``, ``9–19 October 2017``), as on title pages."""
    return bool(_DATE_LINE.match(text.strip()))


def is_front_matter_line(text: str) -> bool:
    """Imprint lines of a title page (copyright, ISBN, web address)."""
    return bool(_FRONT_MATTER.match(text.strip()))


def numbering(text: str) -> str | None:
    """The section number of a heading such as ``2. Post-inspection review findings``."""
    m = _NUMBERING.match(text)
    return m.group("num") if m else None


def looks_like_heading(text: str) -> bool:
    """One short phrase with no closing punctuation: how a heading looks as plain text."""
    s = text.strip()
    if not s or len(s) > 180 or is_list_item(s) or footnote_marker(s) is not None:
        return False
    if not (s[0].isupper() or s[0].isdigit() or s[0] in "‘“\"'"):
        return False
    if s[-1] in ".,;:!?" or (s.endswith(("’", "”")) and s[-2:-1] in ".,;:!?"):
        return False
    unnumbered = _NUMBERING.sub("", s)
    if "\t" in s or "|" in s or _SENTENCE_BREAK.search(unnumbered):
        return False
    if re.fullmatch(r"[\d\s–—\-/.,:]+", s) or is_date_line(s):  # dates, numbers
        return False
    words = s.split()
    return 1 <= len(words) <= 30


def is_headline(text: str) -> bool:
    """A heading that states a finding ('Fewer children are detained') rather than names a part."""
    plain = remove_footnote_marks(text).replace("’", "'")
    words = [w.strip("(),‘“”\"'").lower() for w in plain.split()]
    if len(words) < 4:
        return False
    if any(w in _VERBISH or w.endswith("n't") for w in words):
        return True
    return any(w.endswith("ed") and w not in _LABEL_WORDS_ED for w in words[1:])


def under_section(path: tuple[str, ...], want: tuple[str, ...]) -> bool:
    """Whether a heading path lies under ``want`` (title keys, outermost first). A heading
    the report writes "Area: Part" also answers to its two sides in turn, so the filter
    ("Post-inspection review findings", "Police detention") finds the section titled
    "Post-inspection review findings: Police detention"."""
    if tuple(title_key(t) for t in path[: len(want)]) == want:
        return True
    flat: list[str] = []
    for title in path:
        if len(flat) >= len(want):
            break
        sides = title.split(": ") if ": " in title and not numbering(title) else [title]
        flat.extend(title_key(side) for side in sides)
    return tuple(flat[: len(want)]) == want


def title_key(text: str) -> str:
    """Normalised heading text for matching headings with TOC entries and each other."""
    s = remove_footnote_marks(strip_markup(text)).lower()
    s = re.sub(r"^\d{1,2}(?:\.\d{1,2})*\.?\s+", "", s)
    s = re.sub(r"[^a-z0-9]+", " ", s)
    return s.strip()
