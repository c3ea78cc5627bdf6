"""Where a report defines an acronym: "... long form (ACRONYM)", "ACRONYM (long form)", or a
glossary line opening with it. A question asking what an acronym means ("what does PVPU stand
for?") is answered by that sentence, whatever its other scores."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from ..ingest.acronyms import expands

if TYPE_CHECKING:
    from .rank import Candidate


def defines(text: str, acronym: str, long: str) -> bool:
    """Whether ``text`` defines ``acronym``: "... long form (ACRONYM)" or "ACRONYM (long
    form)"; with no ``long`` known, bracketed words after it that spell it out, or a glossary
    line or list item opening with it ("VVOWS – a briefing format ...")."""
    stem = acronym.removesuffix("s")
    if stem not in text:  # every form below names it as written
        return False
    bracketed, glossary = _definition_patterns(acronym, long)
    if long:
        # Searched near each place the acronym is named, not across the whole passage: a
        # report naming MARACs in 38,000 passages is then read in 0.1 s, not 0.7 s.
        reach = 2 * len(long) + 16
        at = text.find(stem)
        while at >= 0:
            if bracketed.search(text, max(0, at - reach), at + len(stem) + reach):
                return True
            at = text.find(stem, at + 1)
        return False
    if any(expands(acronym, m.group(1)) for m in bracketed.finditer(text)):
        return True
    # A glossary line or list item: "VVOWS – a briefing format that ...".
    return glossary is not None and glossary.search(text) is not None


@lru_cache(maxsize=256)
def _definition_patterns(acronym: str, long: str) -> tuple[re.Pattern[str], re.Pattern[str] | None]:
    """``defines``'s patterns for one acronym, compiled once: with its long form known, the
    long form bracketed after the acronym or the acronym after it (no glossary pattern);
    without, bracketed words after the acronym, and a glossary line opening with it."""
    stem = re.escape(acronym.removesuffix("s"))
    if long:
        words = r"[\s,-]+".join(re.escape(w) for w in re.split(r"[\s,-]+", long.strip()) if w)
        return (
            re.compile(
                rf"(?i:{words}s?)\s*\(\s*{stem}s?\s*\)|(?<![\w-]){stem}s?\s*\(\s*(?i:{words})"
            ),
            None,
        )
    return (
        re.compile(rf"(?<![\w-]){stem}s?\s*\(([a-z][a-z ,-]{{3,160}}?)\)"),
        re.compile(rf"(?m)^(?:[-•*]\s+)?{stem}s?\s*[–—:-]\s+(?:an?|the)\s"),
    )


def defining_first(
    ranked: list[tuple[Candidate, float]], acronym: str, long: str
) -> list[tuple[Candidate, float]] | None:
    """``ranked`` with the unit that defines ``acronym`` (``defines``) first, scored as the
    best; None when no unit defines it."""
    for i, (c, p) in enumerate(ranked):
        if defines(c.text, acronym, long):
            top = max(p, ranked[0][1])
            return [(c, top), *ranked[:i], *ranked[i + 1 :]]
    return None
