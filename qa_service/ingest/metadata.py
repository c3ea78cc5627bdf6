"""Report metadata read from the text (title page, opening sections), plus an optional sidecar.

A sidecar is ``<report file name>.meta.json`` beside the report, holding any of the
``Metadata`` fields; it fills in or corrects what the text does not say.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields, replace
from pathlib import Path

from ..forces import find_forces, short_name
from ..types import Metadata

_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH = r"(?:" + "|".join(m.capitalize() for m in _MONTHS) + r")"
_DATE_RANGE = re.compile(
    rf"\b(\d{{1,2}}(?:\s+{_MONTH})?\s*[–—-]\s*\d{{1,2}}\s+{_MONTH}\s+(\d{{4}}))\b"
)
_MONTH_YEAR_LINE = re.compile(rf"^\s*(?:\d{{1,2}}\s+)?({_MONTH})\s+(\d{{4}})\s*$")
# A line that states this report's publication: "Published 12 March 2021",
# "Published on: March 2021", "This report was published in May 2018" (not "we published
# our findings", which is about the report being reviewed).
_PUBLISHED_LINE = re.compile(
    rf"(?im)^\s*(?:this report was\s+)?(?:first\s+)?published(?:\s+(?:on|in))?\s*:?\s*"
    rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?({_MONTH})\s+(\d{{4}})\b"
)
_ISO_DATE = re.compile(r"(?im)^\s*(?:published|date)\s*:?\s*(\d{4})-(\d{2})(?:-\d{2})?\s*$")
_REVIEW_YEAR = re.compile(r"\bThe (\d{4}) (post-inspection review|inspection)\b")
_VISIT = re.compile(
    rf"\bIn ({_MONTH}) (\d{{4}}), (?:we|HMICFRS|HMIC)\b[^.]{{0,40}}?\b"
    r"(assessed|inspected|revisited|carried out|conducted|reviewed)"
)

SIDECAR_SUFFIX = ".meta.json"


def _iso_month(month: str, year: str) -> str:
    return f"{year}-{_MONTHS.index(month.lower()) + 1:02d}"


def read_metadata(front_matter: list[str], text: str, fallback_title: str) -> Metadata:
    """Metadata from a report's title page lines and its opening text."""
    head = "\n".join(front_matter) + "\n" + text[:6000]
    title = re.sub(r"(\w)- (\w)", r"\1-\2", front_matter[0]) if front_matter else fallback_title
    forces = find_forces("\n".join(front_matter) or head) or find_forces(head)
    force = forces[0] if forces else None
    if force and short_name(force).lower() not in title.lower():
        title = f"{title} – {force}"
    low = head.lower().replace("post- inspection", "post-inspection")
    if "post-inspection review" in low[:3000]:
        report_type = "post-inspection review"
    elif "inspection" in low:
        report_type = "inspection"
    else:
        report_type = None

    published, published_from = None, None
    for line in front_matter:
        m = _MONTH_YEAR_LINE.match(line)
        if m:
            published, published_from = _iso_month(m.group(1), m.group(2)), "title page"
    if published is None:
        stated = _PUBLISHED_LINE.search(text)
        iso = _ISO_DATE.search(text)
        if stated:
            published, published_from = _iso_month(stated.group(1), stated.group(2)), "text"
        elif iso and 1 <= int(iso.group(2)) <= 12:
            published, published_from = f"{iso.group(1)}-{iso.group(2)}", "text"
    dates = None
    year = None
    for line in front_matter:
        m = _DATE_RANGE.search(line)
        if m:
            dates, year = m.group(1), int(m.group(2))
            break
    if dates is None:
        visits = [m for m in _VISIT.finditer(text) if m.group(3) != "published"]
        review_years = [int(y) for y, _ in _REVIEW_YEAR.findall(text)]
        target = max(review_years) if review_years else None
        for m in visits:
            if target is None or int(m.group(2)) == target:
                dates, year = f"{m.group(1)} {m.group(2)}", int(m.group(2))
        if year is None and target is not None:
            year = target
    if published is None and year is not None and report_type is not None:
        # No date printed (web-page reviews): the year of the review or inspection the report
        # describes, which is when it was written; labelled so it is not read as a stated date.
        published, published_from = str(year), "review year"
    return Metadata(
        title=title,
        force=force,
        report_type=report_type,
        published=published,
        published_from=published_from,
        inspection_dates=dates,
        inspection_year=year,
    )


def apply_sidecar(meta: Metadata, report: Path) -> tuple[Metadata, list[str]]:
    """Overlay ``<report>.meta.json`` if it exists; returns warnings for unknown keys."""
    path = report.with_name(report.name + SIDECAR_SUFFIX)
    if not path.is_file():
        return meta, []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return meta, [f"{path.name}: ignored, not valid JSON ({exc})"]
    if not isinstance(data, dict):
        return meta, [f"{path.name}: ignored, expected a JSON object"]
    known = {f.name for f in fields(Metadata)}
    warnings = [f"{path.name}: unknown field {k!r} ignored" for k in data if k not in known]
    values = {k: v for k, v in data.items() if k in known}
    return replace(meta, **values), warnings


# "Review" is the inspectorate's ("our 2019 review", "the 2021 post-inspection review") unless it
# is a review of something ("In 2016, a review of the constabulary's operating model"), a force's
# own; "the force reviewed ..." is the force's doing too.
_REPORT_WORD = (
    r"(?:inspect\w*|reviews?(?!\s+of\b)|revisit\w*|visit(?:ed)?|reports?|follow-?ups?|peel)"
)
_REPORT_YEAR = re.compile(
    rf"\b(19[5-9]\d|20[0-4]\d)\b(?:\W+[\w'’-]+){{0,3}}?\W+{_REPORT_WORD}\b"
    rf"|\b{_REPORT_WORD}\b(?:\W+[\w'’-]+){{0,4}}?\W+(19[5-9]\d|20[0-4]\d)\b",
    re.IGNORECASE,
)


def report_years(text: str) -> list[str]:
    """Years ``text`` names as an inspection's, review's or report's ("our 2019 inspection",
    "revisited in 2020"), in order of appearance. Over a whole report this takes ~4 ms, so
    the index stores each report's (document_store.py) rather than a question scanning them."""
    out: list[str] = []
    for m in _REPORT_YEAR.finditer(text):
        year = m.group(1) or m.group(2)
        if year not in out:
            out.append(year)
    return out
