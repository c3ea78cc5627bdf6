"""The answer layer: units, the ranker and answerability files, evidence matching, and the
chat answer's first sentence on every test-split question (real corpus, real model)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from qa_service.answer import answerability, asking
from qa_service.answer import changes as change_reading
from qa_service.answer import rank as answer_rank
from qa_service.answer.asking import gives_number
from qa_service.answer.chat import answer
from qa_service.answer.rank import LinearModel
from qa_service.answer.reply import Turn
from qa_service.answer.units import build_units, leans_back, sentence_role
from qa_service.evaluation.answers import (
    answer_metrics,
    answer_report,
    answers_quote,
    none_type_table,
    normalise,
)
from qa_service.evaluation.fit import one_standard_error_c, refused_bound, thresholds
from qa_service.evaluation.retrieval import load_questions
from qa_service.ingest.sentences import sentence_spans

ROOT = Path(__file__).resolve().parents[2]


def _terms(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9’'-]+", text.lower()) if w not in {"the", "why", "did"}]


def _units(text: str, headings: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [
        (text[u.start : u.end], u.role) for u in build_units(text, sentence_spans(text), headings)
    ]


def test_roles_of_sentence_shapes() -> None:
    assert sentence_role("Police detention", ("Police detention",)) == "heading"
    assert sentence_role("Children in custody are not always safe") == "heading"
    assert sentence_role("21 Children Act 1989, section 46.") == "footnote"
    assert sentence_role("[4] See the College of Policing guidance.") == "footnote"
    assert sentence_role("Figure 3: Case audit results") == "caption"
    assert sentence_role("good\t3\tinadequate\t2") == "table_row"
    assert sentence_role("- ensure that custody staff comply with the code; and") == "item"
    assert sentence_role("We found:") == "leadin"
    assert sentence_role("The force has improved its training for call handlers.") == "prose"


def test_leaning_sentence_joins_the_one_before() -> None:
    text = "The force set up a hub in 2018. This means referrals are seen within a day. Cats sleep."
    got = _units(text)
    assert got[0] == (
        "The force set up a hub in 2018. This means referrals are seen within a day.",
        "prose",
    )
    assert got[1] == ("Cats sleep.", "fragment")  # too short to answer anything


def test_a_demonstrative_in_the_first_words_leans_back_but_not_one_naming_the_report() -> None:
    assert leans_back("The effect of this is that not all children are referred.")
    assert leans_back("Because these enquiries are older, they are given less priority.")
    assert leans_back("Despite this, delays remain.")
    assert leans_back("Accordingly, we saw very few investigation plans.")
    assert not leans_back("Sometimes officers do not attend.")
    assert not leans_back("In this post-inspection review, we audited 33 cases.")
    assert not leans_back("During this period, the force trained 400 officers.")
    assert not leans_back("The force has set up a new team for missing children.")


def test_a_list_item_that_is_a_whole_sentence_may_lead_without_its_mark() -> None:
    text = (
        "- In January 2017, HMICFRS assessed 85 cases and rated 25 of them good.\n"
        "- review its use of risk assessments; and\n- ensure that staff comply."
    )
    got = _units(text)
    assert got[0] == (
        "In January 2017, HMICFRS assessed 85 cases and rated 25 of them good.",
        "prose",
    )
    assert [role for _, role in got[1:]] == ["fragment", "fragment"]


def test_list_lead_in_takes_its_items_and_headings_never_lead() -> None:
    text = (
        "Custody\nWe found:\n- children were seen by a nurse;\n- records were complete.\n"
        "End of it all here."
    )
    units = build_units(text, sentence_spans(text), ("Custody",))
    roles = [u.role for u in units]
    assert roles[0] == "heading" and not units[0].leads
    lst = next(u for u in units if u.role == "list")
    assert (
        text[lst.start : lst.end].startswith("We found:") and "records" in text[lst.start : lst.end]
    )


def test_a_sentence_that_items_follow_leads_them_in_without_a_colon() -> None:
    text = (
        "The force has developed two prompts for staff.\n"
        "- VVOWS - a briefing format to record the voices of children; and\n"
        "- AWARE principles - a checklist for professional curiosity\n"
        "Managers review the cases every month."
    )
    got = _units(text)
    assert got[0][1] == "list" and "AWARE" in got[0][0] and got[0][0].startswith("The force")
    assert got[1] == ("Managers review the cases every month.", "prose")


def test_numbers_of_the_kind_asked() -> None:
    assert gives_number("how many cases were audited?", "We audited 33 case files.")
    assert not gives_number("how many cases were audited?", "In 2019 we audited case files.")
    assert gives_number("when did the unit open?", "The unit opened in March 2019.")
    assert not asking.asks_number("when do AAs get called out, on arrival or for interview?")
    # A "when" clause that a question follows sets a condition; no date is asked.
    assert not asking.asks_number("when Lancs kids go to their gran's, does anyone check her?")
    assert not asking.asks_number("When kids come back - who talks to them?")
    assert not asking.asks_number("when Lincs take a kid into care do we tell social care?")
    assert asking.asks_number("When were the findings published?")
    assert asking.asks_number("when lincs set up the delivery group?")
    assert not gives_number("who runs the unit?", "It has 12 staff.")
    # A figure the question states itself is no answer to it.
    named = "How many Future 4 Me workers are based in the hub?"
    assert not gives_number(named, "These include Future 4 Me workers from the local authority.")
    assert gives_number(named, "Two Future 4 Me workers are based in the hub.")
    assert not gives_number("how many section 47 enquiries?", "Section 47 enquiries were late.")
    assert asking.asks_number("What was Kent's ARMS completion rate?")
    assert asking.asks_number("what is the average caseload per officer?")
    assert not asking.asks_number("what did they say about the arrest rate?")
    assert asking.asks_number("how much funding has the scheme used?")
    assert not asking.asks_number("how much effort has gone into CSE since then?")
    assert asking.asks_number("What was the total cost of the new hub?")
    assert not gives_number("what was the total cost?", "The hub, when completed[3], will open.")
    assert not asking.asks_number("what did the review say about the cost of overtime?")
    # The word after "how" asks for a kind of answer: a report need not use it.
    assert asking.how_words("lancs CSE jobs - how long can they drift for?") == ["long"]
    assert asking.how_words("How often do they meet, and how quickly?") == ["often", "quickly"]
    assert asking.how_words("what happens when a child goes missing?") == []


def test_a_question_that_tells_a_case_then_asks_is_split() -> None:
    split = asking.split_ask
    assert split("mum rang 999 after a domestic – did anyone talk to the child or refer him?") == (
        "mum rang 999 after a domestic",
        "did anyone talk to the child or refer him?",
    )
    assert split("lad refused bail, did anyone call the duty inspector?") == (
        "lad refused bail",
        "did anyone call the duty inspector?",
    )
    # A question in two parts, or with nothing after the dash worth asking, has no scene.
    assert split("How many cases were audited, and how were they graded?")[0] == ""
    assert split("are kids kept in the cells overnight?") == (
        "",
        "are kids kept in the cells overnight?",
    )
    assert split("custody – why?")[0] == ""


def test_a_partial_answer_names_words_not_contractions() -> None:
    from qa_service.answer.missing import original_words

    def same(word: str) -> list[str]:
        return [word]

    asked = "does social care tell us when they decide a job doesn't need a strategy meeting?"
    assert original_words(asked, {"decide", "job", "doesn", "need"}, same) == [
        "decide",
        "job",
    ]
    assert original_words("do kent use drones when theyre out?", {"drones", "theyre"}, same) == [
        "drones"
    ]
    assert original_words("the big worry about DA up north", {"da", "up", "worry"}, same) == [
        "worry",
        "DA",
    ]
    # words of how the question is put are never what the reports lack
    asked = "what happens when a teenager goes AWOL, can you get hold of anyone else?"
    assert original_words(asked, {"goes", "you", "hold", "else", "awol"}, same) == ["AWOL"]
    # an age is named as the question gives it, not as its words
    asked = "do kent still keep 12 year olds in custody overnight?"
    assert original_words(asked, {"year", "olds", "overnight"}, same) == [
        "12 year olds",
        "overnight",
    ]


def test_a_count_must_count_what_was_asked() -> None:
    assert asking.counted_words("how many registered sex offenders are there?") == [
        "registered",
        "sex",
        "offenders",
    ]
    assert asking.counted_words("what did the review find?") == []

    def terms(word: str) -> list[str]:
        return [word.lower().rstrip("s")]

    def kids(word: str) -> tuple[str, ...]:
        return ("children",) if word == "kids" else ()

    given = asking.gives_count_of
    asked = "how many registered sex offenders are there in the county?"
    assert given(asked, "There were 2,742 registered sex offenders in the county.", terms)
    assert not given(asked, "There were 165 overdue visits to registered sex offenders.", terms)
    assert given(asked, "Registered sex offenders: 2,742 at the time.", terms)
    assert given("how many kids were held?", "Nine children were held.", terms, kids)
    assert not given("how many kids were held?", "Nine children were held.", terms)
    assert given("what did the review find?", "Nothing counted here.", terms)
    # A duration is no count of anything but time.
    visits = "Reduce the visits owed to registered sex offenders and, within three months, review."
    assert not given(asked, visits, terms)
    assert given("how many months did it take?", "It took three months.", terms)
    # A share asked for takes a percentage, a fraction or so many of so many.
    share = "what percentage of the RSOs are high risk?"
    assert not given(share, "There is an average of 68 offenders for each manager.", terms)
    assert given(share, "Of these, 321 (15 percent) were graded as high-risk.", terms)
    assert given("what proportion were inadequate?", "In 30 of the 79 cases.", terms)
    assert given("what proportion were inadequate?", "About a third were.", terms)
    # An average asked for is not one case's figure.
    average = "what's the average response time to a missing kid?"
    assert not given(average, "Within ten minutes of the call, a search was made.", terms)
    assert given(average, "Officers usually attend within an hour.", terms)


def test_what_a_term_means_and_who_by_name() -> None:
    term = asking.defined_term
    assert term("what does PVPU stand for") == "PVPU"
    assert term("What's a MARAC?") == "MARAC"
    assert term("whats MOSOVO short for?") == "MOSOVO"
    assert term("meaning of DAIU") == "DAIU"
    assert term("What does VVOWS mean?") == "VVOWS"
    assert term("what does the force do about missing kids?") is None
    assert term("what is the remit of the vulnerability delivery group?") is None
    named = asking.asks_person_name
    assert named("whats the name of the DI who runs the MOSOVO team?")
    assert named("who's the chief constable of lincs?")
    assert named("whats the name of the ACC for child protection?")
    # "who chairs ...?" is answered by a sentence that says who chairs (or leads) it
    who = asking.says_who_does
    assert not who("who chairs the MACE meetings?", "MACE meetings are held weekly.")
    assert who("who chairs the MACE meetings?", "A detective inspector chairs them.")
    assert who("who runs the team?", "The detective inspector now leads the team.")
    assert who("what happens at MACE meetings?", "MACE meetings are held weekly.")
    assert not named("who is the lead for missing children in kent?")  # a rank may answer
    assert not named("who decides if a child needs a strategy meeting?")
    assert asking.gives_person_name("Detective Inspector Smith leads the team.")
    assert not asking.gives_person_name("The detective inspector now leads the MOSOVO team.")


def test_the_unit_that_spells_an_acronym_out_leads() -> None:
    from types import SimpleNamespace

    from qa_service.answer.definitions import defining_first

    units = [
        "The call-taker did a thorough THRIVE assessment.",
        "Staff are trained on THRIVE (threat, harm, risk, investigation, vulnerability and"
        " engagement) assessments.",
        "A PVP (a form) was sent.",
    ]
    ranked = [(SimpleNamespace(text=t), 0.5 - i / 10) for i, t in enumerate(units)]
    first = defining_first(ranked, "THRIVE", "")  # type: ignore[arg-type]
    assert first is not None and first[0][0].text == units[1] and first[0][1] == 0.5
    assert defining_first(ranked, "PVP", "") is None  # type: ignore[arg-type]  # "a form"
    known = defining_first(ranked, "THRIVE", "threat harm risk investigation vulnerability")  # type: ignore[arg-type]
    assert known is not None and known[0][0].text == units[1]
    # A glossary line or list item defines it too; a passing mention does not.
    from qa_service.answer.definitions import defines

    assert defines("Two prompts.\n- VVOWS – a briefing format to record voices;", "VVOWS", "")
    assert not defines("The VVOWS prompt was misused.", "VVOWS", "")


def test_pinned_rows_rank_first_unless_filtered_out() -> None:
    import numpy as np

    from qa_service.search.fusion import pin_first

    fused = np.array([0.9, 0.2, -np.inf, 0.5], dtype=np.float32)
    pin_first(fused, [3, 2], None)  # row 2 is filtered out: it stays out
    assert int(np.argmax(fused)) == 3 and fused[2] == -np.inf
    # Scores of candidate rows only (a large index): positions are looked up by row.
    fused = np.array([0.9, 0.2], dtype=np.float32)
    pin_first(fused, [40, 7], np.array([12, 40]))
    assert int(np.argmax(fused)) == 1


def test_not_answered_needs_a_sign_of_absence() -> None:
    f = answerability.FEATURES
    model = answer_rank.prior(f, {"confidence": 1.0})
    model = LinearModel(
        f, model.mean, model.scale, model.coef, -10.0, {"refuse": 0.5, "answer": 0.8}
    )
    x = np.zeros(len(f), dtype=np.float32)  # p ~ 0: far below the refuse threshold
    doubt = answerability.decide(x, model, "does kent use the DASH form?")
    assert doubt.state == "partial"  # every word asked is in the passages shown
    x[f.index("uncovered_idf")] = 0.8  # a word no returned passage uses
    assert answerability.decide(x, model, "does kent issue firearms licences?").state == (
        "not_answered"
    )


def test_a_question_about_a_change_takes_it_as_given() -> None:
    changes = change_reading.presumed_changes
    assert changes("why did the caseload go up from 200 to 700?") == {"rise"}
    assert changes("Why has the force stopped recording them?") == {"stop"}
    assert changes("why did kent drop operation encompass?") == {"fall", "stop"}
    assert changes("why did Leics give up on the Lighthouse hub?") == {"stop"}
    assert changes("why did lancs ditch the need for a PVP?") == {"stop"}
    assert changes("what made the Kent CRU backlog disappear?") == {"stop"}
    assert changes("how come kent has no backlog in the CRU any more?") == {"stop"}
    assert changes("why is the DMU no longer reviewing risk grades?") == {"stop"}
    assert changes("how did lincs clear the missing episodes off the spreadsheet?") == {"stop"}
    assert not changes("how clear are the missing-from-home procedures?")
    assert changes("why did lancs hand CSE investigations to the council?") == {"transfer"}
    assert changes("why were the DA jobs handed to the vulnerability teams?") == {"transfer"}
    assert change_reading.states_change("There is no backlog now.", frozenset({"stop"}))
    assert not changes("Why do kids end up spending the night in the cells?")
    assert not changes("did the caseload go up?")  # asks whether, takes nothing as given
    assert changes("Why did the force merge its two hubs into one?") == {"merge"}
    assert changes("why has the CSE team taken over the missing jobs?") == {"transfer"}
    assert changes("why isnt the CRU available out of hours?") == {"not"}
    # Other questions about a change take it as given too; those asking whether it happened,
    # or that set a condition with "when", do not.
    assert changes("what's happened since leics scrapped the triage sergeant?") == {"stop"}
    assert changes("What impact did the rise in overdue visits have?") == {"rise"}
    assert changes("kent ended encompass – how are schools told now?") == {"stop"}
    assert changes("How did the team end up with fewer staff?") == {"fall"}
    assert not changes("Has Kent closed its CRU?")
    assert not changes("lincs – did they stop the diary appointments for kids?")
    assert not changes("when protection is lifted do officers write down where the child ended up")
    assert not changes("who tends not to show up at the meetings?")  # a lack: only "why ...?"
    # "no ..." is a lack too, in a "why" question or in a clause that gives it
    assert changes("why is there no backlog in the kent CRU?") == {"not"}
    assert changes("given that lancs has no CSE teams, who deals with CSE?") == {"not"}
    assert not changes("who deals with CSE where there is no CSE team?")
    assert not changes("given that lancs has CSE teams, who leads them?")
    assert change_reading.lack_given("why is there no backlog in the kent CRU?") == "no backlog"
    assert (
        change_reading.lack_given("given that lancs has no CSE teams, who ...?") == "no CSE teams"
    )
    assert change_reading.lack_given("why is the DMU no longer reviewing risk grades?") is None
    # a lack the question gives must be denied by the lead, before or after its words
    lack = change_reading.lack_given("why are there no delays in lancs investigations?")
    assert lack == "no delays"
    assert not change_reading.says_lack(
        "There were unnecessary delays of up to a year.", lack, _terms
    )
    assert change_reading.says_lack("Cases progressed with no delays at all.", lack, _terms)
    assert change_reading.says_lack("The delays were not seen again.", lack, _terms)
    # leaving out is a lack; staying the same is a change of its own
    assert changes("why did the kent review leave out children in custody?") == {"not"}
    assert changes("why were the lincs procedures left unchanged?") == {"same"}
    assert not change_reading.states_change("The procedures were rewritten.", frozenset({"same"}))
    # "more ... after" is a rise; a change the question denies is none
    assert changes("why did leics downgrade more high risk cases after the review?") == {"rise"}
    assert not changes("what more could kent do after the review?")
    assert "transfer" not in changes("where children were not transferred, what was recorded?")
    # an aim or a denial says no change happened
    rise, about = frozenset({"rise"}), frozenset({"intelligence"})
    said = change_reading.states_change
    assert not said("A briefing to increase intelligence failed.", rise, about, _terms)
    assert not said("Intelligence hasn't increased.", rise, about, _terms)
    assert said("This led to increased intelligence.", rise, about, _terms)
    said = change_reading.states_change
    assert said("There were far fewer overdue visits.", frozenset({"fall"}))
    assert not said("There were far fewer overdue visits.", frozenset({"rise"}))
    assert said("Anything at all.", frozenset())
    assert not said("Three MASHs were set up in 2013.", frozenset({"merge"}))
    assert said("The MASHs were combined into a single hub.", frozenset({"merge"}))
    # A lack taken as given must be said: a negation or a limit, not the opposite.
    assert not said("CRU staff are available 24/7.", frozenset({"not"}))
    assert said("Staff didn't have time to comply.", frozenset({"not"}))
    assert said("We saw very few reviews of investigations.", frozenset({"not"}))
    # Given what the question says changed, the change must be said of it, not of anything.
    about = change_reading.changed_terms("why did kent's POLIT caseload go up?", _terms)
    assert about == frozenset({"kent's", "polit", "caseload"})
    lead = "The POLIT workload fell to 200. It also increases opportunities to find offenders."
    assert not said(lead, frozenset({"rise"}), about, _terms)
    assert said("The POLIT caseload increased sharply.", frozenset({"rise"}), about, _terms)
    # "why has the number of ... fallen?" asks a reason: it counts nothing
    assert asking.counted_words("why has the number of children in custody fallen?") == []
    assert asking.counted_words("how many children were held?") == ["children"]
    # a figure the question states itself counts nothing
    counts = asking.gives_count_of
    asked = "How many children were taken into police protection under section 46?"
    assert not counts(asked, "Powers under section 46 of the Children Act are recorded.", _terms)
    assert counts(asked, "Officers took 120 children into police protection.", _terms)


@pytest.mark.slow
def test_definitions_names_and_acronym_counts_on_the_corpus(retriever) -> None:  # type: ignore[no-untyped-def]
    def ask(question: str):  # type: ignore[no-untyped-def]
        return answer(retriever, [Turn("user", question)])

    # A report defines the acronym ("... (PVPUs)"): that sentence leads, and it answers.
    reply = ask("what does PVPU stand for")
    assert reply.result.state == "answered"
    assert "protecting vulnerable persons units (PVPUs)" in reply.sentences[0].text
    # "THRIVE" is in many passages and spelt out in one, which search puts first so it leads.
    reply = ask("what does THRIVE stand for?")
    assert reply.result.state == "answered"
    assert "THRIVE (threat, harm, risk" in reply.sentences[0].text
    assert "THRIVE (threat, harm, risk" in reply.result.hits[0].chunk.text
    # The reports say who leads the team, never by name.
    reply = ask("whats the name of the DI who runs the lincs MOSOVO team?")
    assert reply.result.state == "partial" and reply.result.missing == "the name asked for"
    # "RSOs" counts what the report calls registered sex offenders (RSOs).
    reply = ask("how many RSOs does lancs have?")
    assert reply.result.state == "answered" and "2,742" in reply.sentences[0].text
    # An acronym the passages spell out in full is not a word they lack ("RSO" here is their
    # "registered sex offenders"), and "how long" asks for a duration, not about "long".
    layer = retriever.answers
    assert layer.spelt_out("rso", set(retriever.terms("registered sex offenders")))
    assert not layer.spelt_out("rso", set(retriever.terms("registered offenders")))
    assert not layer.spelt_out("custodi", set(retriever.terms("custody suites")))
    for question in (
        "lancs CSE jobs - how long can they drift for?",
        "did HMI tell kent to sort out how RSO info gets to the neighbourhood teams?",
    ):
        missing = ask(question).result.missing or ""
        assert not re.search(r"\b(long|RSO|CSE)\b", missing), (question, missing)
    # The review saw far fewer overdue visits: a rise is what the question assumes.
    reply = ask("why did lincs overdue visits to sex offenders go up so much?")
    assert reply.result.state != "answered"


def test_figures_the_question_states_must_be_in_the_passages() -> None:
    unmatched = answerability.numbers_unmatched
    assert unmatched("Why did accuracy fall below 50 percent?", ["It rose to 70 percent."]) == [
        "50"
    ]
    assert unmatched("was the 16 yr old seen?", ["A 16-year-old girl was seen."]) == []
    assert unmatched("missing 3 times in 3 months", ["missing three times in three months"]) == []
    assert unmatched("what did the 2019 review find?", ["nothing about years"]) == []
    assert unmatched("do we still hold under-18s after charge?", ["children"]) == []
    # A time of day is no figure the reports must hold.
    assert unmatched("anyone to ring at 3 in the morning?", ["available 24/7"]) == []
    assert unmatched("kid nicked at 3am, or at 9.30 pm", ["in the early hours"]) == []


def test_a_year_named_as_an_inspection_the_corpus_lacks_is_missing() -> None:
    missing = answerability.years_missing
    assert answerability.report_years("did the 2022 kent follow-up say so?") == ["2022"]
    assert answerability.report_years("what did they find when they revisited in 2020?") == ["2020"]
    assert answerability.report_years("how many were missing in 2020?") == []
    # a force's own review of something is no inspection of it
    own = "In 2016, a review of the constabulary's operating model led to a new structure."
    assert answerability.report_years(own) == []
    assert answerability.report_years("what did our 2019 review find?") == ["2019"]
    # A year the passages mention is still missing when asked as a report the force lacks.
    asked = "What did HMICFRS find when it revisited the force in 2020?"
    assert missing(asked, {2019, 2020}, ["training by January 2020"], {2019}) == ["2020"]
    assert missing(asked, {2019, 2020}, ["training by January 2020"], {2019, 2020}) == []
    assert missing(asked, {2019, 2020}, ["training by January 2020"]) == []
    # a year written beside a force's name, as staff name its report
    assert answerability.force_years("lincs 2017 – were RSO visits overdue?") == ["2017"]
    assert answerability.force_years("kent's 2019 review, what about RSOs?") == ["2019"]
    assert answerability.force_years("2016 Leics - missing kids?") == ["2016"]
    assert answerability.force_years("how many kids were held in lincs in 2017?") == []
    staff = "lincs 2017 – were RSO visits overdue?"
    assert missing(staff, {2017, 2019}, ["September 2017"], {2018, 2019}) == ["2017"]
    assert missing(staff, {2017, 2019}, ["September 2017"], {2017, 2019}) == []


def test_a_term_only_another_forces_report_uses_is_seen(retriever) -> None:  # type: ignore[no-untyped-def]
    layer = retriever.answers
    lex = retriever.index.lexical
    (compact,) = lex.terms("COMPACT")
    lincs = "Lincolnshire Police"
    assert layer.elsewhere_idf([compact], ["Kent Police"]) > 0.5
    assert layer.elsewhere_idf([compact], [lincs]) == 0.0
    assert layer.elsewhere_idf([compact], []) == 0.0
    (custody,) = lex.terms("custody")
    assert layer.elsewhere_idf([custody], ["Kent Police"]) == 0.0


def test_the_answer_stage_texts_are_encoded_with_the_question(retriever) -> None:  # type: ignore[no-untyped-def]
    question = "lancs - are the CSE team getting flummoxed by jobs?"  # "flummoxed": never used
    plan = retriever.plan(question)
    texts = retriever.companion_texts(plan)
    assert texts == ["- are the CSE team getting by jobs?"]  # the topic: no force name
    calls: list[int] = []
    encode = retriever.embedder.encode

    def counting(batch, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(len(batch))
        return encode(batch, *args, **kwargs)

    retriever._cache.clear()
    retriever.embedder.encode = counting
    try:
        retriever.search(question)
    finally:
        del retriever.embedder.encode
    assert calls == [2]  # one batch: the question and the question without "swamped"


def test_the_question_without_its_missing_words() -> None:
    from qa_service.answer.missing import without

    assert without("do kent use drones when out?", ["drones"]) == "do kent use when out?"
    assert without("do kent use drones?", ["lads"]) is None  # nothing left out
    assert without("drones", ["drones"]) is None  # nothing left


def test_evidence_matching_is_normalised_both_ways() -> None:
    quote = "Officers now notify all local authority schools about children affected by abuse"
    assert answers_quote(
        "Officers now notify all local authority schools about children affected by abuse.[21]",
        quote,
    )
    assert answers_quote("Officers now notify all local authority schools.", quote) is False or True
    assert answers_quote(quote + ". It is expanding.", quote)  # holds the quote
    assert not answers_quote("The force has a new custody suite.", quote)
    assert normalise("It’s the **force**’s view[3].") == "it's the force's view"


def test_answer_metrics_by_hand() -> None:
    from qa_service.evaluation.answers import AnswerOutcome
    from qa_service.evaluation.retrieval import Evidence, Question

    ev = (Evidence("a.txt", "some quote text"),)
    q_ans = Question("q1", "?", "staff", None, "test", ev)
    q_none = Question("q2", "?", "none", None, "test", ())
    outs = [
        AnswerOutcome(q_ans, "answered", 0.9, ("x",), True, True),
        AnswerOutcome(q_ans, "not_answered", 0.1, (), False, False),
        AnswerOutcome(q_none, "partial", 0.4, ("y",), False, False),
        AnswerOutcome(q_none, "answered", 0.8, ("z",), False, False),
    ]
    m = answer_metrics(outs)
    assert m["answer@1"] == 0.5 and m["wrongly_refused"] == 0.5
    assert m["abstain"] == 0.5 and m["abstain_strict"] == 0.0
    swap = Question("q3", "?", "none", None, "test", (), none_type="entity_swap")
    outs.append(AnswerOutcome(swap, "not_answered", 0.1, (), False, False))
    by_type = answer_report(outs)["abstain_by_none_type"]
    assert by_type["untyped"] == {"questions": 2, "abstain": 0.5, "abstain_strict": 0.0}
    assert by_type["entity_swap"] == {"questions": 1, "abstain": 1.0, "abstain_strict": 1.0}
    assert "| entity_swap | 1 | 1.000 | 1.000 |" in none_type_table(answer_report(outs))


def test_thresholds_keep_refusals_of_answerable_questions_low() -> None:
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1, 0.3])
    kinds = ["staff", "fact", "staff", "inspector", "none", "none", "partial"]
    refuse, answer_at = thresholds(p, kinds, max_refused=0.0, max_staff_refused=0.0)
    assert refuse <= 0.6 and answer_at >= refuse
    assert all(p[i] >= refuse for i, k in enumerate(kinds) if k not in ("none", "partial"))
    # Answer outright from the cost of a wrong confident answer against a hedged one.
    assert thresholds(p, kinds, 0.0, 0.0, wrong_answer_cost=4.0)[1] == 0.8
    assert thresholds(p, kinds, 0.0, 0.0, wrong_answer_cost=1.0)[1] == max(0.5, refuse)


def test_refusals_are_bounded_with_confidence_not_by_the_dev_share() -> None:
    # Refusing 3 of 221 dev questions (1.4%) is as far as 90% confidence of staying under 3%
    # goes; the bound grows as fewer questions are seen.
    assert refused_bound(3, 221) <= 0.03 < refused_bound(4, 221)
    assert refused_bound(0, 10) > refused_bound(0, 100) > 0.0
    assert refused_bound(5, 5) == 1.0 and refused_bound(0, 0) == 0.0
    p = np.linspace(0.3, 0.99, 200)
    kinds = ["staff"] * 200
    refuse, _ = thresholds(p, kinds, max_refused=0.03, max_staff_refused=0.05)
    assert int(np.sum(p < refuse)) == 3  # the share itself would have allowed 6


def test_one_standard_error_rule_takes_the_smoother_model_within_the_noise() -> None:
    # 0.01 is better on one fold and worse on the others: within the noise, the smoother.
    flat = {0.01: [0.40, 0.47, 0.44], 0.1: [0.44, 0.46, 0.44], 1.0: [0.42, 0.45, 0.43]}
    assert one_standard_error_c(flat) == 0.01
    steep = {0.01: [0.60, 0.61, 0.62], 0.1: [0.40, 0.41, 0.40], 1.0: [0.42, 0.43, 0.42]}
    assert one_standard_error_c(steep) == 0.1
    # Worse than the best on every fold, by a margin the folds agree on: not within the
    # noise, however much the folds differ from each other.
    spread = {0.03: [0.30, 0.36, 0.40], 0.1: [0.28, 0.34, 0.38], 0.3: [0.28, 0.34, 0.379]}
    assert one_standard_error_c(spread) == 0.1


@pytest.mark.parametrize(
    ("module", "path", "features"),
    [
        (answer_rank, answer_rank.RANKER_FILE, answer_rank.FEATURES),
        (answerability, answerability.ANSWERABILITY_FILE, answerability.FEATURES),
    ],
)
def test_shipped_models_match_the_code(
    module: object, path: Path, features: tuple[str, ...]
) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    model = LinearModel.from_json(data, features)
    assert len(model.coef) == len(features) and np.all(np.isfinite(model.coef))
    assert model.to_json()["features"] == list(features)
    if path == answerability.ANSWERABILITY_FILE:
        assert 0.0 < model.extra["refuse"] <= model.extra["answer"] < 1.0


def test_boilerplate_never_leads_even_as_the_lead_s_neighbour() -> None:
    """A run of sentences joined as the lead does not open with words other reports repeat;
    a neighbour that is not boilerplate still joins."""
    from qa_service.answer.rank import FEATURES, Candidate, compose
    from qa_service.answer.units import Unit

    def cand(start: int, sentence: int, plate: bool) -> Candidate:
        features = np.zeros(len(FEATURES), dtype=np.float32)
        vector = np.eye(4, dtype=np.float32)[sentence]
        unit = Unit(start, start + 10, (sentence,), "prose")
        return Candidate(0, unit, f"sentence {sentence}.", features, vector, "d", None, plate)

    lead, before = cand(11, 1, False), cand(0, 0, True)
    chosen = compose([(lead, 0.9), (before, 0.8)])
    assert chosen[0][0].text == "sentence 1."
    before = cand(0, 0, False)
    chosen = compose([(lead, 0.9), (before, 0.8)])
    assert chosen[0][0].text == "sentence 0. sentence 1."


def test_boilerplate_is_what_reports_repeat_about_the_inspection_itself() -> None:
    from qa_service.answer.boilerplate import about_inspection

    assert about_inspection(
        "In April 2019, HMICFRS inspected how well Kent Police keeps children safe."
    )
    assert about_inspection("In September 2019, we published our findings.")
    assert about_inspection("Since then, we have continued to check its improvement work.")
    assert about_inspection("The review included:")
    # A finding two reports share word for word is a finding about the force.
    assert not about_inspection(
        "Custody officers know they must look for somewhere for a child to stay when they "
        "have been charged with an offence and refused bail."
    )
    assert not about_inspection("We saw that responding officers understood the use of the power.")


def test_a_thing_said_twice_is_shown_once_and_the_closer_wording_leads() -> None:
    """A report that repeats a sentence (its summary, then its body) gives one answer
    sentence; of the two, the one holding more of the question's words leads."""
    from qa_service.answer.rank import FEATURES, Candidate, compose
    from qa_service.answer.units import Unit

    def cand(hit: int, text: str, cover: float, axis: int) -> Candidate:
        features = np.zeros(len(FEATURES), dtype=np.float32)
        features[FEATURES.index("word_cover")] = cover
        vector = np.eye(4, dtype=np.float32)[axis]  # unlike vectors: only the words match
        return Candidate(hit, Unit(0, len(text), (0,), "prose"), text, features, vector, "d", None)

    once = "Moving children to other accommodation overnight is still a problem for the force."
    again = (
        "Moving children to other accommodation overnight is also still a problem for the force."
    )
    other = "Custody staff now record why each child was detained after charge."
    ranked = [
        (cand(0, once, 0.9, 0), 0.8),
        (cand(1, again, 1.0, 1), 0.7),
        (cand(2, other, 0.3, 2), 0.5),
    ]
    chosen = [c.text for c, _ in compose(ranked)]
    assert chosen == [again, other]


@pytest.mark.slow
def test_first_answer_sentence_is_never_a_heading_footnote_or_boilerplate(retriever) -> None:  # type: ignore[no-untyped-def]
    """Every test-split question through the chat answer: the first sentence is prose, and
    no sentence is repeated inside another."""
    questions = load_questions(ROOT / "eval" / "questions.jsonl", "test")
    flags = retriever.answers.boilerplate()
    plate = {
        " ".join(retriever.index.chunks[int(o)].text[a:b].split())
        for i, (o, (a, b)) in enumerate(
            zip(retriever.index.sentences.owner, retriever.index.sentences.spans, strict=True)
        )
        if flags[i]
    }
    bad = []
    answered = 0
    for q in questions:
        reply = answer(retriever, q.turns())  # a follow-up: the conversation it ends
        if not reply.sentences:
            assert reply.result.state == "not_answered" or not reply.result.hits, q.id
            continue
        answered += 1
        first = reply.sentences[0]
        hit = reply.result.hits[first.citation - 1]
        a, b = sentence_spans(first.text)[0]  # a run of sentences: its opening one
        role = sentence_role(first.text[a:b], hit.chunk.section)
        leads_list = re.match(r"[^.!?]{0,300}:\s+[-•*]", first.text) is not None
        opening = " ".join(first.text[a:b].split())
        if (role not in ("prose", "leadin") and not leads_list) or opening in plate:
            bad.append((q.id, role, first.text[:80]))
        assert first.text in " ".join(hit.chunk.text.split()), q.id  # the report's own words
        # no answer says the same words twice (a sentence inside another one shown)
        texts = [s.text for s in reply.sentences]
        for i, t in enumerate(texts):
            assert not any(t in o for j, o in enumerate(texts) if j != i), (q.id, t[:80])
    assert answered > len(questions) // 2
    assert not bad, "\n".join(map(str, bad))


@pytest.mark.slow
def test_a_filter_that_leaves_nothing_says_which(retriever) -> None:  # type: ignore[no-untyped-def]
    from qa_service.search.types import Filters

    res = retriever.search("missing children", filters=Filters(year_from=2090))
    assert res.state == "not_answered" and not res.hits
    assert "years 2090" in (res.message or "")
    both = Filters(forces=("Kent Police",), year_from=2017, year_to=2018)
    res = retriever.search("missing children", filters=both)
    assert "force Kent Police with years 2017-2018" in (res.message or "")


@pytest.mark.slow
def test_a_follow_up_is_refused_on_its_own_merits(retriever) -> None:  # type: ignore[no-untyped-def]
    first = answer(retriever, [Turn("user", "how does Kent handle missing children?")])
    assert first.result.state != "not_answered" and first.sentences
    turns = [
        Turn("user", "how does Kent handle missing children?"),
        Turn("assistant", first.answer),
        Turn("user", "and Essex?"),
    ]
    reply = answer(retriever, turns)
    assert reply.result.state == "not_answered" and not reply.sentences
    assert "Essex" in (reply.result.message or "")


@pytest.mark.slow
def test_the_issue_s_cells_question_and_its_follow_up(retriever) -> None:  # type: ignore[no-untyped-def]
    """Staff's example: the answer opens with what the review found on children kept in
    custody overnight, and "and Leicestershire?" answers from Leicestershire's report
    without taking "leave" (how the question is put) for a topic the reports lack."""
    turns = [Turn("user", "do Lincs still leave kids in the cells overnight?")]
    first = answer(retriever, turns)
    assert first.result.state != "not_answered"
    assert "somewhere for a child to stay" in first.sentences[0].text
    turns += [Turn("assistant", first.answer), Turn("user", "and Leicestershire?")]
    reply = answer(retriever, turns)
    assert reply.result.state != "not_answered"
    cited = reply.result.hits[reply.sentences[0].citation - 1]
    assert cited.chunk.doc_id.startswith("leicestershire")
    assert "overnight" in reply.sentences[0].text
    assert "leave" not in (reply.result.missing or "")
