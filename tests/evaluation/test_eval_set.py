"""Checks on the retrieval evaluation set in eval/questions.jsonl.

Standard library + pytest only; files are located relative to this test file.
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS_PATH = ROOT / "eval" / "questions.jsonl"
CORPUS_DIR = ROOT / "corpus"

FIELDS = {"id", "question", "kind", "force", "split", "evidence"}
# none: which kind of unanswerable; partial: what is not given; history: a follow-up's earlier turns
OPTIONAL = {"none_type", "missing", "history"}
KINDS = {"staff", "inspector", "quote", "fact", "compare", "followup", "none", "partial"}
NONE_TYPES = {
    "other_force",
    "off_topic",
    "missing_fact",
    "other_year",
    "false_premise",
    "entity_swap",
}
FORCES = {
    "Kent Police",
    "Leicestershire Police",
    "Lincolnshire Police",
    "Lancashire Constabulary",
    None,
}
SPLITS = {"dev", "test", "val"}
SUPERSCRIPT_DIGITS = set("¹²³⁴⁵⁶⁷⁸⁹⁰")
MARKUP_CHARS = set("<>*#|")
MIN_QUESTIONS = 400
MIN_EVIDENCE_CHARS = 40
MAX_EVIDENCE_CHARS = 300


def _load_lines():
    return QUESTIONS_PATH.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def rows():
    return [json.loads(line) for line in _load_lines()]


@pytest.fixture(scope="module")
def corpus():
    reports = (p for p in CORPUS_DIR.iterdir() if p.is_file() and p.name != "README.md")
    return {p.name: p.read_text(encoding="utf-8") for p in reports}


def _evidence(rows):
    for row in rows:
        for ev in row["evidence"]:
            yield row, ev


def test_every_line_parses_with_required_fields():
    lines = _load_lines()
    assert lines, "questions.jsonl is empty"
    for n, line in enumerate(lines, 1):
        assert line.strip(), f"line {n} is blank"
        row = json.loads(line)
        assert isinstance(row, dict), f"line {n} is not a JSON object"
        assert FIELDS <= set(row) <= FIELDS | OPTIONAL, f"line {n}: fields {sorted(row)}"


def test_field_values_allowed(rows):
    for row in rows:
        rid = row["id"]
        assert isinstance(row["id"], str) and re.fullmatch(r"q\d{3,}", row["id"]), rid
        assert isinstance(row["question"], str) and row["question"].strip(), rid
        assert row["kind"] in KINDS, (rid, row["kind"])
        assert row["force"] in FORCES, (rid, row["force"])
        assert row["split"] in SPLITS, (rid, row["split"])
        assert isinstance(row["evidence"], list), rid
        for ev in row["evidence"]:
            assert isinstance(ev, dict) and set(ev) == {"source", "text"}, rid
            assert isinstance(ev["source"], str) and isinstance(ev["text"], str), rid


def test_optional_fields(rows):
    for row in rows:
        if "none_type" in row:
            assert row["kind"] == "none" and row["none_type"] in NONE_TYPES, row["id"]
        if row["kind"] == "partial":
            assert isinstance(row.get("missing"), str) and row["missing"].strip(), row["id"]
        else:
            assert "missing" not in row, row["id"]
        if "history" in row or row["kind"] == "followup":
            history = row.get("history")
            assert isinstance(history, list) and history, row["id"]
            assert all(isinstance(t, str) and t.strip() for t in history), row["id"]
            assert row["kind"] in ("followup", "none"), row["id"]


def test_at_least_400_questions(rows):
    assert len(rows) >= MIN_QUESTIONS


def test_ids_unique_and_sequential(rows):
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)), [i for i, c in Counter(ids).items() if c > 1]
    assert ids == [f"q{n:03d}" for n in range(1, len(ids) + 1)]


def test_questions_unique(rows):
    # a follow-up ("and Kent?") may repeat another's words after a different history
    counts = Counter((tuple(row.get("history", ())), row["question"]) for row in rows)
    assert not [q for q, c in counts.items() if c > 1]


def test_evidence_sources_exist(rows, corpus):
    for row, ev in _evidence(rows):
        assert ev["source"] in corpus, (row["id"], ev["source"])


def test_evidence_is_exact_substring_of_source(rows, corpus):
    missing = [
        (row["id"], ev["source"], ev["text"][:80])
        for row, ev in _evidence(rows)
        if ev["text"] not in corpus.get(ev["source"], "")
    ]
    assert not missing, missing


def test_evidence_length_and_single_line(rows):
    for row, ev in _evidence(rows):
        text = ev["text"]
        assert MIN_EVIDENCE_CHARS <= len(text) <= MAX_EVIDENCE_CHARS, (row["id"], len(text))
        assert "\n" not in text and "\r" not in text, row["id"]


def test_markdown_evidence_has_no_markup(rows):
    for row, ev in _evidence(rows):
        if ev["source"].endswith(".md"):
            assert not (set(ev["text"]) & MARKUP_CHARS), (row["id"], ev["text"][:80])


def test_evidence_has_no_superscript_footnote_markers(rows):
    for row, ev in _evidence(rows):
        assert not (set(ev["text"]) & SUPERSCRIPT_DIGITS), (row["id"], ev["text"][:80])


def test_answerable_questions_have_evidence(rows):
    for row in rows:
        if row["kind"] != "none":
            assert row["evidence"], row["id"]


def test_none_questions_have_empty_evidence(rows):
    for row in rows:
        if row["kind"] == "none":
            assert row["evidence"] == [], row["id"]


def test_compare_questions_use_two_or_more_sources(rows):
    for row in rows:
        if row["kind"] == "compare":
            sources = {ev["source"] for ev in row["evidence"]}
            assert len(sources) >= 2, row["id"]
            assert row["force"] is None, row["id"]


def test_kind_proportions_and_minimums(rows):
    counts = Counter(row["kind"] for row in rows)
    assert counts["staff"] / len(rows) >= 0.45, counts
    assert counts["quote"] >= 20, counts
    assert counts["compare"] >= 12, counts
    assert counts["none"] >= 80, counts
    assert counts["partial"] >= 12, counts
    assert set(counts) == KINDS, counts


def test_quote_questions_mix_verbatim_and_altered(rows):
    quotes = [row for row in rows if row["kind"] == "quote"]
    verbatim = [r for r in quotes if r["question"] == " ".join(ev["text"] for ev in r["evidence"])]
    altered = len(quotes) - len(verbatim)
    assert len(verbatim) >= 8 and altered >= 8, (len(verbatim), altered)


def test_every_kind_in_both_splits(rows):
    for split in ("dev", "test"):
        kinds = {row["kind"] for row in rows if row["split"] == split}
        assert kinds == KINDS, (split, KINDS - kinds)


def test_splits_roughly_balanced(rows):
    """Dev grows with the questions each new check is measured on; test stays a held-out
    share of at least 40% of the two."""
    counts = Counter(row["split"] for row in rows)
    assert counts["test"] >= 0.4 * (counts["dev"] + counts["test"])


def test_validation_split_is_one_batch_of_every_report(rows):
    """`val` (q755-q1054, then later checks): questions no model is fitted on and no figure is
    reported from, for checking a change tuned on dev; the first batch 75 a report, answerable
    and not."""
    val = [row for row in rows if row["split"] == "val" and int(row["id"][1:]) <= 1054]
    assert [row["id"] for row in val] == [f"q{n}" for n in range(755, 1055)]
    later = [row for row in rows if int(row["id"][1:]) > 1054]
    assert all(row["split"] in ("dev", "val") for row in later)  # test stays as it was
    by_source = Counter(ev["source"] for row in val for ev in row["evidence"][:1])
    assert len(by_source) == 4 and min(by_source.values()) >= 50, by_source
    kinds = Counter(row["kind"] for row in val)
    assert kinds["none"] >= 40 and kinds["staff"] >= 150, kinds


def test_all_reports_used_as_evidence(rows, corpus):
    used = {ev["source"] for _, ev in _evidence(rows)}
    assert used == set(corpus), set(corpus) - used
