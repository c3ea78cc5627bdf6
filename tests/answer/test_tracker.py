"""The recommendation tracker: the verdict rule on hand-made sentences, and the tracker over the
corpus checked against counts and verdicts read from the reports."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from qa_service.answer.recommendations import extract_recommendations
from qa_service.answer.tracker import (
    CSV_COLUMNS,
    TrackerRow,
    build_tracker,
    classify_sentence,
    counts,
    csv_text,
    filter_rows,
    split_sentences,
    verdict_of,
)
from qa_service.types import Document


@pytest.mark.parametrize(
    ("sentence", "cls"),
    [
        ("The force has made good progress in training its call handlers.", "progress"),
        ("Officers now record the child's views.", "progress"),
        ("The force has introduced a new triage process.", "progress"),
        ("The force has made some progress on this recommendation.", "partly"),
        ("This recommendation has been partly implemented.", "partly"),
        ("The force has made little progress.", "shortfall"),
        ("There has been no improvement in the quality of records.", "shortfall"),
        ("The new policy is not yet in place.", "shortfall"),
        ("Supervision remains a concern.", "shortfall"),
        ("We remain concerned about delays in custody.", "shortfall"),
        ("Officers still don't speak to children often enough.", "shortfall"),
        ("Appropriate adults don't always attend on time.", "shortfall"),
        ("Records are inconsistent.", "shortfall"),
        # A shortfall word wins over a progress word in the same sentence.
        ("Records have improved but are still inconsistent.", "shortfall"),
        # "remains" alone is not a shortfall, nor "ineffective" a progress word.
        ("Supervisors review the grading so that the response remains appropriate.", "neutral"),
        ("Supervision was ineffective.", "shortfall"),
        ("The force held a meeting with partners in May.", "neutral"),
    ],
)
def test_classify_sentence(sentence: str, cls: str) -> None:
    assert classify_sentence(sentence).cls == cls


@pytest.mark.parametrize(
    ("summary", "verdict"),
    [
        (None, "not reviewed"),
        ("", "not reviewed"),
        ("The force has made good progress. Officers now record risk well.", "met"),
        ("The force has improved training. However, records are still poor.", "partly met"),
        ("The force has made some progress.", "partly met"),
        ("We found little progress. Referrals are still delayed.", "not met"),
        ("The recommendation has not been addressed.", "not met"),
        ("The force held two meetings with partners.", "partly met"),  # no wording either way
    ],
)
def test_verdict_of(summary: str | None, verdict: str) -> None:
    assert verdict_of(summary)[0] == verdict


def test_split_sentences_keeps_footnote_markers_with_their_sentence() -> None:
    text = "It has improved.[3] However, records\n are poor. Mr. Smith agreed."
    assert split_sentences(text) == [
        "It has improved.[3]",
        "However, records are poor.",
        "Mr. Smith agreed.",
    ]


# Read from the reports: how many recommendations each makes (the inspection) or restates and
# reviews (each post-inspection review), and the verdict the review's summary gives each.
COUNTS = {
    "Kent Police": 7,
    "Lancashire Constabulary": 10,
    "Leicestershire Police": 7,
    "Lincolnshire Police": 9,
}
P, M, N, R = "partly met", "met", "not met", "not reviewed"
VERDICTS = {
    "Kent Police": [P] * 7,
    "Lancashire Constabulary": [R] * 10,  # no review of it in the corpus
    "Leicestershire Police": [M, M, M, P, M, M, N],
    "Lincolnshire Police": [M, P, P, P, M, N, P, P, P],
}


@pytest.fixture(scope="module")
def rows(corpus_docs: dict[str, Document]) -> list[TrackerRow]:
    return build_tracker(corpus_docs.values())


def test_every_recommendation_has_a_row(
    rows: list[TrackerRow], corpus_docs: dict[str, Document]
) -> None:
    assert {f: len(filter_rows(rows, force=f)) for f in COUNTS} == COUNTS
    assert len(rows) == sum(COUNTS.values()) == 33
    for doc in corpus_docs.values():
        recs = extract_recommendations(doc)
        mine = filter_rows(rows, force=doc.metadata.force)
        assert [r.recommendation for r in mine] == recs
        assert [r.number for r in mine] == list(range(1, len(recs) + 1))


def test_verdicts_match_the_reviews(rows: list[TrackerRow]) -> None:
    assert {f: [r.verdict for r in filter_rows(rows, force=f)] for f in VERDICTS} == VERDICTS
    assert counts(rows) == {"met": 7, "partly met": 14, "not met": 2, "not reviewed": 10}


def test_a_review_is_both_sides_and_cites_its_summary(rows: list[TrackerRow]) -> None:
    for r in rows:
        if r.verdict == "not reviewed":
            assert r.review is None and r.summary_text is None and not r.findings
        else:
            assert r.review is r.recommendation and r.review.summary is not None
            assert " ".join(r.review.summary.text.split()).startswith(r.findings[0].text[:30])


def test_inspection_matched_to_review_by_area_and_order(corpus_docs: dict[str, Document]) -> None:
    """A force with both an inspection and its review: the inspection's words, the review's
    verdict, paired area by area in order."""
    review = corpus_docs["kent"]
    inspection = replace(
        review,
        doc_id="kent-inspection",
        metadata=replace(review.metadata, report_type="inspection"),
    )
    both = build_tracker([review, inspection])
    assert len(both) == 7
    assert all(r.recommendation.doc_id == "kent-inspection" for r in both)
    assert all(r.review is not None and r.review.doc_id == review.doc_id for r in both)
    assert [r.verdict for r in both] == VERDICTS["Kent Police"]


def test_filters_and_csv(rows: list[TrackerRow]) -> None:
    got = filter_rows(rows, area="police detention", verdict="not met")
    assert [(r.force, r.number) for r in got] == [("Leicestershire Police", 7)]
    table = list(csv.DictReader(io.StringIO(csv_text(rows))))
    assert len(table) == 33 and tuple(table[0]) == CSV_COLUMNS
    leics = [t for t in table if t["force"] == "Leicestershire Police"]
    assert leics[6]["verdict"] == "not met" and "still" in leics[6]["deciding_words"]
    assert leics[6]["review_finding"].startswith("In 2017, HMICFRS found")
