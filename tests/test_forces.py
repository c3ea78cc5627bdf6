"""Force names and short forms."""

from __future__ import annotations

from qa_service.forces import (
    ALL_FORCES,
    CAPITALISED_ONLY,
    FORCES,
    find_forces,
    names_of,
    short_name,
)


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


def test_every_name_of_every_force_is_found() -> None:
    # find_forces skips a pattern when its first word is absent: that shortcut must never
    # hide a name, whatever its case, spacing or hyphenation.
    for force in ALL_FORCES:
        for name in names_of(force):
            found = find_forces(f"Is this true for {name}'s custody suites?")
            assert found and found[0] == force, (name, found)
            if not (name.isupper() or name.startswith("the ") or name in CAPITALISED_ONLY):
                spaced = name.lower().replace(" ", "-") if " " in name else name.lower()
                found = find_forces(f"what does {spaced} do")
                assert found and found[0] == force, (spaced, found)


def test_everyday_words_and_places_are_no_force() -> None:
    # "beds", "staffs" and "jersey" are words before they are forces; Manchester is a city.
    assert find_forces("are we asking for secure beds for kids when we don't need to?") == []
    assert find_forces("a girl from a Manchester kids home was assaulted in Preston") == []
    assert find_forces("does the jersey of the uniform matter") == []
    assert find_forces("what do Beds do about missing children?") == ["Bedfordshire Police"]
    assert find_forces("Manchester Police custody") == ["Greater Manchester Police"]
    assert find_forces("have west mids or warks got a MASH?") == [
        "West Midlands Police",
        "Warwickshire Police",
    ]
