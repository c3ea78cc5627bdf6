"""Answer units: the sentences of a passage grouped so that each reads as an answer on its own.

A passage's sentences (spans in its text) are given roles, and some are joined:

- a sentence that leans on the one before ("This means ...", "However, ...", "It has since
  ...") is joined to it, so the reader gets the claim it refers to;
- a list lead-in ("We found:") is joined to the items that follow it; an item that is a whole
  sentence is prose without its list mark, and other items are fragments;
- headings, footnotes, figure/table captions, fragments and list items with no lead-in in the
  passage (unless whole sentences) are units of their own, with a role that keeps them from
  ever leading an answer.

Pure functions over text and spans: the roles come from the text's own shape, never from one
report's layout.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Span = tuple[int, int]

# Roles a unit can have; only PROSE_ROLES may be an answer sentence.
PROSE_ROLES = frozenset({"prose", "list"})
ROLES = ("prose", "list", "table_row", "heading", "footnote", "caption", "fragment")

# Words that open a sentence leaning on the one before it (see also _REFERS below).
_LEANS = re.compile(
    r"^(?:this|these|that|those|it|its|they|their|there|such|he|she|however|but|also|"
    r"although|though|consequently|therefore|thus|as a result|in addition|additionally|"
    r"furthermore|moreover|nevertheless|instead|similarly|likewise|again|even so|since then|"
    r"in (?:this|these|those|that|both|each|all|some|most|many) (?:case|cases|instance|"
    r"instances|examples?|circumstances|situations?)|for (?:example|instance)|otherwise|"
    r"here|then|both|neither|of these|of those|in turn|in particular|accordingly|hence|so|"
    r"as such|in response|in contrast|by contrast|conversely|meanwhile|equally|indeed|yet)\b[\s,]",
    re.IGNORECASE,
)
# A demonstrative in a sentence's first words that points back ("The effect of this is ...",
# "Because these enquiries are older, ...", "Despite this, ..."), not at the report itself or
# at a time ("In this review", "this year").
_REFERS = re.compile(
    r"^(?:[\w’'-]+[\s,]+){1,4}?(?:this|these|those|such)\b(?![\s-]+(?:post-inspection|report|"
    r"inspection|review|revisit|year|month|week|period|time)s?\b)",
    re.IGNORECASE,
)
_LIST_MARK = re.compile(r"^(?:[-•*–]\s+|\(?[a-z0-9ivx]{1,4}[.)]\s+)")
_FRAGMENT_END = re.compile(r"(?:[;,]|;\s*(?:and|or)|\b(?:and|or))\s*$", re.IGNORECASE)
_FOOTNOTE = re.compile(r"^(?:\[\d{1,3}\]|\d{1,3}(?=\s+[A-Z(‘“\"'])|[⁰¹²³⁴⁵⁶⁷⁸⁹]+)\s*")
_CAPTION = re.compile(r"^(?:figure|table|chart|graph|source)\s*\d*[.:]?\s", re.IGNORECASE)
_TERMINAL = re.compile(r"[.!?…][’'\"”)\]]*(?:\[\d{1,3}\]|[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?$")
_MAX_JOINED = 4  # sentences per unit at most (a lead-in and three items, or a claim and three)
_MAX_UNIT_CHARS = 700


@dataclass(frozen=True)
class Unit:
    """Consecutive sentences of one passage that read as one answer."""

    start: int  # span in the passage text
    end: int
    sentences: tuple[int, ...]  # indices into the passage's sentence spans
    role: str

    @property
    def leads(self) -> bool:
        """Whether this unit may be an answer sentence."""
        return self.role in PROSE_ROLES


def sentence_role(text: str, headings: Sequence[str] = ()) -> str:
    """The role of one sentence by its shape (and the passage's heading titles)."""
    s = " ".join(text.split())
    if not s:
        return "fragment"
    if "\t" in text or s.count(" | ") >= 1:
        return "table_row"
    bare = s.rstrip(" .:")
    if any(bare.lower() == " ".join(h.split()).rstrip(" .:").lower() for h in headings if h):
        return "heading"
    if _FOOTNOTE.match(s) and not _LIST_MARK.match(s):
        return "footnote"
    if _CAPTION.match(s) and not _TERMINAL.search(s):
        return "caption"
    if _LIST_MARK.match(s):
        return "item"
    if s.endswith(":"):
        return "leadin"
    words = s.split()
    if not _TERMINAL.search(s):
        # No closing punctuation: a heading line when short and title-like, else a fragment.
        if len(words) <= 14 and not _FRAGMENT_END.search(s):
            return "heading"
        return "fragment"
    if _FRAGMENT_END.search(s):
        return "fragment"
    if len(words) < 4:
        return "fragment"
    return "prose"


def leans_back(text: str) -> bool:
    """Whether a sentence opens by referring to the sentence before it."""
    s = " ".join(text.split())
    return bool(_LEANS.match(s) or _REFERS.match(s))


def build_units(text: str, spans: Sequence[Span], headings: Sequence[str] = ()) -> list[Unit]:
    """Group a passage's sentence spans into answer units (in passage order)."""
    roles = [sentence_role(text[a:b], headings) for a, b in spans]
    units: list[Unit] = []
    i = 0
    n = len(spans)
    while i < n:
        role = roles[i]
        # A sentence that list items follow leads them in, colon or not ("The force has two
        # prompts." then "- VVOWS - a briefing format ...;").
        if role == "leadin" or (role == "prose" and i + 1 < n and roles[i + 1] == "item"):
            j = i + 1
            while j < n and roles[j] in ("item", "fragment") and j - i < _MAX_JOINED:
                j += 1
            if j > i + 1:
                units.append(Unit(spans[i][0], spans[j - 1][1], tuple(range(i, j)), "list"))
                i = j
                continue
            units.append(Unit(spans[i][0], spans[i][1], (i,), "fragment"))
            i += 1
            continue
        if role == "item":
            # A list item read without its lead-in: a fragment, unless it is a whole
            # sentence ("- In January 2017, HMICFRS assessed 85 cases and ..."), which is
            # prose once its list mark is left out of the span.
            a, b = spans[i]
            mark = _LIST_MARK.match(text[a:b].lstrip())
            rest = text[a:b].lstrip()[mark.end() :] if mark else ""
            if rest[:1].isupper() and sentence_role(rest, headings) == "prose":
                units.append(Unit(b - len(rest), b, (i,), "prose"))
                i += 1
                continue
            role = "fragment"
        prev = units[-1] if units else None
        if (
            role == "prose"
            and prev is not None
            and prev.role == "prose"
            and len(prev.sentences) < _MAX_JOINED
            and prev.sentences[-1] == i - 1
            and spans[i][1] - prev.start <= _MAX_UNIT_CHARS
            and leans_back(text[spans[i][0] : spans[i][1]])
        ):
            units[-1] = Unit(prev.start, spans[i][1], (*prev.sentences, i), "prose")
        else:
            units.append(Unit(spans[i][0], spans[i][1], (i,), role))
        i += 1
    return units
