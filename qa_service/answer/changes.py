"""Changes and lacks a question takes as given ("why did the caseload go up?", "why is there
no backlog?", "why were the procedures left unchanged?"), and whether the answer's lead says
them (``states_change``, ``says_lack``). The question readings they rest on (what presupposes,
what asks why) are in ``asking``."""

from __future__ import annotations

import re
from collections.abc import Callable

from .asking import GIVEN, WHY, WORD, presupposes, split_sentences

# The words of each kind of change, as questions ask and reports say them.
_CHANGES = {
    "rise": (
        r"ris(?:e|es|en|ing)|rose|increas\w*|gr(?:ow|ew|own|owing|owth)|doubl\w*|soar\w*|"
        r"jump(?:ed|s)?|(?:go|goes|went|gone|going) up|"
        # "why did leics downgrade *more* high risk cases *after* the review?"
        r"(?<!what )(?<!any )(?<!no )(?<!much )more\s+(?:[\w’'-]+\s+){0,4}?"
        r"(?:after|since|now|than before|these days)",
        r"ris(?:e|es|en|ing)|rose|increas\w*|gr(?:ew|own|owing|owth)|doubl\w*|more|higher|"
        r"up|upward",
    ),
    "fall": (
        r"f(?:all|alls|ell|allen|alling)|drop(?:ped|s)?|decreas\w*|reduc\w*|declin\w*|"
        r"halv\w*|plummet\w*|cut|fewer|(?:go|goes|went|gone|going) down",
        r"f(?:all|alls|ell|allen|alling)|drop(?:ped|s)?|decreas\w*|reduc\w*|declin\w*|"
        r"halv\w*|fewer|less|lower|down|cut",
    ),
    "stop": (
        r"stop(?:ped|s|ping)?|scrap(?:ped|s)?|abandon\w*|ceas\w*|withdr\w*|discontinu\w*|"
        r"disband\w*|shut|clos(?:e|ed|ing|ure)|drop(?:ped)?|cut|got rid|get rid|ended(?! up)|"
        r"g(?:ive|ives|ave|iven|iving) up|ax(?:e|ed|es|ing)|ditch(?:ed|es|ing)?|shelv(?:e|ed|ing)|"
        r"wound up|pull(?:ed)? the plug|disappear\w*|vanish\w*|eliminat\w*|wiped out|cleared|"
        r"clear(?:s|ing)?\s+(?:the|its|their|all|up|out|off)|no longer|"
        r"(?:no|not)\s+(?:[\w’']+\s+){0,4}any\s?more",
        r"stop(?:ped|s|ping)?|scrap(?:ped|s)?|abandon\w*|ceas\w*|withdr\w*|discontinu\w*|"
        r"disband\w*|shut|clos(?:e|ed|ing)|no longer|ended|replac\w*|cut|shelved|wound up|"
        r"disappeared|eliminated|cleared|no (?:backlog|delays?|waiting list)",
    ),
    "merge": (
        r"merg(?:e|es|ed|ing)|combin(?:e|es|ed|ing)|amalgamat\w*|centrali[sz]\w*|"
        r"(?:bring|brought|bringing) together",
        r"merg(?:e|es|ed|er|ing)|combin\w*|amalgamat\w*|centrali[sz]\w*|single|one|"
        r"(?:bring|brought|bringing) together|co-locat\w*|joined",
    ),
    "transfer": (
        r"t(?:ake|akes|ook|aken|aking) over|transferr?(?:ed|ing|s)?|hand(?:ed|ing|s)? over|"
        r"pass(?:ed|es|ing)? (?:on|over)|hand(?:ed|ing|s)?\s+(?:[\w’']+\s+){0,3}?(?:over\s+)?to\b",
        r"t(?:ake|akes|ook|aken|aking) over|transfer\w*|hand(?:ed|ing|s)? over|passed|moved|"
        r"reallocat\w*|now (?:deal|deals|handle|handles|manage|manages|lead|leads)",
    ),
    # "why isn't the CRU available out of hours?" takes a lack as given: the report must say
    # one (a negation or a limit), not "CRU staff are available 24/7".
    # "why is there no backlog ...?", "given that Lancs has no CSE teams, ...": "no" with what
    # it denies (not "no longer" nor "no ... any more", a stop, nor "no matter" or "no doubt").
    "not": (
        r"(?:is|are|was|were|do|does|did|has|have|had|wo|ca|could|should|would)n['’]?t|not|"
        r"never|cannot|nobody|nothing|no(?!\s+(?:longer|more|matter|doubt)\b)"
        r"(?!(?:\s+[\w’']+){0,4}\s+any\s?more)|"  # "no backlog any more": a stop
        r"le(?:ave|aves|aving|ft) out|omit(?:s|ted|ting)?|exclud(?:e|es|ed|ing)",
        r"\w*n['’]t|not|no|never|none|nobody|nothing|cannot|few|fewer|little|lack\w*|without|"
        r"fail\w*|rarely|seldom|unable|insufficient|inconsisten\w*|limited|absen\w*|yet|"
        r"delay\w*|only|gaps?|weak\w*|poor\w*|unclear|unaware|reluctan\w*|struggl\w*",
    ),
    # "why were the missing-from-home procedures left unchanged?" takes it as given that
    # nothing changed: the report must not say they were rewritten.
    "same": (
        r"unchanged|(?:stayed|stays|remained|remains|left|kept) (?:the same|as (?:it|they) "
        r"(?:was|were))|never changed|not changed",
        r"unchanged|the same|still|remain\w*|not (?:been )?changed|no change",
    ),
}
_ASKED_CHANGE = {
    k: re.compile(rf"\b(?:{asked})\b", re.IGNORECASE) for k, (asked, _) in _CHANGES.items()
}
_SAID_CHANGE = {
    k: re.compile(rf"\b(?:{said})\b", re.IGNORECASE) for k, (_, said) in _CHANGES.items()
}


# The clause that states what a question takes as given: "given that Lancs has no CSE teams,".
_GIVEN_CLAUSE = re.compile(rf"\b(?:{GIVEN})\b[^,?;–—]*", re.IGNORECASE)


# Before a change word: an aim ("briefings *to* increase intelligence", the word in its plain
# form) or a denial ("hasn't increased"), neither of which says the change happened.
_DENIED = re.compile(r"(?:\bnot|n[’']t|\bnever)\s+(?:\w+\s+)?$", re.IGNORECASE)
_AIM = re.compile(r"\bto\s+$", re.IGNORECASE)


def _undone(before: str, word: str) -> bool:
    """Whether a change ``word`` after the text ``before`` it is an aim or denied."""
    plain = not word.lower().endswith(("ed", "ing", "s"))
    return bool(_DENIED.search(before)) or (plain and _AIM.search(before) is not None)


def presumed_changes(question: str) -> frozenset[str]:
    """The kinds of change (``_CHANGES``: "rise", "fall", "stop", "merge", "transfer", or a
    lack: "not") a question takes as given: a "why" question, or any other that is not a
    yes/no question (``_YES_NO``, ``_WH``; a lack only in a "why" question or in a clause that
    gives it, "given that ... has no ..."). Empty when it names none."""
    if not presupposes(question):
        return frozenset()
    why = WHY.search(question) is not None
    given = _GIVEN_CLAUSE.search(question)
    return frozenset(
        k
        for k, pattern in _ASKED_CHANGE.items()
        # a change the question denies ("children ... not transferred") is none
        if any(
            k == "not" or not _DENIED.search(question[: m.start()])
            for m in pattern.finditer(question)
        )
        # a lack: only "why isn't ...?", or one a clause gives ("given that ... has no ...")
        and (why or k != "not" or (given is not None and pattern.search(given.group())))
    )


# "no backlog", "no CSE teams": the lack a question gives, up to the words after it.
_NO_PHRASE = re.compile(
    r"\bno\s+(?!(?:longer|more|matter|doubt)\b)(?:[\w’'-]+\s+){0,2}?[\w’'-]+"
    r"(?=\s+(?:in|at|on|for|of|to|from|with|by|when|while|and|or|but|so|now|any|yet)\b"
    r"|\s*[?,.;:!–—]|$)",
    re.IGNORECASE,
)


def lack_given(question: str) -> str | None:
    """The "no ..." a question takes as given, in its words ("no backlog"), or None."""
    m = _NO_PHRASE.search(question)
    return m.group() if m is not None else None


_NEGATION = re.compile(r"\b(?:no|not|never|without|none of|lack(?:s|ed|ing)? of)\b|n[’']t\b", re.I)


def says_lack(text: str, lack: str, terms_of: Callable[[str], list[str]], span: int = 3) -> bool:
    """Whether ``text`` denies what the question's "no ..." (``lack``, ``lack_given``) says
    there is none of: a negation with one of its words within ``span`` words after it ("there
    is no comprehensive triage process" bears out "no triage") or before it ("a
    return-home-interview was not conducted"); "some of the backlog would be reduced" does not
    bear out "no backlog"."""
    lacked = {t for w in lack.split()[1:] for t in terms_of(w)}
    for m in _NEGATION.finditer(text):
        near = text[m.end() :].split()[:span] + text[: m.start()].split()[-span:]
        if any(t in lacked for w in near for t in terms_of(w)):
            return True
    return False


def states_change(
    text: str,
    kinds: frozenset[str],
    about: frozenset[str] = frozenset(),
    terms_of: Callable[[str], list[str]] | None = None,
    window: int = 8,
) -> bool:
    """Whether ``text`` speaks of a change of one of ``kinds`` (True when there are none);
    given the terms of what the question says changed (``about``, by ``terms_of``), a change
    word counts only within ``window`` words of one of them in its sentence ("it also
    increases opportunities" is no rise in a caseload), and not as an aim or denied ("to
    increase intelligence", "hasn't increased")."""
    if not kinds:
        return True
    if not about or terms_of is None:
        return any(_SAID_CHANGE[k].search(text) for k in kinds)
    for sentence in split_sentences(text):
        words = [(m.start(), m.group()) for m in WORD.finditer(sentence.lower())]
        for k in kinds:
            for m in _SAID_CHANGE[k].finditer(sentence):
                if k != "not" and _undone(sentence[: m.start()], m.group()):
                    continue  # an aim ("to increase intelligence") or denied: no change
                at = sum(1 for start, _ in words if start < m.start())
                near = words[max(0, at - window) : at + window + 1]
                if any(t in about for _, w in near for t in terms_of(w)):
                    return True
    return False


def changed_terms(question: str, terms_of: Callable[[str], list[str]]) -> frozenset[str]:
    """The terms of a "why did it change?" question other than its words of change: what it
    says changed ("why did kent's POLIT caseload go up" -> kent, polit, caseload)."""
    rest = WHY.sub(" ", question)
    for pattern in _ASKED_CHANGE.values():
        rest = pattern.sub(" ", rest)
    return frozenset(terms_of(rest))


def change_said(question: str, topic: str, lead: str, terms_of: Callable[[str], list[str]]) -> bool:
    """Whether the ``lead`` says the change or lack the question takes as given (True when it
    takes none): a "no ..." lack is denied by the lead (``says_lack``), any other change is
    said of what the question says changed (``states_change``, ``changed_terms`` of the
    question's ``topic``)."""
    kinds = presumed_changes(question)
    if kinds == {"not"} and (lack := lack_given(question)):
        return says_lack(lead, lack, terms_of)
    return states_change(lead, kinds, changed_terms(topic, terms_of), terms_of)


# What a partial answer says the reports lack when they never say the change a question takes
# as given happened.
_CHANGE_WORDS = {
    "fall": "a fall",
    "rise": "a rise",
    "stop": "it stopping",
    "merge": "a merger",
    "transfer": "a transfer",
    "not": "it not happening",
    "same": "it staying the same",
}


def change_missing(question: str) -> str:
    """What the reports lack when the lead does not say the change or lack the question takes
    as given: "anything on a rise", or the lack in the question's words ("anything bearing
    out “no backlog”")."""
    kinds = sorted(presumed_changes(question))
    if kinds == ["not"] and (lack := lack_given(question)):
        return f"anything bearing out “{lack}”"
    return f"anything on {' or '.join(_CHANGE_WORDS[k] for k in kinds)}"
