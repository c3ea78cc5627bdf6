"""Which unit leads: not the case the question retells (answer/cases.py), and one from a
report that uses the name of the unit or scheme the question asks about (answer/elsewhere.py)."""

from __future__ import annotations

import numpy as np
import pytest

from qa_service.answer.cases import restated_scene
from qa_service.answer.rank import FEATURES, Candidate
from qa_service.answer.units import Unit

SCENE = "A 15-year-old girl reported that she had been sent indecent images by a boy from school."
OUTCOME = "The approach was one of education rather than prosecution."
ELSEWHERE = "Officers in another force prosecuted a boy for sharing images."


def _terms(text: str) -> list[str]:
    return [w.strip(".,").lower() for w in text.split()]


def _cand(hit: int, sentence: int, text: str) -> Candidate:
    features = np.zeros(len(FEATURES), dtype=np.float32)
    unit = Unit(sentence * 100, sentence * 100 + len(text), (sentence,), "prose")
    return Candidate(hit, unit, text, features, np.ones(4, dtype=np.float32) / 2, "d", None)


def _weights(setup: str) -> list[tuple[str, float]]:
    return [(t, 1.0) for t in dict.fromkeys(_terms(setup))]


def test_the_case_the_question_retells_gives_way_to_what_happened_next() -> None:
    setup = "15 yr old girl sent indecent images by a lad from school"
    scene, outcome, other = _cand(0, 0, SCENE), _cand(0, 2, OUTCOME), _cand(1, 0, ELSEWHERE)
    ranked = [(scene, 0.5), (other, 0.3), (outcome, 0.2)]
    out = restated_scene(ranked, setup, _weights(setup), _terms)
    assert [c.text for c, _ in out] == [OUTCOME, SCENE, ELSEWHERE]
    assert out[1][0].plate  # never leads, nor joins ahead of the lead (rank.compose)
    assert [p for _, p in out] == [0.2, 0.5, 0.3]


@pytest.mark.parametrize(
    "setup",
    [
        "girl sent indecent images by a lad from school",  # no age: a practice, not a case
        "12 yr old girl sent indecent images by a lad from school",  # another case's age
        "15 yr old in custody overnight",  # the age alone: not the scene's words
    ],
)
def test_only_a_case_told_with_its_age_and_words_gives_way(setup: str) -> None:
    ranked = [(_cand(0, 0, SCENE), 0.5), (_cand(0, 2, OUTCOME), 0.2)]
    assert restated_scene(ranked, setup, _weights(setup), _terms) == ranked


def test_the_scene_stays_when_nothing_after_it_in_its_passage_is_near() -> None:
    setup = "15 yr old girl sent indecent images by a lad from school"
    # what follows it is in another passage, or comes before it
    ranked = [(_cand(0, 2, SCENE), 0.5), (_cand(1, 3, ELSEWHERE), 0.3), (_cand(0, 1, OUTCOME), 0.2)]
    assert restated_scene(ranked, setup, _weights(setup), _terms) == ranked


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (
            "lancs: 15 yr old girl sent indecent pics by a 15 yr old lad from school – "
            "was he prosecuted?",
            "education rather than prosecution",
        ),
        (
            "16 yr old smashed up the house and hit his mum and his 15 yr old brother – "
            "did anyone crime the brother's assault?",
            "no crime record for the alleged assault on the 15-year-old",
        ),
    ],
)
def test_a_retold_case_is_answered_by_its_outcome(retriever, question, answer) -> None:  # type: ignore[no-untyped-def]
    res = retriever.search(question)
    first = res.answer[0]
    assert answer in res.hits[first.hit].chunk.text[first.start : first.end]


@pytest.mark.slow
def test_the_lead_comes_from_a_report_that_names_the_unit_asked_about(retriever) -> None:  # type: ignore[no-untyped-def]
    """Kent has a central referral unit backlog; the child referral team (CRT) is
    Leicestershire's, which the question names without naming the force."""
    res = retriever.search("does the CRT have a backlog?")
    assert res.answer[0].force == "Leicestershire Police"
    lead = res.hits[res.answer[0].hit].chunk.text
    assert "CRT" in lead


def test_what_a_force_was_told_to_do_asks_for_a_recommendation() -> None:
    from qa_service.answer.rank import _CUES

    asks = next(q for q, a in _CUES if a.search("We recommend that the force should"))
    for asked in (
        "what did the inspectors tell leics to do about kids in custody?",
        "were Leics told to dip sample misper jobs?",
        "What were Leics told about the kind of jobs the FIU was keeping?",
        "what was recommended about custody?",
    ):
        assert asks.search(asked), asked
    for other in ("someone told me to run a genie check", "was the child told about it?"):
        assert not asks.search(other), other
