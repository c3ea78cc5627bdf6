"""What a question names that the answer's lead swaps for another of its kind.

A finding's wording with one entity changed ("were kids waiting ages for *interpreters*?" where
the report found delays for appropriate adults; "the *16*-year-old girl" where it speaks of a
15-year-old; "*adult* detentions" where it counts children's) retrieves the finding itself, and
every other word of the question matches it: the answer scores as well as a true one. What
gives it away is a comparison of like with like: the question names one member of a kind (an
age, an age group, an agency or role, or a police rank or how often it happens, which the
question takes as given: "why does the FCR *sergeant* decide?", "why are the meetings
*daily*?") and the lead names another member of that kind and not the one asked about. A
name the reports never use at all ("on duty in *Boston*") is the same sign with the other
member unknown. Two more ways an answer can speak of something else than what was asked: a
post-inspection review asked of a force the index holds only an inspection of
(``review_missing``), and one part of a two-part question that no sentence shown speaks to
(``unanswered_part``). And a premise that something holds every time, of every one or in
full ("why have *all* its officers been accredited?", "*fully* staffed") that the lead does not
bear out (``universal_unsaid``), or praise (or fault) taken as given where the lead finds fault
(or praises: "what made the briefing such a *success*?" where it "hasn't been successful":
``praise_unsaid``), or a percentage taken as given that no passage gives (``share_unsaid``),
or a force's rank among forces ("the best force") that the lead compares with none
(``ranking_unsaid``).
Each gives what a partial answer says the reports lack. Pure functions over the question's and
the answer's text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from .asking import presupposes, question_parts, split_sentences

_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_AGE_NUMBER = rf"(\d{{1,2}}|{'|'.join(_NUMBER_WORDS)})"
# "16 yr old", "15-year-old", "a 14 years old", "aged 12", "13yo"
_AGE = re.compile(
    rf"\b{_AGE_NUMBER}\s*-?\s*(?:yrs?|years?)\s*-?\s*olds?\b|\baged\s+{_AGE_NUMBER}\b"
    r"|\b(\d{1,2})\s*yos?\b",
    re.IGNORECASE,
)

# Kinds of entity a question may swap, each member with the ways questions and reports say
# it. Phrases that hold another member's word ("appropriate adult" holds "adult") are matched
# first and masked, so "adult" is not read inside them.
KINDS: dict[str, dict[str, str]] = {
    "agency": {
        "appropriate adults": r"appropriate\s+adults?|aas?",
        "interpreters": r"interpret(?:er|ers|ing)|translat(?:or|ors|ion)",
        "health professionals": (
            r"health\s*care\s+professionals?|hcps?|health\s+professionals?|nurses?|doctors?|"
            r"paramedics?|forensic (?:medical )?examiners?|health visitors?|clinicians?|"
            r"medical staff"
        ),
        "solicitors": r"solicitors?|lawyers?|legal (?:advice|advisers?|representatives?)",
        "teachers": r"teachers?|head\s?teachers?|schools?",
        "probation": r"probation(?: service| officers?)?",
        "prosecutors": r"crown prosecution service|cps|prosecutors?",
    },
    "age group": {
        "adults": r"adults?(?!\s+social\s+care|\s+services)",
        "children": (
            r"child(?:ren)?|kids?|young (?:person|people)|juveniles?|teen(?:ager)?s?|minors?|"
            r"under[- ]?18s?|youths?|girls?|boys?|bab(?:y|ies)|infants?|toddlers?"
        ),
    },
    # How often something happens ("why do lincs MACE meetings happen *daily*?" where they
    # are held weekly).
    "frequency": {
        "it happening daily": r"daily|every day|each day",
        "it happening weekly": r"weekly|every week|each week",
        "it happening fortnightly": r"fortnightly|every (?:two|2) weeks|every fortnight",
        "it happening monthly": r"monthly|every month|each month",
        "it happening quarterly": r"quarterly|every (?:three|3) months|each quarter",
        "it happening yearly": r"yearly|annual(?:ly)?|every year|each year",
    },
    # A police rank. "Inspectors" alone is how people speak of the inspectorate ("what did
    # the inspectors find?"): the rank is an inspector with a post or an article before it
    # ("the duty inspector", "an inspector"). A chief constable is no constable, nor a chief
    # inspector an inspector. Short forms are matched in capitals only ("DS", not "ds").
    "rank": {
        "constables": r"(?<!chief )(?:police |detective )?constables?|(?-i:PCs?|DCs?)",
        "sergeants": (
            r"(?:detective |custody |triage |acting[- ])?sergeants?|sarges?|sgts?|skippers?|"
            r"(?-i:DSs?)"
        ),
        "inspectors": (
            r"(?:duty|custody|fcr|detective|police|uniformed|response|patrol|an|a|the)\s+"
            r"inspector(?!s)|(?:duty|custody|fcr|detective|police|uniformed|response|patrol)"
            r"\s+inspectors|(?-i:DIs?)"
        ),
        "chief inspectors": r"chief inspectors?|(?-i:DCIs?)",
        "superintendents": r"(?:chief )?superintendents?|(?-i:DSUs?|DCSs?)",
        "chief officers": (
            r"(?:assistant |deputy )?chief constables?|chief officers?|command team|"
            r"(?-i:ACCs?|DCCs?)"
        ),
    },
    # How much of something there is: "why did the lincs diary system have *too much*
    # oversight?" where it had insufficient oversight.
    "degree": {
        "there being too much": r"too much|too many|excessive(?:ly)?",
        "there being too little": (
            r"insufficient(?:ly)?|too little|too few|not enough|lack(?:s|ed|ing)? of"
        ),
        "there being more": r"(?<!any )(?<!no )more(?! than)",
        "there being less": r"less|fewer",
        # "why did lincs take no further action *too late*?" where decisions were made too soon
        "it being too late": r"too late|belated(?:ly)?",
        "it being too soon": r"too (?:soon|early)|prematurely?",
    },
}
# Kinds a question must take as given to be swapped ("why does the FCR *sergeant* decide
# ...?"): asked whether ("can a sergeant downgrade it?", "are MACE meetings daily?"), a
# sentence naming the rank that can ("only on the authorisation of an inspector") or how often
# ("held weekly") answers it, and a rank may be the asker's own ("custody sarge here, do I
# have to tell anyone?").
PRESUMED_ONLY = frozenset({"rank", "frequency", "degree"})
_MEMBERS = {
    kind: {name: re.compile(rf"\b(?:{p})\b", re.IGNORECASE) for name, p in members.items()}
    for kind, members in KINDS.items()
}
# Members that do not count as swapped when asked about. The reports are about children: a
# question about a child ("does the DA risk form ask for the kid's school?") is often answered
# by a sentence about the adults around them (the victim, the suspect), where a question
# about adults answered by a sentence about children is about someone else.
NEVER_SWAPPED = frozenset({"children"})
# Every phrase masked before the age groups are read: an agency's words.
_AGENCY_WORDS = re.compile(
    "|".join(rf"\b(?:{p})\b" for p in KINDS["agency"].values()), re.IGNORECASE
)


def age_phrases(text: str) -> list[str]:
    """The phrases that state an age in ``text``, as written ("12 year olds")."""
    return [m.group() for m in _AGE.finditer(text)]


def ages(text: str) -> set[str]:
    """The ages ``text`` states, as digits ("a 15-year-old girl" -> {"15"})."""
    out = set()
    for m in _AGE.finditer(text):
        value = next(g for g in m.groups() if g).lower()
        out.add(str(_NUMBER_WORDS.index(value) + 1) if value in _NUMBER_WORDS else value)
    return out


def _named(kind: str, text: str) -> set[str]:
    """The members of ``kind`` that ``text`` names."""
    if kind != "agency":
        text = _AGENCY_WORDS.sub(" ", text)
    return {name for name, pattern in _MEMBERS[kind].items() if pattern.search(text)}


def swapped(question: str, lead: str, passage: str = "") -> list[str]:
    """What the question names that the lead swaps for another of its kind: an age the lead
    (or, when it states none, its ``passage``: the case it tells) gives as another age, or
    the one agency, age group, rank or frequency (these two, ``PRESUMED_ONLY``, only taken
    as given) the question names where the lead names another and not it (``NEVER_SWAPPED``
    aside)."""
    out: list[str] = []
    asked_ages, lead_ages = ages(question), ages(lead) or ages(passage)
    if asked_ages and lead_ages and not asked_ages & lead_ages:
        out.extend(f"a {a}-year-old" for a in sorted(asked_ages))
    for kind in KINDS:
        if kind in PRESUMED_ONLY and not presupposes(question):
            continue
        asked = _named(kind, question)
        if len(asked) != 1 or asked <= NEVER_SWAPPED:
            continue
        if (in_lead := _named(kind, lead)) and not asked <= in_lead:
            out.extend(asked)
    return out


def swap_missing(
    question: str, lead: str, passages: Sequence[str], lead_passage: str = ""
) -> str | None:
    """What a partial answer says the reports lack when the lead swaps what was asked (None
    when it does not): "anything on" it when no returned passage names it either, else "an
    answer about" it (the reports name it, but not in a sentence that answers)."""
    names = swapped(question, lead, lead_passage)
    if not names:
        return None
    held = " ".join(passages)
    if any(n in _named(k, held) for k in KINDS for n in names) or any(
        a in ages(held) for a in ages(question)
    ):
        return f"an answer about {', '.join(names)}"
    return f"anything on {', '.join(names)}"


def unknown_names(words: Iterable[str]) -> list[str]:
    """The proper names among a question's words the reports never use (``words`` as
    ``missing.original_words`` gives them: a capitalised word is kept as written). An acronym
    is left out: staff short forms ("OIC", "HCP") are words the reports spell out."""
    return [w for w in words if len(w) > 2 and w[:1].isupper() and w[1:].islower()]


# A question about a force's post-inspection review ("its 2018 post-inspection review", "when
# HMICFRS revisited Lancashire", "the lancs follow-up"): past reviews, not a revisit to come.
_ASKS_REVIEW = re.compile(
    r"post[- ]?inspection\s+review|\bPIR\b|\brevisited\b|\b(?:the|its|their|\d{4})\s+revisit\b|"
    r"\bfollow[- ]?up\s+(?:review|inspection|visit)|\bre-?inspection\b",
    re.IGNORECASE,
)


def review_missing(question: str, types_by_force: dict[str, set[str]]) -> str | None:
    """What the reports lack when the question asks about a post-inspection review of forces
    (``types_by_force``: each asked force's report types) none of whose reports is one: "a
    post-inspection review of Lancashire Constabulary" (None otherwise)."""
    if not types_by_force or _ASKS_REVIEW.search(question) is None:
        return None
    lacking = [f for f, types in types_by_force.items() if not any("review" in t for t in types)]
    if len(lacking) != len(types_by_force):
        return None  # one asked force has a review: the question may be about it
    return f"a post-inspection review of {' or '.join(sorted(lacking))}"


def unanswered_part(
    question: str,
    shown: Sequence[str],
    terms_of: Callable[[str], list[str]],
    wanted: set[str],
) -> str | None:
    """What the reports lack when a question asks two things ("how many are high risk, and
    how many of them reoffended?") and no ``shown`` sentence holds any of one part's terms
    (those in ``wanted``: the question's, less asking words and translated ones): "an answer
    to “how many of them reoffended”", the part in the question's words."""
    parts = question_parts(question)
    if len(parts) < 2 or not shown:
        return None
    held = set().union(*(terms_of(text) for text in shown))
    for part in parts:
        own = {t for t in terms_of(part) if t in wanted}
        if own and not own & held:
            return f"an answer to “{part.rstrip(' ?')}”"
    return None


# A question that takes it as given that something holds of every case ("why have *all* of
# Lancashire's officers been accredited?", "how do Kent's officers *always* manage to ...?")
# where the lead says no such thing: it says how many, or some, or speaks of something else.
# Not "not all", "at all", "all about", "each other", nor how often ("every day"). Or that
# it holds in full ("how did Lincs get the PVPU *fully* staffed?").
_UNIVERSAL = re.compile(
    r"(?<!not )(?<!n[’']t )\b(?:all(?! about\b)(?<!\bat all)|every(?!\s+(?:day|week|month|year|"
    r"time|morning|night|weekend)s?\b)(?:one|body)?|always|(?<!how )consistently|fully|completely|"
    r"entirely)\b",
    re.IGNORECASE,
)
_SAYS_ALL = re.compile(
    r"(?<!not )(?<!n[’']t )\b(?:all|every\w*|always|each|consistently|without exception|"
    r"100 percent|routinely|invariably|fully|full|complete(?:ly)?|entirely)\b",
    re.IGNORECASE,
)

# ... and a lead that denies it ("are still not consistently speaking to children") says the
# opposite, whatever else it says of every one ("body-worn video use is consistently high").
_DENIES_ALL = re.compile(
    r"(?:\bnot|n[’']t|\bnever|\byet to)\s+(?:\w+\s+){0,5}?"
    r"(?:all|always|consistently|routinely|every\w*|fully|full|complete(?:ly)?)\b|"
    r"\b(?:inconsistent(?:ly)?|not\s+everyone|partial(?:ly)?)\b",
    re.IGNORECASE,
)

_CONDITION = re.compile(r"\b(?:when|whenever|if|where)\b", re.IGNORECASE)
_NORM = re.compile(r"\b(?:should|must|required?|requires|policy|expect\w*)\b", re.IGNORECASE)


def universal_unsaid(question: str, lead: str) -> str | None:
    """What the reports lack when a question takes as given that something holds every time
    or of every one, and the lead says nothing of the kind (None otherwise)."""
    if not lead or not presupposes(question):
        return None
    claim = _UNIVERSAL.search(question)
    if claim is None or _CONDITION.search(question[: claim.start()]):
        return None  # none, or in the case a question sets ("when every one is graded ...")
    # What every one should do (a policy, a requirement) is not what every one does, nor are
    # the items of a list a requirement leads in ("Guidance should include: - ...").
    found: list[str] = []
    required = False
    for s in split_sentences(lead):
        if required and s.lstrip().startswith(("-", "•", "*")):
            continue
        required = bool(_NORM.search(s)) and s.rstrip().endswith(":")
        if not _NORM.search(s):
            found.append(s)
    if any(_SAYS_ALL.search(s) for s in found) and not any(_DENIES_ALL.search(s) for s in found):
        return None
    word = claim.group(0).lower()
    if word == "always":
        return "anything saying it always happens"
    if word == "consistently":
        return "anything saying it is consistently so"
    if word in ("fully", "completely", "entirely"):
        return f"anything saying it is {word} so"
    return "anything saying it holds for every one"


# A premise of praise ("why did HMICFRS *praise* ...?", "what made ... such a *success*?")
# where the lead's claim, its first sentence, finds fault and the lead praises nothing ("...
# is inconsistent", "hasn't been successful"); or a premise of fault ("why is ... so *poor*?",
# "what went *wrong* with ...?") where the claim praises and neither it nor a sentence that
# turns against it ("However, ...") finds fault ("has improved substantially"). Not "how good /
# how well ...?", which asks how far.
_PRAISE = (
    r"prais\w*|commend\w*|excellent|outstanding|strong|success\w*|effective(?:ly)?|good|great|"
    r"impressive|innovative|best|consistent(?:ly)?|thorough|robust|happy|pleased|impressed|"
    r"satisfied|"
    r"well[- ](?:trained|staffed|resourced|run|managed|led|supervised|equipped|organised)"
)
_FAULT = (
    r"criticis\w*|poor(?:ly)?|bad(?:ly)?|fail\w*|weak\w*|inadequate|worse|worst|wrong|"
    r"problems?|struggl\w*|overloaded|overwhelmed|slow|patchy|inconsistent|ineffective|"
    r"unsuccessful|under-?staffed|short[- ]staffed|under-?resourced|(?:over-?)?stretched"
)
_ASKED_PRAISE = re.compile(rf"(?<!\bhow )\b(?:{_PRAISE})\b", re.IGNORECASE)
_ASKED_FAULT = re.compile(rf"(?<!\bhow )\b(?:{_FAULT})\b", re.IGNORECASE)
# A word of praise denied ("hasn't been successful") or wished for ("is yet to find ways to
# contribute more effectively") is no praise.
_NEGATED = re.compile(
    r"(?:\b(?:not|neither|nor|never|less|no longer|to)|n[’']t)\s+(?:\w+\s+){0,2}$", re.IGNORECASE
)
_SAID_PRAISE = re.compile(
    rf"\b(?:{_PRAISE}|well|improv\w*|better|positive|pleased|timely|promptly|encourag\w*|"
    r"manageable)\b",
    re.IGNORECASE,
)
_SAID_FAULT = re.compile(
    r"\b(?:poor\w*|weak\w*|fail\w*|inadequate|ineffective|inconsisten\w*|unsuccessful|less|"
    r"fewer|few|little|limited|lack\w*|delay\w*|absen\w*|sparse|insufficient\w*|neither|"
    r"concern\w*|worse|unclear|struggl\w*|not|\w+n[’']t|never|too many|too few|backlogs?|"
    r"incorrect\w*|wrong\w*|rarely|seldom|hardly|scant\w*)\b",
    re.IGNORECASE,
)


def _claim(lead: str) -> str:
    """The lead's first sentence: what it claims (a joined sentence after it adds a turn)."""
    return split_sentences(lead)[0]


_TURN = re.compile(r"^(?:however|but|although|though|despite|yet|nevertheless|even so)\b", re.I)


# Words of nearly every finding, and of how sentences are put, which name no topic.
_EVERYWHERE = frozenset(
    "child incid force polic offic cases staff their there which about these those would "
    "could should being where while after still often".split()
)


def _stems(text: str) -> set[str]:
    """A text's longer words, cut to five letters ("episodes" and "episode" alike), less
    those of nearly every finding (``_EVERYWHERE``)."""
    return {w[:5] for w in re.findall(r"[a-z]{4,}", text.lower())} - _EVERYWHERE


def _turns(lead: str, question: str) -> str:
    """The lead's claim and the sentences that turn against it ("However, ...") on what the
    question asks about (a word of it): "However, responders still don't speak to children"
    is no fault in the body-worn video the claim praises."""
    first, *rest = split_sentences(lead)
    asked = _stems(question)
    return " ".join([first, *(s for s in rest if _TURN.match(s) and _stems(s) & asked)])


def _praises(text: str) -> bool:
    return any(
        not _NEGATED.search(text[max(0, m.start() - 40) : m.start()])
        for m in _SAID_PRAISE.finditer(text)
    )


def praise_unsaid(question: str, lead: str) -> str | None:
    """What the reports lack when a question takes praise (or fault) as given and the lead's
    claim finds fault without a word of praise (or praises without a word of fault); a
    denied word of praise, "hasn't been successful", is fault. A lead that only says what
    should be ("a detention certificate is required") bears out neither. None otherwise."""
    if not lead or not presupposes(question):
        return None
    asked = _ASKED_PRAISE.search(question) or _ASKED_FAULT.search(question)
    if asked is not None and all(_NORM.search(s) for s in split_sentences(lead)):
        return f"anything bearing out “{asked.group(0).lower()}”"  # what should be, no verdict
    asked = _ASKED_PRAISE.search(question)
    if asked is not None and _SAID_FAULT.search(_claim(lead)) and not _praises(lead):
        return f"anything bearing out “{asked.group(0).lower()}”"
    asked = _ASKED_FAULT.search(question)
    if (
        asked is not None
        and _praises(_claim(lead))
        and not _SAID_FAULT.search(_turns(lead, question))
    ):
        return f"anything bearing out “{asked.group(0).lower()}”"
    return None


# A share the question states as given ("why were only *10 percent* of officers accredited?").
_SHARE = re.compile(r"\b(\d+(?:\.\d+)?)\s*(?:%|per\s?cent)", re.IGNORECASE)


# A share the question says was reached ("how did lancs get ARMS completion *to 100 percent*?")
_REACHED = re.compile(
    r"\b(?:to|reach(?:ed|ing)?|hit(?:ting)?)\s+(\d+(?:\.\d+)?)\s*(?:%|per\s?cent)", re.IGNORECASE
)


def share_unsaid(question: str, passages: Iterable[str], lead: str = "") -> str | None:
    """What the reports lack when a question takes as given a percentage that no returned
    passage gives as one, or one it says was reached that the ``lead`` does not give (the
    passages may give it of something else); None otherwise."""
    if not presupposes(question) or not (asked := _SHARE.findall(question)):
        return None
    held = {n for text in passages for n in _SHARE.findall(text)}
    reached = set(_REACHED.findall(question)) - set(_SHARE.findall(lead))
    missing = [n for n in asked if n not in held or n in reached]
    return f"anything on {missing[0]} percent" if missing else None


# A premise that ranks the force among forces ("what made Lancs *the best force* for child
# protection?", "why is Kent *top of the table*?"): the reports judge one force at a time, so
# the lead must compare it with others to bear it out.
_RANKED = re.compile(
    r"\b(?:the\s+)?(?:best|worst|top|leading|weakest|strongest)\s+(?:\w+\s+)?(?:force|"
    r"constabulary|police|service)s?\b|\b(?:best|worst|top)\s+in\s+(?:the\s+)?(?:country|uk|"
    r"england|region)\b|\btop\s+of\s+the\s+(?:table|league)\b|\b(?:better|worse)\s+than\s+"
    r"(?:any|every|all|other)\b",
    re.IGNORECASE,
)
_COMPARES = re.compile(
    r"\b(?:best|worst|most|least|better|worse|lowest|highest|fewest|greatest|compared|"
    r"comparison|(?:any|all|other) (?:other )?forces?|average|above|below|than)\b",
    re.IGNORECASE,
)


def ranking_unsaid(question: str, lead: str) -> str | None:
    """What the reports lack when a question takes as given how a force ranks among forces
    and the lead compares it with none; None otherwise."""
    if not lead or not presupposes(question) or _RANKED.search(question) is None:
        return None
    if _COMPARES.search(lead):
        return None
    return "anything comparing the force with other forces"
