"""A question that names one member of a kind (an age, an age group, an agency, a place) where
the answer's lead names another: the answer is partial, saying what the reports lack."""

from __future__ import annotations

import re

import pytest

from qa_service.answer.asking import question_parts
from qa_service.answer.contrasts import (
    ages,
    praise_unsaid,
    ranking_unsaid,
    review_missing,
    share_unsaid,
    swap_missing,
    swapped,
    unanswered_part,
    universal_unsaid,
    unknown_names,
)
from qa_service.answer.premises import denied_unsaid, only_unsaid


def test_ages_in_the_ways_people_write_them() -> None:
    assert ages("what happened to the 16 yr old girl?") == {"16"}
    assert ages("A 15-year-old girl reported it; a boy aged 12 did not.") == {"15", "12"}
    assert ages("a fourteen-year-old, a 13yo and 17 years old") == {"14", "13", "17"}
    assert ages("children under 18 and 18-25s") == set()


def test_an_age_the_lead_gives_as_another() -> None:
    lead = "A 15-year-old girl in care reported that she had been raped."
    assert swapped("what happened to the 16 yr old in care?", lead) == ["a 16-year-old"]
    assert swapped("what happened to the 15 yr old in care?", lead) == []
    # A lead that gives no age does not swap one: the question may set a scene.
    assert swapped("what happens when a 14 year old goes missing?", "Children go missing.") == []
    # ... unless the case it belongs to, told in its passage, is another child's
    case = "A 16 year-old boy was arrested. The child had been in custody for 24 hours."
    asked = "the 12 yr old grandson case - how long did it take to nick the suspect?"
    assert swapped(asked, "The child had been in custody for 24 hours.", case) == ["a 12-year-old"]
    assert swapped("the 16 yr old arrested at court?", "The child was in custody.", case) == []


def test_an_agency_or_age_group_the_lead_gives_as_another() -> None:
    lead = "There were delays in the attendance of appropriate adults."
    assert swapped("were kids waiting ages for interpreters?", lead) == ["interpreters"]
    assert swapped("were kids waiting ages for an AA?", lead) == []
    # "adult" inside "appropriate adult" is an agency's word, not an age group.
    assert swapped("were kids waiting for appropriate adults?", "Children waited hours.") == []
    kids = "The force continues to reduce the number of children it detains."
    assert swapped("have adult detentions gone down?", kids) == ["adults"]
    assert swapped("have detentions of kids gone down?", kids) == []
    # The reports are about children: a lead about the adults around a child is no swap.
    assert swapped("does the risk form ask for the kid's school?", "Adult victims are asked.") == []
    # A question naming two members of a kind asks about both: no swap is read.
    assert swapped("do adults and children wait as long?", kids) == []
    # A lead naming no member of the kind swaps nothing.
    assert swapped("do interpreters come quickly?", "Delays were common.") == []


def test_a_rank_the_lead_gives_as_another_when_the_question_takes_it_as_given() -> None:
    lead = "The FCR inspector should then review the incident and decide."
    assert swapped("why does the FCR sergeant decide?", lead) == ["sergeants"]
    assert swapped("why does the FCR skipper decide?", lead) == ["sergeants"]
    assert swapped("why does the FCR inspector decide?", lead) == []
    # asked whether: the sentence naming the rank that does is the answer
    assert swapped("can a sergeant decide?", lead) == []
    # "the inspectors" are the inspectorate; a chief constable is no constable
    assert swapped("what did the inspectors find on sergeants?", "Sergeants are few.") == []
    assert swapped("why did the chief constable sign it?", "A PC signed it.") == ["chief officers"]
    assert swapped("why did the PC sign it?", "The chief constable signed it.") == ["constables"]
    assert swapped("why do DCs review it?", "The custody chief inspector reviews it.") == [
        "constables"
    ]


def test_how_often_the_lead_says_it_happens_when_the_question_takes_another() -> None:
    lead = "MACE meetings are held weekly."
    assert swapped("why do the MACE meetings happen daily?", lead) == ["it happening daily"]
    assert swapped("why do the MACE meetings happen every week?", lead) == []
    assert swapped("are the MACE meetings daily?", lead) == []  # asks whether: answered
    assert swapped("why are the meetings daily?", "Reviews happen within a month.") == []


def test_what_the_partial_answer_says_is_missing() -> None:
    lead = "There were delays in the attendance of appropriate adults."
    q = "were kids waiting ages for interpreters?"
    assert swap_missing(q, lead, [lead]) == "anything on interpreters"
    # The reports name interpreters elsewhere: they lack an answer, not the word.
    assert swap_missing(q, lead, [lead, "An interpreter was booked."]) == (
        "an answer about interpreters"
    )
    assert swap_missing("were kids waiting ages for appropriate adults?", lead, [lead]) is None


def test_unknown_names_are_proper_names_not_acronyms() -> None:
    assert unknown_names(["Boston", "duty"]) == ["Boston"]
    assert unknown_names(["OIC", "HCP", "AAs", "Al"]) == []


def test_a_review_of_a_force_the_corpus_holds_only_an_inspection_of() -> None:
    lancs = {"Lancashire Constabulary": {"inspection"}}
    kent = {"Kent Police": {"post-inspection review"}}
    q = "what did the lancs 2019 revisit find on missing kids?"
    assert review_missing(q, lancs) == "a post-inspection review of Lancashire Constabulary"
    assert review_missing("did the post-inspection review find progress?", lancs)
    assert review_missing(q, kent) is None
    assert review_missing(q, {**lancs, **kent}) is None  # Kent's review may answer
    assert review_missing("when will HMICFRS revisit Lancashire?", lancs) is None  # to come
    assert review_missing("what did the inspection find?", lancs) is None
    assert review_missing(q, {}) is None  # no force asked about


def _terms(text: str) -> list[str]:
    return [w.rstrip("s") for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3]


def test_a_part_of_the_question_no_shown_sentence_speaks_to() -> None:
    assert question_parts("how many are high risk, and how many reoffended?") == [
        "how many are high risk",
        "how many reoffended?",
    ]
    assert question_parts("what's Signal? is that the rape team?") == [
        "what's Signal",
        "is that the rape team?",
    ]
    assert question_parts("do officers and staff get the training?") == [
        "do officers and staff get the training?"
    ]
    q = "How many offenders are high risk, and how many of them reoffended?"
    wanted = {"offender", "high", "risk", "reoffended"}
    shown = ["Of 2,101 offenders in the community, 321 were high risk."]
    assert unanswered_part(q, shown, _terms, wanted) == (
        "an answer to “how many of them reoffended”"
    )
    both = [*shown, "Five of them reoffended within a year."]
    assert unanswered_part(q, both, _terms, wanted) is None
    # one part only: what the question asks is the whole question
    assert unanswered_part("how many reoffended?", shown, _terms, wanted) is None


def test_a_premise_that_something_holds_every_time_the_lead_does_not_bear_out() -> None:
    why_all = "Why have all of the force's officers been accredited?"
    assert universal_unsaid(why_all, "Only 22 of 68 officers were accredited.") == (
        "anything saying it holds for every one"
    )
    assert universal_unsaid(why_all, "All 68 officers were accredited in 2017.") is None
    # a requirement is not a finding; "not consistently" is no "always"
    policy = "Only 22 were. Policy states that every officer should be accredited."
    assert universal_unsaid(why_all, policy) is not None
    always = "how do officers always manage to speak to the child?"
    assert universal_unsaid(always, "Officers don't consistently speak to children.") == (
        "anything saying it always happens"
    )
    # a lead that denies it, whatever else it says of every one
    mixed = (
        "Body-worn video use is consistently high. However, officers are still not "
        "consistently speaking to children."
    )
    assert universal_unsaid(always, mixed) == "anything saying it always happens"
    assert universal_unsaid(always, "Body-worn video use is consistently high.") is None
    # or that it holds in full
    fully = "why is the PVPU fully staffed?"
    short = "There were ten DCs where there should be 19."
    assert universal_unsaid(fully, short) == "anything saying it is fully so"
    assert universal_unsaid(fully, "The PVPU is fully staffed and caseload was fine.") is None
    assert universal_unsaid(fully, "The force is yet to fully staff the PVPU.") is not None
    # asking whether, "not all", how often, or an idiom: no premise
    assert universal_unsaid("are all kids seen by a nurse?", "Some were.") is None
    assert universal_unsaid("why aren't all officers trained?", "Only 22 were.") is None
    assert universal_unsaid("what happens every day at the hub?", "Partners meet.") is None
    assert universal_unsaid("what's the New Horizons plan all about?", "A plan.") is None


def test_a_premise_of_praise_where_the_lead_finds_fault() -> None:
    success = "what made the monthly briefing such a success?"
    fault = "The briefing hasn’t been successful. Officers don’t act on it."
    assert praise_unsaid(success, fault) == "anything bearing out “success”"
    aim = "Officers don’t act on it; the force is yet to find ways to work more effectively."
    assert praise_unsaid(success, aim) is not None  # a wish is no praise
    assert praise_unsaid("Why is the training so consistent?", "It is inconsistent.") is not None
    rarely = "The voice of children is rarely noted in sufficient detail."  # how often is fault
    assert praise_unsaid("what made them so good at recording it?", rarely) is not None
    # praise the lead gives, even beside a fault; asking how good; asking whether
    mixed = "Use is consistently high. But officers are not speaking to children."
    assert praise_unsaid("what's good about their use of bodycams?", mixed) is None
    assert praise_unsaid("how good is the training?", "It is inconsistent.") is None
    assert praise_unsaid("is the training good?", "It is inconsistent.") is None
    # and fault taken as given where the lead praises
    worse = "Why has the quality of supervision got worse?"
    better = "Supervision has improved substantially. For example, logs can’t be closed early."
    assert praise_unsaid(worse, better) == "anything bearing out “worse”"
    pleased = "why were the inspectors pleased with the FCR diaries?"
    assert praise_unsaid(pleased, "The diary had insufficient oversight.") is not None
    staffed = "The force had good staffing levels in its child protection teams."
    assert praise_unsaid("why are kent's teams understaffed?", staffed) is not None
    # what should be is no verdict
    wrong = "what went wrong with the detention certificates?"
    assert praise_unsaid(wrong, "A detention certificate is required.") is not None
    # a turn against the claim counts only on what the question asks about
    bwv = "Why is Kent's use of body-worn video at domestic abuse incidents so poor?"
    other = (
        "Use of body-worn video is consistently high. However, officers don’t speak to children."
    )
    assert praise_unsaid(bwv, other) == "anything bearing out “poor”"
    turn = "Risk was graded well. However, the episode was often incorrectly managed."
    assert praise_unsaid("what was the problem with missing episodes?", turn) is None


def test_a_rank_among_forces_taken_as_given_that_the_lead_does_not_compare() -> None:
    lead = "The constabulary demonstrates a strong commitment to protecting children."
    missing = "anything comparing the force with other forces"
    assert ranking_unsaid("what made lancs the best force for child protection?", lead) == missing
    assert ranking_unsaid("why is kent the worst force for kids in custody?", lead) == missing
    assert ranking_unsaid("why is lancs better than other forces on CSE?", lead) == missing
    compared = "Its rate of children detained is the lowest of any force we have inspected."
    assert ranking_unsaid("why is kent the best force for kids in custody?", compared) is None
    # asking whether, or what is best about something: no rank among forces taken as given
    assert ranking_unsaid("is lancs the best force for child protection?", lead) is None
    assert ranking_unsaid("what's the best thing about the lancs MASH?", lead) is None


def test_a_share_taken_as_given_that_no_passage_gives() -> None:
    why = "Why were only 10 percent of the officers accredited?"
    held = ["Of 68 officers, only 22 (i.e., 29 percent) were accredited in 10 months."]
    assert share_unsaid(why, held) == "anything on 10 percent"
    assert share_unsaid("why were only 29% of them accredited?", held) is None
    assert share_unsaid("were 10 percent of them accredited?", held) is None  # asks whether


@pytest.mark.slow
@pytest.mark.parametrize(
    ("question", "missing"),
    [
        ("how many DCs were on duty in Skegness during the revisit?", "Skegness"),
        (
            "lincs - the 14 year old in local authority care who said she was raped ten times "
            "by the same man, what happened?",
            "14-year-old",
        ),
        ("were kids in Leicestershire custody kept waiting for interpreters?", "interpreters"),
        ("lancs post-inspection review - are missing kids' plans on the system now?", "review"),
        ("why are all the lancs CP officers SCAIDP trained?", "every one"),
        ("whats happened since kent closed the vulnerability hubs?", "stopping"),
        ("why is the lancs frontline CP training so consistent?", "consistent"),
        ("Did Lancashire's central referral unit have a backlog?", "central referral unit (CRU)"),
        ("why must kent sergeants oversee police protection themselves?", "sergeants"),
        ("why is the lincs PVPU now fully staffed?", "fully so"),
    ],
)
def test_swapped_entities_are_partial_on_the_corpus(retriever, question, missing) -> None:  # type: ignore[no-untyped-def]
    res = retriever.search(question)
    assert res.state == "partial", (res.state, res.missing)
    assert missing in (res.missing or "")


@pytest.mark.slow
def test_a_unit_named_elsewhere_is_named_once(retriever) -> None:  # type: ignore[no-untyped-def]
    """The corpus spells MASH out as "hub" and as "hubs" ("MASHs"): one name in the answer."""
    res = retriever.search("do lincs probation officers sit in the MASH?")
    assert res.state == "partial"
    assert (
        res.missing
        == "anything on the multi agency safeguarding hub (MASH) for Lincolnshire Police"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "lincs - the 15 year old in local authority care who said she was raped ten times "
        "by the same man, what happened?",
        "were kids in Leicestershire custody kept waiting for appropriate adults?",
        "how many DCs were on duty in Lincoln during the revisit?",
        "does the kent CRU have a backlog",
        "are lincs custody officers doing juvenile detention certificates",  # "a juvenile ..."
        "who decides whether a lincs missing person report meets the criteria?",  # an inspector
        "how did kent get its POLIT fully staffed?",
    ],
)
def test_the_entity_the_reports_give_is_answered(retriever, question) -> None:  # type: ignore[no-untyped-def]
    assert retriever.search(question).state == "answered"


@pytest.mark.slow
def test_the_unit_the_question_names_leads(retriever) -> None:  # type: ignore[no-untyped-def]
    """A near second that names the unit asked about leads over one naming another unit;
    a name every report uses (HMICFRS) names no unit."""
    from dataclasses import replace

    from qa_service.answer.elsewhere import naming_lead

    base = retriever.search("kent CRU backlog").candidates[0][0]
    mash = replace(base, text="Some of the MASH backlog would be reduced.")
    cru = replace(base, text="The CRU workload fell from 700 to 200.")
    ranked = [(mash, 1.0), (cru, 0.8)]
    asked = "kent CRU – have they got the backlog down?"
    assert [c.text for c, _ in naming_lead(retriever, asked, ranked)] == [cru.text, mash.text]
    asked = "has the central referral unit got the backlog down?"  # the long form names it
    assert naming_lead(retriever, asked, ranked)[0][0] is cru
    assert naming_lead(retriever, asked, [(mash, 1.0), (cru, 0.3)])[0][0] is mash  # too far
    hmic = replace(base, text="HMICFRS audited 33 cases.")
    asked = "how many cases did HMICFRS audit in kent?"
    assert naming_lead(retriever, asked, [(mash, 1.0), (hmic, 0.9)])[0][0] is mash


def test_an_action_taken_as_given_that_the_lead_denies() -> None:
    def terms(word: str) -> list[str]:
        return [word.lower().strip(".,;")[:6]]

    lead = "Moreover, the constabulary does not have any arrangements for recording courses."
    asked = "how does lancs record which courses officers have done?"
    assert denied_unsaid(asked, lead, terms) == "anything bearing out “record”"
    asked = "why does lincs apply the expectations to CID?"
    assert denied_unsaid(asked, "The expectations don’t apply to CID.", terms) is not None
    # the subject's words are not the action; a question that denies asks whether
    lead = "There was no evidence that a strategy discussion took place."
    assert denied_unsaid("why do leics audio-record strategy discussions?", lead, terms) is None
    assert (
        denied_unsaid("why don't lancs record courses?", "They do not record them.", terms) is None
    )
    assert denied_unsaid("how does lancs record courses?", "They record them all.", terms) is None
    # a word of the action right after a negation, and a negation only in the case set
    asked = "why did the duty inspector get consulted when the child wasn't moved?"
    lead = "Yet there was no consultation with the duty inspector."
    assert denied_unsaid(asked, lead, terms) == "anything bearing out “consulted”"


def test_only_taken_as_given_must_be_the_leads() -> None:
    def terms(text: str) -> list[str]:
        return [w.lower().strip(".,;?") for w in text.split()]

    asked = "why are the lancs CSE teams only doing enforcement work?"
    lead = "The teams can only undertake preventative work."
    assert only_unsaid(asked, lead, terms) == "anything bearing out “only enforcement”"
    assert only_unsaid(asked, "The teams only do enforcement.", terms) is None
    # asked whether, "not only", "the only": no premise
    assert only_unsaid("do the teams only do enforcement?", lead, terms) is None
    assert only_unsaid("why is it not only enforcement?", lead, terms) is None
    # a force named after "only" is not what it restricts to
    assert only_unsaid("why are only 12 lancs RSOs reactive?", "Only 12 RSOs are.", terms) is None


def test_too_much_for_too_little_is_a_swap() -> None:
    asked = "why did the diary system have too much oversight?"
    assert swapped(asked, "The diary system had insufficient oversight.") == [
        "there being too much"
    ]
    assert swapped("did the diary have too much oversight?", "It had too little.") == []
    asked = "why were there more overdue visits at the revisit?"
    assert swapped(asked, "We saw far fewer overdue visits.") == ["there being more"]
    assert swapped(asked, "There were more overdue visits and fewer staff.") == []
    asked = "why did lincs take no further action too late?"
    assert swapped(asked, "Decisions were made too soon.") == ["it being too late"]


def test_consistently_taken_as_given_must_be_said() -> None:
    lead = "The force has introduced a risk assessment form called DARA."
    asked = "how did kent get DARA followed consistently at domestics?"
    assert universal_unsaid(asked, lead) == "anything saying it is consistently so"
    assert universal_unsaid("how consistently is DARA followed?", lead) is None


def test_a_share_said_to_be_reached_must_be_the_leads() -> None:
    asked = "how did lancs get ARMS completion to 100 percent?"
    lead = "The completion rate is now at 70 percent."
    passages = [lead, "Officers were trained in 100 percent of cases."]
    assert share_unsaid(asked, passages, lead) == "anything on 100 percent"
    assert share_unsaid(asked, passages, "Completion reached 100 percent.") is None
    # a share taken as given but not as reached: any returned passage may give it
    assert share_unsaid("why were 100 percent of officers trained?", passages, lead) is None
