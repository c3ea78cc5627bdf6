"""Recommendation extraction checked against lists made by hand from reading each report."""

from __future__ import annotations

import pytest

from qa_service.answer.recommendations import (
    AREAS,
    Recommendation,
    area_of,
    extract_recommendations,
    is_lead_in,
)
from qa_service.ingest.textnorm import passage_text
from qa_service.types import Document

IC, AH, INV, DM = "initial contact", "assessment and help", "investigation", "decision making"
TA, MR, PD = "trusted adult", "managing those posing a risk to children", "police detention"
LMG = "leadership, management and governance"

KIND = {"kent": "reviewed", "leicestershire": "reviewed", "lincolnshire": "reviewed"}
KIND["lancashire"] = "made"

# Per report, in document order: (area, start of the recommendation's text).
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "kent": [
        (IC, "We recommend that Kent Police should review its assessment"),
        (IC, "We recommend that Kent Police should take steps to ensure"),
        (AH, "We recommend that Kent Police should review referral proc"),
        (INV, "We recommend that Kent Police should produce a plan to im"),
        (DM, "We recommend that Kent Police should take steps to ensure"),
        (MR, "We recommend that Kent Police should review its approach t"),
        (PD, "We recommend that Kent Police should undertake a review jo"),
    ],
    "leicestershire": [
        (IC, "We recommend that, within three months, Leicestershire"),
        (AH, "Immediately, Leicestershire Police should:\n- review its use"),
        (AH, "Within three months, Leicestershire Police should:\n- take steps"),
        (INV, "Within three months, Leicestershire Police should:\n- take action"),
        (DM, "Within three months, Leicestershire Police should\n- take steps"),
        (TA, "Within three months, Leicestershire Police should ensure that:"),
        (PD, "Within six months, Leicestershire Police should:\n- in conjunc"),
    ],
    "lincolnshire": [
        (IC, "We recommend that Lincolnshire Police should immediately"),
        (IC, "Lincolnshire Police should act within three months"),
        (AH, "Immediately, Lincolnshire Police should improve practice"),
        (AH, "Within six months, Lincolnshire Police, along with its"),
        (INV, "We recommend that Lincolnshire Police review its approach"),
        (INV, "Lincolnshire Police should improve its child protection"),
        (DM, "We recommend that Lincolnshire Police ensure that it accur"),
        (MR, "We recommend that Lincolnshire Police act to reduce the nu"),
        (PD, "We recommend that Lincolnshire Police should undertake a j"),
    ],
    "lancashire": [
        (LMG, "Within three months, Lancashire Constabulary should put in"),
        (IC, "Within three months, Lancashire Constabulary should:\n- review"),
        (IC, "Within three months, Lancashire constabulary should ensure"),
        (AH, "Within three months, Lancashire constabulary should improve"),
        (AH, "HMICFRS recommends that, within three months, Lancashire"),
        (AH, "Within six months, Lancashire constabulary should undertake"),
        (INV, "Immediately Lancashire Constabulary should take action"),
        (INV, "Within three months, Lancashire constabulary should take act"),
        (DM, "Within three months, Lancashire constabulary should take ste"),
        (PD, "Within three months Lancashire constabulary should undertake"),
    ],
}

# Per report, the start of the review summary paired with each recommendation above.
SUMMARIES: dict[str, list[str | None]] = {
    "kent": [
        "FCR risk assessments clearly focus on th",
        "FCR risk assessments clearly focus on th",  # one summary for both recommendations
        "Officers now notify all local authority s",
        "Generally, we found a good approach to ca",
        "The force now electronically records inc",
        "Information about offenders’ risk is now",
        "There was a multi-agency review of childr",
    ],
    "leicestershire": [
        "Leicestershire Police has reviewed its ap",
        "Leicestershire Police has reviewed its approach to the downg",
        "Leicestershire Police has reviewed its approach to the downg",
        "Supervisory oversight of cases within the",
        "The force has introduced an innovative an",
        "Leicestershire Police has reviewed its approach in order",
        "In 2017, HMICFRS found that attendance of",
    ],
    "lincolnshire": [
        "The force has improved training, oversig",
        "The force trains its officers in recogni",
        "The force has rewritten its procedures fo",
        "A new police safeguarding hub has centrali",
        "The force has reviewed and acted on all t",
        "We remain concerned about the standard of",
        "The force is improving its recording prac",
        "The force is better at overseeing offende",
        "The force has worked with partner organis",
    ],
    "lancashire": [None] * 10,  # an inspection: nothing to pair
}

# How each multi-part recommendation ends: its last bullet item belongs to it.
LAST_WORDS = {
    ("kent", 1): "making sure that effective safeguarding measures are implemented.",
    ("leicestershire", 2): "children who go missing repeatedly.",
    ("leicestershire", 3): "to ensure that standards are being met).",
    ("leicestershire", 6): "secure adequate appropriate adult[8] support in a timely manner.",
    ("lincolnshire", 2): "- the importance of sharing information with partner organisations.",
    ("lancashire", 1): "where children are at risk or vulnerable.",
    ("lancashire", 5): "for protecting children in these cases.",
    ("lancashire", 9): "at the time of detention and on release.",
}


@pytest.fixture(scope="module")
def extracted(corpus_docs: dict[str, Document]) -> dict[str, list[Recommendation]]:
    return {name: extract_recommendations(doc) for name, doc in corpus_docs.items()}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_matches_hand_made_list(name: str, extracted: dict[str, list[Recommendation]]) -> None:
    recs = extracted[name]
    assert len(recs) == len(EXPECTED[name]) == len(SUMMARIES[name])
    got = [(r.area, r.text[: len(t)]) for r, (_, t) in zip(recs, EXPECTED[name], strict=True)]
    assert got == EXPECTED[name]
    got_summaries = [
        None if r.summary is None else r.summary.text[: len(s or "")]
        for r, s in zip(recs, SUMMARIES[name], strict=True)
    ]
    assert got_summaries == SUMMARIES[name]
    assert [r.kind for r in recs] == [KIND[name]] * len(recs)


def test_counts(extracted: dict[str, list[Recommendation]]) -> None:
    counts = {name: len(recs) for name, recs in extracted.items()}
    assert counts == {"lincolnshire": 9, "leicestershire": 7, "lancashire": 10, "kent": 7}


def test_bullets_stay_with_their_lead_in(extracted: dict[str, list[Recommendation]]) -> None:
    for (name, i), last in LAST_WORDS.items():
        assert extracted[name][i].text.endswith(last), (name, i)


def test_offsets_slice_back_inside_the_section(
    corpus_docs: dict[str, Document], extracted: dict[str, list[Recommendation]]
) -> None:
    for name, recs in extracted.items():
        doc = corpus_docs[name]
        assert [r.char_start for r in recs] == sorted(r.char_start for r in recs)
        for r in recs:
            assert passage_text(doc.text, r.char_start, r.char_end) == r.text
            sec = doc.sections[r.section_index]
            assert sec.heading_end <= r.char_start < r.char_end <= sec.end
            assert sec.path == r.section and "recommendation" in sec.title.lower()
            assert (r.doc_id, r.source, r.force) == (doc.doc_id, doc.source, doc.metadata.force)
            assert r.area in AREAS
            if r.summary is not None:
                s = r.summary
                assert passage_text(doc.text, s.char_start, s.char_end) == s.text
                ssec = doc.sections[s.section_index]
                assert ssec.heading_end <= s.char_start < s.char_end <= ssec.end
                assert ssec.path == s.section
                assert "summary of post-inspection review" in ssec.title.lower()
                assert ssec.parent == sec.parent and ssec.start > sec.start


def test_footnotes_are_gaps_not_part(
    corpus_docs: dict[str, Document], extracted: dict[str, list[Recommendation]]
) -> None:
    recs = extracted["leicestershire"]
    with_gaps = [i for i, r in enumerate(recs) if r.gaps]
    assert with_gaps == [2, 6]
    doc = corpus_docs["leicestershire"]
    for i in with_gaps:
        r = recs[i]
        for gs, ge in r.gaps:
            note = passage_text(doc.text, gs, ge)
            assert note in r.text and note not in r.clean_text
        assert "⁷" not in r.clean_text and "⁸" not in r.clean_text
    assert "locally-held meeting" not in recs[2].clean_text
    assert "section 38(6)" not in recs[6].clean_text
    # Text without footnotes equals the text when there are none.
    assert recs[0].clean_text == recs[0].text


def test_next_steps_is_not_a_recommendation(
    corpus_docs: dict[str, Document], extracted: dict[str, list[Recommendation]]
) -> None:
    for name, recs in extracted.items():
        doc = corpus_docs[name]
        for s in doc.sections:
            if s.title.lower() == "next steps":
                assert all(r.char_end <= s.start or r.char_start >= s.end for r in recs)
    assert not any("action plan" in r.text for r in extracted["lancashire"])


def test_lincolnshire_pairs_two_initial_contact_triples_in_order(
    extracted: dict[str, list[Recommendation]],
) -> None:
    first, second = extracted["lincolnshire"][:2]
    assert first.summary is not None and second.summary is not None
    assert first.section[-1].endswith("one") and second.section[-1].endswith("two")
    assert first.char_end < first.summary.char_start < second.char_start
    assert second.char_end < second.summary.char_start


@pytest.mark.parametrize(
    ("path", "area"),
    [
        (("5. Initial contact", "Recommendations"), IC),
        (("8. Decision-making", "Recommendation"), DM),
        ("Post-inspection review findings > initial contact", IC),
        (("2. Post-inspection review findings", "Managing those posing a risk to children"), MR),
        (("Post-inspection review findings", "police detention", "Recommendation"), PD),
        (("3. Leadership, management and governance", "Recommendation"), LMG),
        (("Trusted adult: Recommendation from the 2017 inspection report",), TA),
        (("ASSESSMENT AND HELP",), AH),
        # The outermost heading naming an area wins over a headline that mentions another.
        (("Decision making", "Detailed findings", "Investigation records are poor"), DM),
        (("Next steps",), "general"),
        ((), "general"),
    ],
)
def test_area_of(path: tuple[str, ...] | str, area: str) -> None:
    assert area_of(path) == area


@pytest.mark.parametrize(
    ("text", "lead"),
    [
        ("We recommend that Kent Police should review its processes.", True),
        ("- Immediately, Leicestershire Police should:", True),
        ("- Within three months, Leicestershire Police should", True),
        ("Lincolnshire Police should act within three months to make sure that", True),
        ("- HMICFRS recommends that, within three months, Lancashire constabulary should", True),
        ("- take action to improve child protection investigations, paying attention to:", False),
        ("- this should include a review of referral processes", False),
        ("- the importance of ensuring that records are made promptly", False),
    ],
)
def test_is_lead_in(text: str, lead: bool) -> None:
    assert is_lead_in(text) is lead
