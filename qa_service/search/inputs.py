"""What a request may ask, checked the same way by the HTTP API and the CLI.

The numbers are ``settings.LIMITS`` (the OpenAPI schema states the same ones). Over a limit,
blank text, or a force name that is no police force is an ``InputError`` whose message names
the limit or the field: HTTP 422, CLI exit 2. Nothing is ever shortened to fit.

Filters that are valid but do not fit the corpus, or that the question contradicts, are not
errors: the search runs and ``filter_notes`` / ``resolve_forces`` say what was done.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from ..forces import ALL_FORCES, find_forces, names_of, short_name
from ..settings import LIMITS
from ..types import Metadata
from .types import Filters

# Text is blank when it holds only these: every character Python's str.isspace() and
# JavaScript's \s call a space, listed so that the OpenAPI pattern means the same in every
# regex dialect (a client's, the validator's, the server's).
NOT_BLANK = (
    r"[^\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
    r"\u3000\ufeff]"
)
_NOT_BLANK = re.compile(NOT_BLANK)


def is_blank(text: str) -> bool:
    """True when ``text`` has no character that is not a space."""
    return _NOT_BLANK.search(text) is None


class InputError(ValueError):
    """Input over a limit, blank, or naming no police force (HTTP 422, CLI exit 2)."""


def _lookup() -> dict[str, str]:
    return {name.lower(): force for force in ALL_FORCES for name in names_of(force)}


_FORCE_BY_NAME = _lookup()

# Every name a force filter accepts (official names, short names, common short forms);
# matched case-insensitively. The OpenAPI schema lists them as an enum.
FORCE_NAMES: tuple[str, ...] = tuple(sorted({n for f in ALL_FORCES for n in names_of(f)}))


def force_named(name: str) -> str | None:
    """The official name of the force ``name`` names exactly (any case), or None."""
    return _FORCE_BY_NAME.get(name.lower())


def check_text(field: str, text: str, limit: int, limit_name: str) -> str:
    """``text`` itself, or InputError when it is blank or longer than ``limit`` characters."""
    if is_blank(text):
        raise InputError(f"{field}: is empty or only spaces; write some text")
    if len(text) > limit:
        raise InputError(
            f"{field}: {len(text):,} characters is over the limit of {limit:,}"
            f" ({limit_name}); nothing is cut, so shorten it"
        )
    return text


def check_question(text: str, field: str = "question") -> str:
    """A question within ``LIMITS.question_chars`` that is not blank."""
    return check_text(field, text, LIMITS.question_chars, "question_chars")


def check_count(field: str, count: int, limit: int, limit_name: str) -> None:
    """InputError when ``count`` items are more than ``limit``."""
    if count > limit:
        raise InputError(f"{field}: {count:,} is over the limit of {limit:,} ({limit_name})")


def forces_of(names: Iterable[str], field: str = "forces") -> tuple[str, ...]:
    """Official names of the forces named; InputError for a name that is no police force."""
    out: list[str] = []
    for name in names:
        force = force_named(name)
        if force is None:
            raise InputError(
                f"{field}: {name!r} is not the name of a police force of England and Wales"
                " (e.g. 'Kent Police', 'Kent' or 'Lancs')"
            )
        if force not in out:
            out.append(force)
    return tuple(out)


def year_range(year_from: int | None, year_to: int | None) -> tuple[int | None, int | None, str]:
    """The range in order, and a note when it was given backwards (read as the years between)."""
    if year_from is not None and year_to is not None and year_from > year_to:
        note = (
            f"year_from {year_from} is after year_to {year_to}: read as the years"
            f" {year_to} to {year_from}."
        )
        return year_to, year_from, note
    return year_from, year_to, ""


def resolve_forces(question: str, filters: Filters) -> tuple[Filters, list[str]]:
    """The rule for a force filter that the question contradicts: the question wins.

    When the question names a force the filter does not include (filter Kent, question about
    Lancashire), the search is for the forces the question names and the filter's forces are
    set aside, with a note saying so. A question naming only forces within the filter narrows
    the search to them. A question naming no force leaves the filter as it is.
    """
    if not filters.forces:
        return filters, []
    named = find_forces(question)
    if not named:
        return filters, []
    narrowed = replace(filters, forces=())  # the question's forces are found again by search
    if set(named) <= set(filters.forces):
        return replace(filters, forces=tuple(named)), []
    note = (
        f"The question names {_names(named)}, which the force filter ({_names(filters.forces)})"
        f" does not include: the question's forces were searched and the filter set aside."
    )
    return narrowed, [note]


def filter_notes(filters: Filters, metadata: Mapping[str, Metadata]) -> list[str]:
    """Notes for filter values that match no report in the corpus (the results are then
    empty or come from fewer reports than asked for); ``metadata``: each report's, by id."""
    docs = list(metadata.values())
    notes: list[str] = []
    covered = sorted({m.force for m in docs if m.force})
    missing = [f for f in filters.forces if f not in covered]
    if missing:
        notes.append(f"The corpus has no report on {_names(missing)}; it covers {_names(covered)}.")
    types = sorted({m.report_type or "" for m in docs} - {""})
    unknown_types = [t for t in filters.report_types if t not in types]
    if unknown_types:
        notes.append(
            f"No report in the corpus has report type {_quoted(unknown_types)};"
            f" its types are {_quoted(types)}."
        )
    unknown_ids = [i for i in filters.doc_ids if i not in metadata]
    if unknown_ids:
        notes.append(f"No report in the corpus has doc_id {_quoted(unknown_ids)}.")
    if filters.year_from is not None or filters.year_to is not None:
        lo = filters.year_from if filters.year_from is not None else -1
        hi = filters.year_to if filters.year_to is not None else 10_000
        years = sorted({y for m in docs if (y := m.inspection_year) is not None})
        if not any(lo <= y <= hi for y in years):
            span = f"{years[0]}-{years[-1]}" if years else "none"
            notes.append(f"No report in the corpus was inspected in those years (it has {span}).")
    return notes


def window_note(word_pieces: int, window: int) -> list[str]:
    """A note when the question is longer than the embedding model reads at once."""
    if word_pieces <= window:
        return []
    return [
        f"The question is {word_pieces} word pieces; the embedding model reads the first"
        f" {window}, so the meaning-based ranking used only its beginning (the keyword"
        " ranking used all of it)."
    ]


def _names(forces: Sequence[str]) -> str:
    return ", ".join(short_name(f) for f in forces) or "none"


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values) or "none"


def why_empty(filters: Filters, mask: Callable[[Filters], NDArray[np.bool_]]) -> str:
    """Which filter leaves no passage to search (``mask`` gives the passages filters keep):
    each condition is tried alone, then with the others, and the message names the first
    that empties the corpus."""
    conditions = [
        ("force", "forces", ", ".join(filters.forces)),
        ("report type", "report_types", ", ".join(filters.report_types)),
        ("years", "year_from", None),
        ("section", "section", " > ".join(filters.section)),
        ("report", "doc_ids", ", ".join(filters.doc_ids)),
    ]
    years = f"{filters.year_from or '...'}-{filters.year_to or '...'}"
    active: list[tuple[str, Filters]] = []
    for label, name, value in conditions:
        if name == "year_from":
            if filters.year_from is None and filters.year_to is None:
                continue
            one = Filters(year_from=filters.year_from, year_to=filters.year_to)
            value = years
        else:
            if not getattr(filters, name):
                continue
            one = Filters(**{name: getattr(filters, name)})
        active.append((f"{label} {value}", one))
    for text, one in active:
        if not mask(one).any():
            return f"No passage matches the filter {text}: nothing was searched."
    named = " with ".join(text for text, _ in active)
    return f"No passage matches the filters {named} together: nothing was searched."
