"""What a format reader gives back (the canonical text and its raw items), and the error it
raises for a report it cannot read."""

from __future__ import annotations

from dataclasses import dataclass


class IngestError(Exception):
    """A report that cannot be read; the message names the file and says why."""


@dataclass
class RawItem:
    """One line or paragraph as a reader saw it."""

    start: int
    end: int
    text: str  # visible text, markup removed, whitespace collapsed
    source: str  # the raw span (markup kept), for cues such as bold TOC entries
    hint: int | None = None  # heading level given by markup, if the format marks headings
    plain: bool = False  # no heading markup in this format: headings are judged by looks
    role: str = ""  # decided by ``classify``
    # What the format's parser says the item is ("footnote", "table", "list"), if it knows:
    # trusted over the look of the line, except that TOC and furniture lines are never content.
    kind: str = ""


@dataclass(frozen=True)
class Extracted:
    """What a format reader gives back: canonical text, its raw items and, when the format's
    parser finds them, the footnote references as (start, end, number)."""

    text: str
    items: list[RawItem]
    references: list[tuple[int, int, str]] | None = None
