"""What a question asks for: a number or a date, a count of something, and, where it tells a
case first, the ask that follows (pure functions over the question's and a sentence's words).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence

from ..ingest.sentences import sentence_spans
from ..ingest.textnorm import remove_footnote_marks

ASKS_QUANTITY = re.compile(
    # "how much effort / progress ..." asks how far, not for a figure
    r"\b(how many|how much(?!\s+(?:effort|progress|attention|difference|priority|improvement|"
    r"better|worse|support|notice|emphasis|focus|thought|trust|confidence|interest|care|say|"
    r"control|input|influence|help)\b)|"
    r"what (?:percentage|proportion|number|share|figure|rate|grade)|"
    r"number of|percent(?:age)?|per cent|what share|how big|how large)\b|%"
    # "what was Kent's completion rate?", "what is the average caseload?"
    r"|^\W*what(?:'s|’s|\s+is|\s+was|\s+were|\s+are)\s[^?]*?\b(?:rate|ratio|average|"
    r"percentage|proportion|cost|budget|price|salary|total)\b",
    re.IGNORECASE,
)
# A question opening with "when" asks a date unless a subject follows it: "When kids come back
# from going missing, does anyone ...?" sets a condition and asks something else. "When do /
# does / should ..." asks at what point or in what case ("when do AAs get called, on arrival
# or for interview?"), which a report says in words, not a date.
ASKS_DATE = re.compile(
    r"^\W*(?:(?:and|so|but|ok)\W+)?when(?:'s|’s)?\b(?!\s+(?:a|an|the|you|we|they|i|he|she|it|"
    r"kids?|children|child|officers?|someone|somebody|anyone|people|staff|police|there|this|that|"
    r"these|those|my|our|your|their|his|her|do|does|should|would|can|could|must)\b)"
    r"|\b(when (?:was|were|did|is|will|exactly)|"
    r"what (?:date|year|month)|which (?:year|month|date)|how long|how soon|since when)\b",
    re.IGNORECASE,
)
_QUANTITY = re.compile(
    r"\b(?!(?:19|20)\d\d\b)\d[\d,.]*\b|\b(?:two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|half|a third|a quarter|per cent|"
    r"percent|majority|minority|none of|all of)\b|%",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(?:19|20)\d\d\b|\b(?:january|february|march|april|may|june|july|august|september|"
    r"october|november|december|weeks?|months?|years?|days?|hours?)\b",
    re.IGNORECASE,
)
WORD = re.compile(r"[a-z0-9][a-z0-9’'-]*")  # one word, as these functions read text
_COUNTED = re.compile(
    r"\b(?:how many|number of|how much|what (?:percentage|proportion|share) of)\s+([^?.,;]+)",
    re.IGNORECASE,
)
_TIME_UNIT = re.compile(r"(?:second|minute|hour|day|week|fortnight|month|year)s?")
# Where the thing counted ends: a verb or preposition after its words.
_COUNT_STOP = frozenset(
    "did do does were was are is has have had in at on for from by under with across there "
    "got get gets been being will would can could of that who which per each a an the".split()
)
# Where a question sets a scene and then asks ("mum rang 999 after a domestic – did anyone talk
# to the child?"): a dash between clauses, or a comma before a clause that asks.
_ASK_DASH = re.compile(r"\s[–—-]+\s|:\s")
_ASKING_START = re.compile(
    r"^\W*(?:do|does|did|is|are|was|were|has|have|had|can|could|will|would|who|what\S*|when|"
    r"where|why|how|which)\b",
    re.IGNORECASE,
)
_ASK_COMMA = re.compile(
    r",\s+(?=(?:and\s+)?(?:do|does|did|is|are|was|were|has|have|had|can|could|will|would|"
    r"who|what|when|where|why|how|which)\b)",
    re.IGNORECASE,
)


# A question asking who someone is by name ("what's the name of the DI who runs ...?", "who is
# Kent's chief constable?"), and a sentence that names a person: a title or rank before a
# capitalised name.
_ROLES = (
    r"(?:chief constable|deputy chief constable|assistant chief constable|chief officer|"
    r"police and crime commissioner|pcc|commissioner|superintendent|chief inspector|inspector|"
    r"sergeant|dci|di|ds|acc|dcc|supt|head|director|lead|manager|chair|minister|home secretary)"
)
# Roles one person holds for a whole force or country: "who is the chief constable?" asks for a
# name, where "who is the lead for missing children?" may be answered by a rank or a team.
_OFFICES = (
    r"(?:chief constable|deputy chief constable|police and crime commissioner|pcc|"
    r"commissioner|home secretary|minister)"
)
ASKS_PERSON_NAME = re.compile(
    rf"\bnames? of (?:the |their |its |[\w-]+(?:'s|’s) )?(?:[\w-]+ ){{0,2}}?{_ROLES}\b"
    rf"|^\W*who(?:'s|’s| is| was)\s+(?:the |their |its |[\w-]+(?:'s|’s) )?"
    rf"(?:[\w-]+ ){{0,2}}?{_OFFICES}\b",
    re.IGNORECASE,
)
_PERSON_NAME = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Dr|Sir|Dame|Lord|Lady|Chief Constable|Commissioner|Superintendent|"
    r"Chief Inspector|Inspector|Sergeant|Detective|DCI|DI|DS|DC|PC)\.?\s+[A-Z][a-z’'-]+"
)


# "Who chairs / leads / decides ...?" asks who does something: an answer says that something
# (or its like: "who runs it?" is answered by who leads or manages it), whoever it names.
_WHO_DOES = (
    (r"chairs?|chaired", r"chair\w*"),
    (
        r"leads?|runs?|heads?|manages?|oversees?|(?:is|are) in charge",
        r"lead\w*|led|run\w*|head\w*|manag\w*|overs\w*|in charge|responsib\w*|command\w*",
    ),
    (
        r"decides?|signs? off|authori[sz]es?|approves?",
        r"decid\w*|decision\w*|sign\w*|authori[sz]\w*|approv\w*|agree\w*",
    ),
)
_ASKS_WHO = [
    (
        re.compile(rf"\bwho(?:'s|’s)?\s+(?:{asked})\b", re.IGNORECASE),
        re.compile(rf"\b(?:{said})\b", re.I),
    )
    for asked, said in _WHO_DOES
]


def says_who_does(question: str, text: str) -> bool:
    """Whether ``text`` speaks of what a "who chairs / leads / decides ...?" question asks who
    does (True for any other question)."""
    return all(said.search(text) for asked, said in _ASKS_WHO if asked.search(question))


def asks_person_name(question: str) -> bool:
    """Whether the question asks for a person by name (a named role: "the DI", "the PCC")."""
    return ASKS_PERSON_NAME.search(question) is not None


def gives_person_name(text: str) -> bool:
    """Whether ``text`` names a person (a title or rank before a capitalised name)."""
    return _PERSON_NAME.search(text) is not None


# A question asking what a term means: "what does PVPU stand for?", "what's a MARAC?", "meaning
# of CAWN". The term is a short run of words with no question clause after it.
_DEFINE = (
    re.compile(
        r"^\W*what\s+(?:does|do|did)\s+(?:an?\s+|the\s+)?(?P<t>[^?]{1,40}?)\s+"
        r"(?:stand|stands)\s+for\b|^\W*what\s+(?:does|do|did)\s+(?:an?\s+|the\s+)?"
        r"(?P<u>[^?]{1,40}?)\s+mean\b",
        re.IGNORECASE,
    ),
    re.compile(
        r"^\W*(?:what(?:'s|’s|\s+is|\s+are)|whats)\s+(?:an?\s+|the\s+)?(?P<t>[^?,;]{1,40}?)"
        r"(?:\s+short\s+for)?\s*\??\s*$",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:meaning|definition)\s+of\s+(?:an?\s+|the\s+)?(?P<t>[^?,;]{1,40}?)\s*\??\s*$"
        r"|^\W*(?P<u>[^?,;\s]{2,12})\s+(?:stands\s+for|means)\s*\??\s*$",
        re.IGNORECASE,
    ),
)


def defined_term(question: str) -> str | None:
    """The term a question asks the meaning of ("what does PVPU stand for?" -> "PVPU"), or
    None when it asks something else."""
    for pattern in _DEFINE:
        m = pattern.search(question.strip())
        if m is not None:
            term = next(g for g in m.groups() if g)
            if 1 <= len(WORD.findall(term.lower())) <= 5:
                return term.strip()
    return None


# A "why" question takes what it says as given ("why did the caseload go up?", "why has Kent
# stopped ...?": ``changes.presumed_changes``).
WHY = re.compile(r"\b(?:why|how come|what (?:caused|led to|made))\b", re.IGNORECASE)
# Any other question that asks about a change takes it as given too ("what's happened since
# Leics scrapped the triage sergeant?", "what impact did the rise in overdue visits have?",
# "Kent scrapped bodycams – how do they ...?"), but one that asks whether it happened ("has
# Kent closed its CRU?", "did lincs stop ...?") does not.
_YES_NO = re.compile(
    r"^\W*(?:(?:and|so|but|ok|also)\W+)?(?:do|does|did|is|are|was|were|has|have|had|can|could|"
    r"will|would|should|may|might|must)(?:n['’]?t)?\b",
    re.IGNORECASE,
)
GIVEN = r"given (?:that|how)|seeing (?:as|that)|considering|since|now that"
_WH = re.compile(
    rf"\b(?:what|why|how|who|where|which|whose|{GIVEN}|following|"
    r"when (?:did|was|were|has|have|had|is|are|will))\b",  # not "when X happens, do ...?"
    re.IGNORECASE,
)


def split_sentences(text: str) -> list[str]:
    """An answer's text as its sentences, split as the reports are (``sentence_spans``)."""
    return [text[a:b] for a, b in sentence_spans(text)] or [text.strip()]


def presupposes(question: str) -> bool:
    """Whether the question takes what it says as given: a "why" question, or any other
    that asks what, how, who ... rather than whether (``_YES_NO``)."""
    if WHY.search(question) is not None:
        return True
    return _YES_NO.search(question) is None and _WH.search(question) is not None


# "when X happens, does anyone ...?": a "when" clause that a question after a comma or dash
# follows sets a condition; the question asks what follows it, not a date.
_WHEN_CONDITION = re.compile(
    r"^\W*when\b[^?,–—]*?(?:,|\s[-–—])\s*(?:and\s+)?(?:do|does|did|is|are|was|were|has|have|will|"
    r"would|can|could|should|who|what|how|why|where|which)\b"
    # without the comma: "when Lincs take a kid into police protection do we tell social care?"
    r"|^\W*when\s+(?!(?:do|does|did|is|are|was|were|has|have|had|will|exactly)\b)[^?]*?\s"
    r"(?:do|does|did|is|are|was|were|will|can|could|should|would)\s+(?:we|they|you|i|officers?|"
    r"staff|anyone|someone|somebody|police|custody|social|the|their|our)\b",
    re.IGNORECASE,
)


def _asks_date(question: str) -> bool:
    return ASKS_DATE.search(question) is not None and _WHEN_CONDITION.search(question) is None


def asks_number(question: str) -> bool:
    """Whether the question asks for a number, share, date or grade."""
    return ASKS_QUANTITY.search(question) is not None or _asks_date(question)


# "how long / often / soon ...": the word after "how" says what kind of answer is asked for, not
# what it is about; a report answering "how long can cases drift?" need not say "long" ("much"
# and "many" are asking words anyway: answerability.ASKING_WORDS).
_HOW_KIND = re.compile(r"\bhow\s+(long|often|soon|quickly|fast|far|old|big|large)\b", re.IGNORECASE)


def how_words(question: str) -> list[str]:
    """The words after "how" that ask for a kind of answer ("how long" -> ["long"])."""
    return [m.group(1).lower() for m in _HOW_KIND.finditer(question)]


def gives_number(question: str, text: str) -> bool:
    """Whether ``text`` gives the kind of number the question asks for (a quantity for
    "how many", a date or duration for "when"). A figure the question states itself is not
    one it asks for: "Future 4 Me workers" or "section 47 enquiries" in the text give no
    count for "how many Future 4 Me workers ...?"; nor is a footnote marker."""
    stated = _stated_figures(question)
    text = remove_footnote_marks(text)  # "when completed[3]" gives no figure
    quantity = any(m.group(0).lower() not in stated for m in _QUANTITY.finditer(text))
    if ASKS_QUANTITY.search(question) and quantity:
        return True
    return bool(_asks_date(question) and (_DATE.search(text) or quantity))


@functools.lru_cache(maxsize=256)
def _stated_figures(question: str) -> frozenset[str]:
    """The figures a question states itself (read once per question, not per candidate)."""
    return frozenset(m.group(0).lower() for m in _QUANTITY.finditer(question))


def split_ask(question: str) -> tuple[str, str]:
    """The scene a question sets and what it then asks: ``("", question)`` when it only asks.

    The ask is the clause after the last dash, colon or comma that opens a question clause,
    when at least three words follow it and the words before it do not ask themselves (a
    question in two parts, "how many ..., and how were they graded?", has no scene).
    """
    cut = None
    for pattern in (_ASK_DASH, _ASK_COMMA):
        for m in pattern.finditer(question):
            if _ASKING_START.match(question[: m.start()]):
                continue
            if len(WORD.findall(question[m.end() :].lower())) >= 3:
                cut = m if cut is None or m.start() > cut.start() else cut
    if cut is None:
        return "", question
    return question[: cut.start()].strip(), question[cut.end() :].strip()


def counted_words(question: str) -> list[str]:
    """The words naming what a "how many" question counts ("how many registered sex offenders
    are there?" -> registered, sex, offenders); empty when it asks no count."""
    m = _COUNTED.search(question)
    if m is None or WHY.search(question) is not None:  # "why has the number of ... fallen?"
        return []
    out: list[str] = []
    for w in WORD.findall(m.group(1).lower()):
        if w in _COUNT_STOP:
            break
        out.append(w)
    return out[:3]


# A share asked for ("what percentage of Lancs RSOs are high risk?", "what proportion ...")
# and the ways a report gives one: a percentage, a fraction, or so many of so many.
_ASKS_SHARE = re.compile(
    r"\b(?:what|which|how (?:big|large|high|low)(?: a)?)\s+(?:percentage|proportion|share|"
    r"fraction|per\s?cent|%)|\bhow many per\s?cent\b",
    re.IGNORECASE,
)
# An average asked for ("what's the average response time ...?", "how long on average ...?")
# and the words a report gives one in: one case's figure ("within ten minutes") is none.
_ASKS_AVERAGE = re.compile(r"\b(?:average|mean|median|typical(?:ly)?)\b", re.IGNORECASE)
_GIVES_AVERAGE = re.compile(
    r"\b(?:average\w*|mean|median|typical(?:ly)?|usually|generally|normally|per|each|every)\b",
    re.IGNORECASE,
)
_GIVES_SHARE = re.compile(
    r"\d+(?:\.\d+)?\s*(?:%|per\s?cent)|\b(?:half|halves|third|thirds|quarters?|fifths?|"
    r"tenths?)\b|\b(?:\d[\d,]*|one|two|three|four|five|six|seven|eight|nine|ten)\s+(?:\w+\s+)?"
    r"(?:of|out of|in)\s+(?:the\s+|these\s+|those\s+)?(?:\d[\d,]*|every)\b",
    re.IGNORECASE,
)


def gives_count_of(
    question: str,
    text: str,
    terms_of: Callable[[str], list[str]],
    synonyms: Callable[[str], Sequence[str]] = lambda _: (),
) -> bool:
    """Whether ``text`` gives a figure for what the question counts: a number shortly before
    the counted thing's head word ("165 overdue visits" does not count offenders; "2,742
    registered sex offenders" does) or just after it ("offenders: 2,742"). ``synonyms`` gives
    the reports' words for an everyday word ("kids" -> children). A share or an average asked
    for must be given as one. True when the question counts nothing in particular."""
    if _ASKS_SHARE.search(question) and not _GIVES_SHARE.search(text):
        return False  # a share asked for: "an average of 68 offenders" gives none
    if _ASKS_AVERAGE.search(question) and not _GIVES_AVERAGE.search(text):
        return False  # an average asked for: one case's "within ten minutes" gives none
    counted = counted_words(question)
    if not counted:
        return True
    head = counted[-1]
    heads = {t for w in (head, *synonyms(head)) for t in terms_of(w)}
    if not heads:
        return True
    words = WORD.findall(text.lower())
    # A figure followed by a unit of time ("within three months") is a duration, not a count
    # of anything else.
    counts_time = _TIME_UNIT.fullmatch(head) is not None
    stated = _stated_figures(question)  # "under section 46": no count of anything
    numbers = [
        i
        for i, w in enumerate(words)
        if _QUANTITY.fullmatch(w)
        and w not in stated
        and (counts_time or i + 1 == len(words) or not _TIME_UNIT.fullmatch(words[i + 1]))
    ]
    named = [i for i, w in enumerate(words) if any(t in heads for t in terms_of(w))]
    before = len(counted) + 2
    return any(0 < j - i <= before or 0 < i - j <= 3 for i in numbers for j in named)


def content_words(text: str, stop: Callable[[str], bool]) -> set[str]:
    """Lower-case words of ``text`` that are not stop words."""
    return {w for w in WORD.findall(text.lower()) if not stop(w)}


# Where a question asks a second thing: "..., and how many ...?", "... and who signs it off",
# "what's Signal? is that the rape team?".
_SECOND_ASK = re.compile(
    r"(?:,\s*|\s+)(?:and|&)\s+(?=(?:how|what|when|who|which|where|why|is|are|was|were|did|do|"
    r"does|has|have|had|can|could)\b)|\?\s+(?=\S)",
    re.IGNORECASE,
)


def question_parts(question: str) -> list[str]:
    """The things a question asks, in order (one part for most questions)."""
    return [p.strip() for p in _SECOND_ASK.split(question) if p.strip()]
