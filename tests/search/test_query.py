"""Query understanding: forces, acronyms, everyday words."""

from __future__ import annotations

from qa_service.ingest.acronyms import extract_acronyms
from qa_service.search.query import plan_query

CORPUS_FORCES = ["Kent Police", "Lancashire Constabulary"]


def terms_of(text: str) -> list[str]:
    return [w.strip("?.,'’").lower() for w in text.split() if w.strip("?.,'’")]


def test_acronyms_from_report_text() -> None:
    text = (
        "part of the national management of sexual offender and violent offender (MOSOVO) "
        "work; the force control room (FCR) and multi-agency risk assessment conference "
        "(MARAC). A PDF document (PDF) is not one."
    )
    found = extract_acronyms([text])
    assert found["MOSOVO"] == "management of sexual offender and violent offender"
    assert found["FCR"] == "force control room"
    assert found["MARAC"].lower() == "multi-agency risk assessment conference".replace("-", " ")
    assert "PDF" not in found


def test_force_in_corpus_becomes_filter_and_leaves_terms() -> None:
    plan = plan_query("Does Kent hold kids in the cells?", CORPUS_FORCES, terms_of, {})
    assert plan.forces_in_corpus == ("Kent Police",)
    assert "kent" not in plan.terms and plan.topic == "Does hold kids in the cells?"
    assert {"children", "custody", "detention"} <= set(plan.terms)  # everyday words expanded
    assert plan.terms["kids"] == 1.0 and plan.terms["custody"] == 0.5
    # staff's short form for an appropriate adult
    plan = plan_query("do AAs get to the cells quick enough?", CORPUS_FORCES, terms_of, {})
    assert {"appropriate", "adults"} <= set(plan.terms)
    # other short forms and slang staff use
    plan = plan_query(
        "are the sarges checking CP jobs before they get NFA'd?", CORPUS_FORCES, terms_of, {}
    )
    assert {"sergeants", "child", "protection", "further"} <= set(plan.terms)


def test_force_not_in_corpus() -> None:
    plan = plan_query("How does the Met handle missing children?", CORPUS_FORCES, terms_of, {})
    assert plan.forces_missing == ("Metropolitan Police Service",)
    assert plan.forces_in_corpus == ()


def test_acronym_expands_both_ways() -> None:
    acr = {"MOSOVO": "management of sexual offender and violent offender"}
    plan = plan_query("Is MOSOVO trained?", CORPUS_FORCES, terms_of, acr)
    assert "violent" in plan.terms and plan.terms["violent"] == 0.5
    plan = plan_query(
        "the management of sexual offender and violent offender", CORPUS_FORCES, terms_of, acr
    )
    assert "mosovo" in plan.terms


def test_acronym_in_the_other_number() -> None:
    # A report defines "PVPUs"; a question asks about "PVPU" (and the other way round).
    acr = {"PVPUs": "protecting vulnerable persons units", "RSO": "registered sex offender"}
    assert "vulner" in " ".join(plan_query("what's a PVPU?", CORPUS_FORCES, terms_of, acr).terms)
    plan = plan_query("how many RSOs are there?", CORPUS_FORCES, terms_of, acr)
    assert "registered sex offender" in plan.expansions
    assert not plan_query("what is a PV?", CORPUS_FORCES, terms_of, acr).expansions


def test_expansion_switch_and_weights() -> None:
    plan = plan_query("kids goes AWOL", CORPUS_FORCES, terms_of, {}, everyday=False)
    assert set(plan.terms) == {"kids", "goes", "awol"}
    plan = plan_query("kids goes AWOL", CORPUS_FORCES, terms_of, {}, expansion_weight=0.3)
    assert plan.terms["missing"] == 0.3


def test_the_inspectorate_asks_the_question_it_is_not_its_topic() -> None:
    # Every report is the inspectorate's: its name says who found something, not what about,
    # and its long form would match the reports' introductions, not their findings.
    acr = {"HMICFRS": "Her Majesty's Inspectorate of Constabulary and Fire & Rescue Services"}
    plan = plan_query(
        "What did HMICFRS find about Kent's MACE meetings?", CORPUS_FORCES, terms_of, acr
    )
    assert "hmicfrs" not in plan.terms and not plan.expansions
    assert {"find", "mace", "meetings"} <= set(plan.terms)


def test_an_acronym_that_is_also_a_question_word_still_expands() -> None:
    acr = {"DO": "designated officer"}
    assert plan_query("who is the DO in Kent?", CORPUS_FORCES, terms_of, acr).expansions == (
        "designated officer",
    )
