"""Recommendations a report makes (inspection) or restates and reviews (post-inspection review).

A recommendation is read from the recommendation-typed blocks of a section whose title names
recommendations: a lead-in ("We recommend that, within three months, Kent Police should ...:",
"Immediately, Leicestershire Police should:") opens one, and the bullet items after it, up to the
next lead-in, are its parts. Footnotes printed inside a recommendation are not part of it; since
offsets must slice back to the text (CONTRACT.md), they stay in ``text`` and are listed in
``gaps``, as ``Block.gaps`` does, and ``clean_text`` leaves them out. A review's recommendation is
paired with the "Summary of post-inspection review findings" section that follows it under the
same area.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..ingest.textnorm import passage_text, remove_footnote_marks, strip_markup
from ..types import Block, Document, Section

AREAS: tuple[str, ...] = (
    "initial contact",
    "assessment and help",
    "investigation",
    "decision making",
    "trusted adult",
    "managing those posing a risk to children",
    "police detention",
    "leadership, management and governance",
    "general",
)

# Searched in normalised titles (lower case, hyphens and dashes as spaces).
_AREA_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("leadership, management and governance", re.compile(r"\bleadership\b|\bgovernance\b")),
    ("initial contact", re.compile(r"\binitial contact\b")),
    ("assessment and help", re.compile(r"\bassessment and help\b")),
    ("investigation", re.compile(r"\binvestigations?\b")),
    ("decision making", re.compile(r"\bdecision making\b")),
    ("trusted adult", re.compile(r"\btrusted adults?\b")),
    ("managing those posing a risk to children", re.compile(r"\bmanaging those posing a risk")),
    ("police detention", re.compile(r"\bdetention\b")),
)

Kind = Literal["made", "reviewed"]
Gaps = tuple[tuple[int, int], ...]

_DASHES = re.compile(r"[-‐‑‒–—_]+")
_WS = re.compile(r"\s+")
_BULLET = re.compile(r"[ \t]*(?:[-*•▪●]|\d{1,2}[.)])[ \t]+")
# A lead-in opens a recommendation: "We recommend...", "HMICFRS recommends...", "Immediately, X
# should", "Within three months, X should", "Lincolnshire Police should ...". Sub-items ("take
# steps to...", "this should include...") never start this way.
_LEAD_IN = re.compile(
    r"(?:we|hmicfrs)\s+recommends?\b|immediately\b|within\s+\w+\s+(?:days|weeks|months)\b",
    re.IGNORECASE,
)
_FORCE_LEAD_IN = re.compile(
    r"[A-Z][\w’'&-]*(?:\s+[A-Z][\w’'&-]*){0,2}\s+(?:Police|[Cc]onstabulary)\b[^.:;]*\bshould\b"
)
_OBLIGATION = re.compile(r"\b(?:should|recommends?)\b", re.IGNORECASE)
# "Recommendation from the 2018 inspection report": restating an earlier report's recommendation.
_RESTATED = re.compile(r"\bfrom\b.*\b(?:inspection|report)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ReviewSummary:
    """A review's summary of findings on one reviewed recommendation."""

    text: str  # passage_text(doc.text, char_start, char_end)
    char_start: int
    char_end: int
    section: tuple[str, ...]
    section_index: int  # index into Document.sections (paths can repeat)
    gaps: Gaps = ()  # footnotes printed inside the span


@dataclass(frozen=True)
class Recommendation:
    """One recommendation, with its exact span in the report's canonical text."""

    doc_id: str
    source: str
    force: str | None
    report_type: str | None
    area: str  # one of AREAS
    kind: Kind  # "made" by this inspection, or "reviewed" by a post-inspection review
    text: str  # passage_text(doc.text, char_start, char_end): lead-in and its bullet items
    char_start: int
    char_end: int
    section: tuple[str, ...]
    section_index: int  # index into Document.sections (paths can repeat)
    summary: ReviewSummary | None = None  # reviews only: the findings on this recommendation
    gaps: Gaps = ()  # footnotes printed inside the span: in ``text``, not part of it
    clean_text: str = ""  # ``text`` without the footnotes in ``gaps`` or footnote markers


def _norm(title: str) -> str:
    return _WS.sub(" ", _DASHES.sub(" ", title.lower())).strip()


def area_of(section_path: str | Sequence[str]) -> str:
    """The inspection area a heading path belongs to, outermost naming heading first."""
    titles = [section_path] if isinstance(section_path, str) else list(section_path)
    for title in titles:
        key = _norm(title)
        hits = [(m.start(), area) for area, pat in _AREA_PATTERNS if (m := pat.search(key))]
        if hits:
            return min(hits)[1]
    return "general"


def is_recommendation_section(section: Section) -> bool:
    """True for a section whose title names one or more recommendations."""
    return "recommendation" in section.title.lower()


def is_lead_in(text: str) -> bool:
    """True when a paragraph or bullet item opens a new recommendation."""
    text = _BULLET.sub("", text.strip(), count=1)
    opens = _LEAD_IN.match(text) is not None or _FORCE_LEAD_IN.match(text) is not None
    return opens and _OBLIGATION.search(text) is not None


def _content_start(doc: Document, block: Block) -> int:
    """Where the block's words begin: past leading whitespace and a list bullet."""
    raw = doc.text[block.start : block.end]
    pos = len(raw) - len(raw.lstrip())
    bullet = _BULLET.match(raw, pos)
    return block.start + (bullet.end() if bullet else pos)


def _gaps(doc: Document, members: list[Block], start: int, end: int) -> Gaps:
    inside = {g for b in members for g in b.gaps}
    ids = {id(b) for b in members}
    for b in doc.blocks:
        if id(b) not in ids and start <= b.start and b.end <= end:
            inside.add((b.start, b.end))
    for f in doc.footnotes:
        if start <= f.start and f.end <= end:
            inside.add((f.start, f.end))
    return tuple(sorted(inside))


def _without_gaps(doc: Document, start: int, end: int, gaps: Gaps) -> str:
    pieces, pos = [], start
    for gs, ge in gaps:
        if gs >= pos:
            pieces.append(doc.text[pos:gs].strip())
            pos = ge
    pieces.append(doc.text[pos:end].strip())
    joined = "\n".join(p for p in pieces if p)  # no blank line where a footnote was
    return remove_footnote_marks(passage_text(joined, 0, len(joined)))


def _span(doc: Document, members: list[Block]) -> tuple[int, int, Gaps]:
    start, end = _content_start(doc, members[0]), members[-1].end
    return start, end, _gaps(doc, members, start, end)


def _summary_for(doc: Document, rec_section: Section, area: str) -> ReviewSummary | None:
    """The summary section after ``rec_section`` under the same parent, before the next
    recommendation section there (Lincolnshire repeats recommendation/summary pairs)."""
    for s in doc.sections[rec_section.index + 1 :]:
        if s.parent != rec_section.parent:
            if s.level <= rec_section.level:
                break  # left the parent
            continue  # a child of a sibling
        if is_recommendation_section(s):
            return None
        # "Summary of findings", or "Initial contact: Summary of findings" written whole
        summary = any(side.strip().startswith("summary") for side in _norm(s.title).split(":"))
        if summary and area_of(s.path) == area:
            members = [b for b in doc.blocks if b.section == s.index and b.type != "footnote"]
            if not members:
                return None
            start, end, gaps = _span(doc, sorted(members, key=lambda b: b.start))
            return ReviewSummary(
                passage_text(doc.text, start, end), start, end, s.path, s.index, gaps
            )
    return None


def _group(doc: Document, blocks: list[Block]) -> list[list[Block]]:
    """Split one section's recommendation blocks at each lead-in."""
    groups: list[list[Block]] = []
    for b in blocks:
        if not groups or is_lead_in(strip_markup(doc.text[b.start : b.end])):
            groups.append([b])
        else:
            groups[-1].append(b)
    return groups


def _kind(doc: Document, section: Section) -> Kind:
    report_type = (doc.metadata.report_type or "").lower()
    if "review" in report_type or _RESTATED.search(section.title):
        return "reviewed"
    return "made"


def extract_recommendations(doc: Document) -> list[Recommendation]:
    """Every recommendation in a report, in document order."""
    by_section: dict[int, list[Block]] = {}
    for b in sorted(doc.blocks, key=lambda b: b.start):
        if b.type == "recommendation" and is_recommendation_section(doc.sections[b.section]):
            by_section.setdefault(b.section, []).append(b)
    out: list[Recommendation] = []
    for index in sorted(by_section, key=lambda i: doc.sections[i].start):
        section = doc.sections[index]
        area, kind = area_of(section.path), _kind(doc, section)
        summary = _summary_for(doc, section, area) if kind == "reviewed" else None
        for members in _group(doc, by_section[index]):
            start, end, gaps = _span(doc, members)
            out.append(
                Recommendation(
                    doc_id=doc.doc_id,
                    source=doc.source,
                    force=doc.metadata.force,
                    report_type=doc.metadata.report_type,
                    area=area,
                    kind=kind,
                    text=passage_text(doc.text, start, end),
                    char_start=start,
                    char_end=end,
                    section=section.path,
                    section_index=index,
                    summary=summary,
                    gaps=gaps,
                    clean_text=_without_gaps(doc, start, end, gaps),
                )
            )
    return out
