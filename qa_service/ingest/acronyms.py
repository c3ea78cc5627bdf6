"""Acronyms a report defines ("management of sexual or violent offenders (MOSOVO)"), read
from its text at index time so that queries can expand them (search/query.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_ACRONYM = re.compile(r"\(([A-Z][A-Za-z]{1,9})\)")
# Up to ten words ending where the searched window ends (just before an acronym's bracket).
_WORDS_BEFORE = re.compile(r"([A-Za-z][A-Za-z’'\-]*(?:[ \-][A-Za-z’'&\-]+){0,9})\s+$")
_LOOKBACK = 300
_SMALL = frozenset({"and", "of", "the", "for", "to", "in", "on", "or", "&", "with", "a"})


def extract_acronyms(texts: Iterable[str]) -> dict[str, str]:
    """Acronyms a report defines, e.g. ``management of sexual or violent offenders (MOSOVO)``.

    Finds each parenthesised acronym first, then reads the words just before it: linear in
    the text (a pattern that tries a run of words at every position took seconds per report).
    """
    found: dict[str, str] = {}
    for text in texts:
        for m in _ACRONYM.finditer(text):
            acronym = m.group(1)
            letters = [c for c in acronym if c.isupper()]
            if len(letters) < 2 or acronym.lower() in {"pdf"} or acronym in found:
                continue
            start = max(0, m.start() - _LOOKBACK)
            run = _WORDS_BEFORE.search(text, start, m.start())
            if run is None:
                continue
            phrase = run.group(1)
            if run.start(1) == start and start > 0 and text[start - 1].isalpha():
                phrase = re.sub(r"^\S+[ \-]?", "", phrase)  # cut mid-word: drop that word
            long = _match_initials(re.split(r"[ \-]+", phrase), letters)
            if long:
                found[acronym] = long
    return found


def expands(acronym: str, phrase: str) -> bool:
    """Whether ``phrase`` reads as ``acronym`` spelt out ("threat, harm, risk, investigation,
    vulnerability and engagement" for THRIVE): its words' initials spell the acronym's
    capitals, small words aside."""
    words = [w for w in re.split(r"[\s,\-]+", phrase) if w]
    letters = "".join(c for c in acronym if c.isupper())
    return len(letters) >= 2 and _spells(words, letters)


def _spells(words: list[str], target: str) -> bool:
    """Whether the initials of ``words`` spell ``target``; small words may be skipped."""
    if not words:
        return not target
    head, rest = words[0], words[1:]
    if target and head[0].upper() == target[0] and _spells(rest, target[1:]):
        return True
    return head.lower() in _SMALL and _spells(rest, target)


def _match_initials(words: list[str], letters: list[str]) -> str | None:
    """The shortest tail of ``words`` whose initials spell ``letters``."""
    target = "".join(letters)
    for n in range(1, min(len(words), len(letters) * 2) + 1):
        tail = [w for w in words[-n:] if w]
        if tail and tail[0].lower() not in _SMALL and _spells(tail, target):
            return " ".join(tail)
    return None
