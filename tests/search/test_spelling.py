"""Typos in question words: corrected to a well-attested index term one edit away, and only
where the word is no English word (search/spelling.py)."""

from __future__ import annotations

import pytest

from qa_service.search.spelling import correction, english_words, one_edit, spell
from qa_service.settings import Settings

COUNTS = {"safeguard": 119, "custodi": 35, "accommod": 20, "other": 77, "brother": 2, "case": 9}


def passages_with(term: str) -> int:
    return COUNTS.get(term, 0)


def test_one_edit_covers_the_four_slips() -> None:
    edits = set(one_edit("cusotdy"))
    assert {"custody", "cusotdy"[1:], "cusotdyx"} <= edits  # swap, deletion, insertion
    assert "cusotdi" in edits  # substitution
    assert "cusotdy" not in edits


def test_correction_takes_the_best_attested_neighbour() -> None:
    assert correction("safegaurd", passages_with) == "safeguard"  # two letters swapped
    assert correction("custdi", passages_with) == "custodi"  # a letter left out
    assert correction("accomod", passages_with) == "accommod"
    assert correction("safeguard", passages_with) is None  # known
    assert correction("cse", passages_with) is None  # too short
    assert correction("brothe", passages_with) is None  # neighbour held by too few passages


def test_english_words_are_never_corrected() -> None:
    english = english_words(Settings().model)
    assert {"bother", "decent", "chase", "custody"} <= english
    assert "safegaurding" not in english and "custdy" not in english

    def terms_of(word: str) -> list[str]:
        return {"bother": ["bother"], "safegaurding": ["safegaurd"], "custdy": ["custdi"]}.get(
            word, [word]
        )

    assert spell(english, terms_of, passages_with, "bother") is None  # not "other"
    assert spell(english, terms_of, passages_with, "Safegaurding") == "safeguard"
    assert spell(english, terms_of, passages_with, "custdy") == "custodi"
    assert spell(frozenset(), terms_of, passages_with, "custdy") is None  # no vocabulary


@pytest.mark.parametrize(
    ("question", "typo", "meant"),
    [
        (
            "does lancs keep a record of what safegaurding training each officer has done?",
            "safegaurd",
            "safeguard",
        ),
        ("how long are kids kept in custdy in kent?", "custdi", "custodi"),
    ],
)
def test_the_retriever_searches_for_the_word_meant(
    retriever, question: str, typo: str, meant: str
) -> None:  # type: ignore[no-untyped-def]
    plan = retriever.plan(question)
    assert meant in plan.terms and typo not in plan.terms
    clean = retriever.plan(
        question.replace("safegaurding", "safeguarding").replace("custdy", "custody")
    )
    assert plan.terms == clean.terms
