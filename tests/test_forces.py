"""Force names and short forms."""

from __future__ import annotations

from qa_service.forces import FORCES, find_forces, short_name


def test_there_are_43_forces() -> None:
    assert len(FORCES) == 43


def test_short_forms() -> None:
    assert find_forces("does the Met do this?") == ["Metropolitan Police Service"]
    assert find_forces("and Lancs?") == ["Lancashire Constabulary"]
    assert find_forces("Avon & Somerset and Cleveland") == [
        "Avon and Somerset Constabulary",
        "Cleveland Police",
    ]
    assert find_forces("West Yorkshire Police") == ["West Yorkshire Police"]
    assert find_forces("the method was reviewed") == []
    assert short_name("Lancashire Constabulary") == "Lancashire"
