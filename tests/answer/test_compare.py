"""Compare: every corpus force accounted for, each with a prose answer sentence from a prose
passage unless the question asks for figures (then a table may answer)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from qa_service.answer.asking import asks_number
from qa_service.answer.compare import best_sentence, compare, is_prose_passage, is_prose_sentence
from qa_service.answer.units import sentence_role
from qa_service.search.types import AnswerPick, Filters

# Comparison questions that ask for no figure: a force's answer must be prose.
PROSE_QUESTIONS = [
    "how do forces handle missing children?",
    "appropriate adults for children in custody",
    "recording the voice of the child",
    "supervision of child abuse investigations",
    "domestic abuse referrals to children's social care",
    "children detained overnight in custody",
    "place of safety under section 46",
    "how do forces grade the cases they audit?",
]
STATES = {"cited": {"answered", "partial"}, "no relevant passage": {"not_answered"}}


def test_prose_sentences_by_shape() -> None:
    assert is_prose_sentence("Children were still being detained overnight in police custody.")
    assert is_prose_sentence("We found:\n- a plan for each child;\n- a named officer.")
    assert not is_prose_sentence("Good\t12\t34%")  # a table row, headers elsewhere
    assert not is_prose_sentence("Children in police custody")  # a bare heading
    assert not is_prose_sentence("Missing children.", ["Missing children"])  # the section title
    assert not is_prose_sentence("Figure 8: Section 46 place of safety cases")  # a caption
    assert not is_prose_sentence("[21] Children Act 1989, section 46.")  # a footnote
    assert not is_prose_sentence("  \n ")


def test_questions_chosen_ask_for_no_figures() -> None:
    assert not any(asks_number(q) for q in PROSE_QUESTIONS)
    assert asks_number("how many children were held overnight in custody?")


def test_a_table_row_answer_is_passed_over_unless_figures_are_asked(retriever) -> None:  # type: ignore[no-untyped-def]
    res = retriever.search(
        "section 46 place of safety cases graded",
        top_k=10,
        filters=Filters(forces=("Lancashire Constabulary",)),
    )
    table = next(i for i, h in enumerate(res.hits) if h.chunk.type == "table")
    text = res.hits[table].chunk.text
    row_start = text.index("\t")
    row_start = text.rfind("\n", 0, row_start) + 1
    row_end = text.find("\n", row_start)
    row_end = len(text) if row_end < 0 else row_end
    assert sentence_role(text[row_start:row_end]) == "table_row"
    prose = [p for p in res.answer if is_prose_passage(res.hits[p.hit])]
    # The answer layer's lead is a table row: a comparison not asking for figures skips it.
    rigged = replace(
        res,
        answer=(AnswerPick(table, row_start, row_end, 0.99, "Lancashire Constabulary"), *prose),
    )
    assert best_sentence(rigged, figures=True) == (table, row_start, row_end)
    pick = best_sentence(rigged, figures=False)
    assert pick is not None and pick[0] != table
    hit = rigged.hits[pick[0]]
    assert is_prose_passage(hit) and is_prose_sentence(hit.chunk.text[pick[1] : pick[2]])


@pytest.mark.parametrize("question", PROSE_QUESTIONS)
def test_every_force_gets_a_prose_answer(retriever, question: str) -> None:  # type: ignore[no-untyped-def]
    result = compare(retriever, question)
    corpus_forces = sorted(retriever.index.forces)
    assert sorted(f.force for f in result.forces) == corpus_forces
    assert len(result.forces) == len(corpus_forces)
    for f in result.forces:
        assert f.state in STATES[f.status], (f.force, f.status, f.state)
        assert (f.status == "cited") == bool(f.hits)
        if f.status != "cited":
            assert f.sentence is None
            continue
        first = f.hits[0]
        assert first.document.metadata.force == f.force
        assert is_prose_passage(first), (f.force, first.chunk.type)
        assert f.sentence is not None, f.force
        assert "\t" not in f.sentence
        assert is_prose_sentence(f.sentence, first.chunk.section), (f.force, f.sentence)
        assert sentence_role(f.sentence, first.chunk.section) not in ("table_row", "heading")
        # the passage's highlight is the answer sentence, so the page marks what was chosen
        (start, end), *_ = first.highlights
        assert " ".join(first.chunk.text[start:end].split()) == f.sentence
    assert sum(f.status == "cited" for f in result.forces) >= 2


def test_named_forces_and_unknown_force_are_accounted_for(retriever) -> None:  # type: ignore[no-untyped-def]
    result = compare(retriever, "missing children", forces=["Kent Police", "Essex Police"])
    by_force = {f.force: f for f in result.forces}
    assert list(by_force) == ["Kent Police", "Essex Police"]
    assert by_force["Essex Police"].status == "not in corpus"
    assert by_force["Essex Police"].hits == []


def test_a_figures_question_still_lists_every_force(retriever) -> None:  # type: ignore[no-untyped-def]
    question = "how many children were held overnight in custody?"
    result = compare(retriever, question, per_force=2)
    assert sorted(f.force for f in result.forces) == sorted(retriever.index.forces)
    for f in result.forces:
        assert f.state in STATES[f.status]
        assert len(f.hits) <= 2
