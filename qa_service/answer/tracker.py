"""Recommendation tracker: each recommendation an inspection made and the review's verdict on it.

A row pairs a recommendation with the post-inspection review's summary of findings for it
(``recommendations.Recommendation.summary``). Where the corpus holds only the review, the review
is both sides: it restates the inspection's recommendation and gives its findings. Where it
holds only the inspection, the row's verdict is "not reviewed". Where it holds both for a force,
the inspection's recommendation is matched to the review's restatement by area and by order
within the area.

The verdict is read from the review's own words by one rule (``verdict_of``), sentence by
sentence, so a reader can check it against the cited summary:

1. Each sentence of the summary is classed by the wording it uses, first match wins:
   - **partly**: "some progress", "limited progress", "partly", "partially", "mixed";
   - **shortfall**: "still", "yet to", "not yet", "little/no progress|improvement|change",
     "needs to (be) improve(d)", "not/n't always|consistently|properly|sufficiently",
     "n't <verb> enough", "inconsistent(ly)", "insufficient(ly)", "poor(ly)", "lack(s|ed)",
     "missed", "problematic", "untrained", "ineffective(ly)", "too many|few|soon|slow",
     "unacceptable", "remain(s) concerned|a concern|a problem", "we are/were concerned",
     "has/have not", "not met";
   - **progress**: "improved", "improving", "better", "now", "fewer", "good", "well",
     "effective(ly)", "clearly", "readily", "made|making|good progress", "has/have (also) reviewed|
     introduced|developed|rewritten|reduced|updated|acted|implemented|addressed|achieved|
     worked|established|invested|strengthened|met";
   - otherwise **neutral**.
2. The verdict: no summary -> "not reviewed"; any "partly" sentence, or both progress and
   shortfall sentences -> "partly met"; progress only -> "met"; shortfall only -> "not met";
   neutral only -> "partly met" (the summary reports work without saying whether it worked).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..types import Document
from .recommendations import Recommendation, extract_recommendations

Verdict = Literal["met", "partly met", "not met", "not reviewed"]
VERDICTS: tuple[Verdict, ...] = ("met", "partly met", "not met", "not reviewed")
SentenceClass = Literal["partly", "shortfall", "progress", "neutral"]

_PARTLY = re.compile(r"\b(?:some|limited|partial) progress\b|\bpart(?:ial)?ly\b|\bmixed\b", re.I)
_SHORTFALL = re.compile(
    r"\b(?:still|yet to|not yet|(?:little|no) (?:progress|improvement|change)"
    r"|needs? (?:to )?(?:be )?improv(?:e|ed|ement)"
    r"|not (?:always|consistently|properly|sufficiently|enough)"
    r"|\w*n[’']t (?:always|consistently|properly|sufficiently|\w+ enough)"
    r"|inconsistent(?:ly)?|insufficient(?:ly)?|poor(?:ly)?|lack(?:s|ed|ing)?|missed"
    r"|problematic|untrained|ineffective(?:ly)?|too (?:many|few|soon|slow(?:ly)?)|unacceptable"
    r"|remain(?:s|ed)? (?:concerned|a concern|a problem|an issue)|(?:are|were) concerned"
    r"|(?:has|have) not|hasn[’']t|haven[’']t|not met)\b",
    re.I,
)
_PROGRESS = re.compile(
    r"\b(?:improved|improving|better|now|fewer|good|well|effective(?:ly)?|clearly|readily"
    r"|(?:made|making|good) progress|(?:has|have) (?:also )?(?:reviewed|introduced|developed"
    r"|rewritten|reduced|updated|acted|implemented|addressed|achieved|worked|established|invested|strengthened"
    r"|met))\b",
    re.I,
)
# A sentence ends at . ! or ? (with an optional footnote marker or closing quote/bracket)
# followed by white space and a capital letter, an opening quote or a bracket; not after a title.
_SENTENCE_END = re.compile(r"[.!?](?:\[\d+\]|[’”)])?(?=\s+[A-Z‘“(])")
_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|No)$")


@dataclass(frozen=True)
class Finding:
    """One sentence of a review's summary, classed by its wording."""

    text: str
    cls: SentenceClass
    cue: str | None  # the words that decided the class


@dataclass(frozen=True)
class TrackerRow:
    """One recommendation, the review's verdict on it and both passages it rests on."""

    force: str | None
    area: str
    number: int  # 1-based position in the report that states it
    recommendation: Recommendation  # the inspection's words (or the review's restatement)
    review: Recommendation | None  # the review's restatement, with its summary of findings
    verdict: Verdict
    findings: tuple[Finding, ...]

    @property
    def summary_text(self) -> str | None:
        """The review's summary of findings, if the corpus has one."""
        s = self.review.summary if self.review is not None else None
        return s.text if s is not None else None


def split_sentences(text: str) -> list[str]:
    """The sentences of a passage, each with runs of white space collapsed."""
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if not _TITLE.search(text[start : m.start()]):
            out.append(text[start : m.end()])
            start = m.end()
    out.append(text[start:])
    return [" ".join(s.split()) for s in out if s.strip()]


def classify_sentence(sentence: str) -> Finding:
    """Class one sentence as partly, shortfall, progress or neutral (rule 1 of the module)."""
    for cls, pattern in (("partly", _PARTLY), ("shortfall", _SHORTFALL), ("progress", _PROGRESS)):
        m = pattern.search(sentence)
        if m:
            return Finding(sentence, cls, m.group(0))  # type: ignore[arg-type]
    return Finding(sentence, "neutral", None)


def verdict_of(summary: str | None) -> tuple[Verdict, tuple[Finding, ...]]:
    """The verdict a review's summary gives (rule 2 of the module) and its classed sentences."""
    if summary is None or not summary.strip():
        return "not reviewed", ()
    findings = tuple(classify_sentence(s) for s in split_sentences(summary))
    classes = {f.cls for f in findings}
    if "partly" in classes or {"progress", "shortfall"} <= classes:
        return "partly met", findings
    if "progress" in classes:
        return "met", findings
    if "shortfall" in classes:
        return "not met", findings
    return "partly met", findings


def _is_review(doc: Document) -> bool:
    return "review" in (doc.metadata.report_type or "").lower()


def _ordinal_in_area(recs: Sequence[Recommendation]) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    out = []
    for r in recs:
        seen[r.area] = seen.get(r.area, 0) + 1
        out.append((r.area, seen[r.area]))
    return out


def _latest(docs: list[Document]) -> Document:
    return max(docs, key=lambda d: (d.metadata.published or "", d.doc_id))


def build_tracker(documents: Iterable[Document]) -> list[TrackerRow]:
    """Every recommendation of every force's inspection, with the review's verdict on it."""
    by_force: dict[str | None, list[Document]] = {}
    for d in sorted(documents, key=lambda d: (d.metadata.force or "", d.doc_id)):
        by_force.setdefault(d.metadata.force, []).append(d)
    rows: list[TrackerRow] = []
    for force, docs in by_force.items():
        reviews = [d for d in docs if _is_review(d)]
        inspections = [d for d in docs if not _is_review(d)]
        made = extract_recommendations(_latest(inspections)) if inspections else []
        reviewed = extract_recommendations(_latest(reviews)) if reviews else []
        reviewed = [r for r in reviewed if r.kind == "reviewed"]
        review_at = dict(zip(_ordinal_in_area(reviewed), reviewed, strict=True))
        matched: set[int] = set()
        if made:
            for n, (key, rec) in enumerate(zip(_ordinal_in_area(made), made, strict=True), 1):
                review = review_at.get(key)
                if review is not None:
                    matched.add(id(review))
                rows.append(_row(force, n, rec, review))
        # Reviewed recommendations the corpus has no inspection text for: the review is both.
        for n, rec in enumerate(reviewed, 1):
            if id(rec) not in matched:
                rows.append(_row(force, n, rec, rec))
    return rows


def _row(
    force: str | None, number: int, rec: Recommendation, review: Recommendation | None
) -> TrackerRow:
    summary = review.summary.text if review is not None and review.summary else None
    verdict, findings = verdict_of(summary)
    return TrackerRow(force, rec.area, number, rec, review, verdict, findings)


def filter_rows(
    rows: Iterable[TrackerRow],
    force: str | None = None,
    area: str | None = None,
    verdict: str | None = None,
) -> list[TrackerRow]:
    """The rows of one force (official name), area and verdict; None keeps every value."""
    return [
        r
        for r in rows
        if (force is None or r.force == force)
        and (area is None or r.area == area)
        and (verdict is None or r.verdict == verdict)
    ]


def counts(rows: Iterable[TrackerRow]) -> dict[str, int]:
    """How many rows have each verdict, every verdict listed."""
    out: dict[str, int] = dict.fromkeys(VERDICTS, 0)
    for r in rows:
        out[r.verdict] += 1
    return out


def _citation(r: Recommendation) -> dict[str, Any]:
    return {
        "doc_id": r.doc_id,
        "source": r.source,
        "text": r.text,
        "section": list(r.section),
        "char_start": r.char_start,
        "char_end": r.char_end,
    }


def row_dict(row: TrackerRow) -> dict[str, Any]:
    """One row as JSON: the recommendation (its fields as before), its number, the verdict, the
    classed sentences, the review's summary and, when separate, the review's restatement."""
    r, review = row.recommendation, row.review
    summary = None
    if review is not None and review.summary is not None:
        summary = {
            "text": review.summary.text,
            "section": list(review.summary.section),
            "char_start": review.summary.char_start,
            "char_end": review.summary.char_end,
            "doc_id": review.doc_id,
            "source": review.source,
        }
    return {
        "doc_id": r.doc_id,
        "source": r.source,
        "force": r.force,
        "report_type": r.report_type,
        "area": r.area,
        "kind": r.kind,
        "text": r.text,
        "section": list(r.section),
        "char_start": r.char_start,
        "char_end": r.char_end,
        "summary": summary,
        "number": row.number,
        "verdict": row.verdict,
        "findings": [{"text": f.text, "wording": f.cls, "cue": f.cue} for f in row.findings],
        "review": _citation(review) if review is not None and review is not r else None,
    }


CSV_COLUMNS: tuple[str, ...] = (
    "force",
    "area",
    "number",
    "verdict",
    "recommendation",
    "recommendation_source",
    "recommendation_section",
    "recommendation_char_start",
    "recommendation_char_end",
    "review_finding",
    "review_source",
    "review_section",
    "review_char_start",
    "review_char_end",
    "deciding_words",
)


def csv_text(rows: Iterable[TrackerRow]) -> str:
    """The rows as CSV (a header, then one line per recommendation), for spreadsheets."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        rec, s = r.recommendation, (r.review.summary if r.review is not None else None)
        cues = "; ".join(f"{f.cls}: {f.cue}" for f in r.findings if f.cue)
        writer.writerow(
            [
                r.force or "",
                r.area,
                r.number,
                r.verdict,
                rec.clean_text or rec.text,
                rec.source,
                " > ".join(rec.section),
                rec.char_start,
                rec.char_end,
                s.text if s else "",
                r.review.source if r.review is not None and s else "",
                " > ".join(s.section) if s else "",
                s.char_start if s else "",
                s.char_end if s else "",
                cues,
            ]
        )
    return buf.getvalue()
