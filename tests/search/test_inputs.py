"""The shared input rules (qa_service/search/inputs.py): blank text, limits, force names, the
question-wins rule for force filters, reversed year ranges, notes on filters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa_service.search.inputs import (
    NOT_BLANK,
    InputError,
    check_question,
    force_named,
    forces_of,
    is_blank,
    resolve_forces,
    window_note,
    year_range,
)
from qa_service.search.types import Filters
from qa_service.settings import LIMITS


@given(st.text(alphabet=st.sampled_from(" \t\n\x0b\x0c\r\x1c\x85\xa0\u2003\u3000\ufeffa\x00.")))
def test_blank_means_only_spaces_in_every_dialect(text: str) -> None:
    """Blank is: every character is a space to Python (str.isspace) or JavaScript (\\s)."""
    expected = all(c.isspace() or c == "\ufeff" for c in text)
    assert is_blank(text) == expected
    assert (re.search(NOT_BLANK, text) is None) == expected
    if not expected:
        assert text.strip()  # never blank to code that strips, either


def test_question_limit_and_blank() -> None:
    assert check_question("x" * LIMITS.question_chars)
    with pytest.raises(InputError, match="question_chars"):
        check_question("x" * (LIMITS.question_chars + 1))
    with pytest.raises(InputError, match="empty or only spaces"):
        check_question(" \u3000\n")


def test_force_names() -> None:
    assert force_named("lancs") == "Lancashire Constabulary"
    assert force_named("Kent Police") == force_named("KENT") == "Kent Police"
    assert force_named("000") is None and force_named("") is None
    assert forces_of(["Kent", "kent police", "Lincs"]) == ("Kent Police", "Lincolnshire Police")
    with pytest.raises(InputError, match="'Narnia' is not"):
        forces_of(["Narnia"])


def test_the_question_wins_over_a_force_filter_without_its_force() -> None:
    kent = Filters(forces=("Kent Police",), report_types=("inspection",))
    filters, notes = resolve_forces("custody in Lancashire?", kent)
    assert filters == Filters(report_types=("inspection",)) and "set aside" in notes[0]
    # within the filter: narrowed, no note
    both = Filters(forces=("Kent Police", "Lancashire Constabulary"))
    assert resolve_forces("custody in Kent?", both) == (Filters(forces=("Kent Police",)), [])
    # no force named, or no force filter: unchanged
    assert resolve_forces("custody?", kent) == (kent, [])
    assert resolve_forces("custody in Kent?", Filters()) == (Filters(), [])


def test_reversed_years_and_window_note() -> None:
    assert year_range(2021, 2017) == (2017, 2021, year_range(2021, 2017)[2])
    assert "read as the years 2017 to 2021" in year_range(2021, 2017)[2]
    assert year_range(2017, 2021) == (2017, 2021, "")
    assert year_range(None, 2017) == (None, 2017, "")
    assert window_note(256, 256) == [] and "reads the first 256" in window_note(300, 256)[0]
