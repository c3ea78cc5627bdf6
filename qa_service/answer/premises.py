"""Premises of action a question takes as given that the answer's lead does not bear out:
an action the lead denies ("how does lancs *record* which courses officers have done?"), or
"only ..." where the lead restricts to something else. Read with ``lead_checks``."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..forces import find_forces
from .asking import presupposes, split_sentences

# An action a "why" or "how does X ..." question takes as given ("how does lancs *record* which
# courses officers have done?") that the lead denies ("the constabulary does not have any
# arrangements in place for recording the training courses"): a negation with the action's
# word after it. The action is read as the words after the question's auxiliary.
_ACTION = re.compile(
    r"\b(?:why|how)\s+(?:do|does|did|is|are|was|were|has|have|had)\s+((?:[\w’'-]+\s+){1,6})",
    re.IGNORECASE,
)
_DENIAL = re.compile(r"\b(?:not|never|no|without|fail(?:s|ed)? to|\w+n[’']t)\b", re.IGNORECASE)
# Words of the subject who acts ("the duty inspector", "call handlers") and helping verbs
# ("get consulted"): not the action.
_NOT_ACTION = frozenset(
    "the a an its their his her our your my this that these those officers officer staff police "
    "force constabulary team teams unit units call handlers supervisors sergeants inspectors "
    "inspector detectives detective custody response frontline duty investigating control room "
    "social workers care get gets got be been being".split()
)
_CONDITION = re.compile(r"\b(?:when|whenever|if|where|after|once)\b", re.IGNORECASE)
_ASKS_DENIED = re.compile(r"\b(?:not|never|no|without|fail\w*|\w+n[’']?t)\b", re.IGNORECASE)


def denied_unsaid(
    question: str, lead: str, terms_of: Callable[[str], list[str]], span: int = 8
) -> str | None:
    """What the reports lack when the lead denies the action a question takes as given."""
    m = _ACTION.search(question)
    # a negation in the case the question sets ("when the child wasn't moved") is no denial
    main = _CONDITION.split(question, maxsplit=1)[0]
    if not lead or m is None or _ASKS_DENIED.search(main):
        return None
    # the words after the subject (a force, a unit's acronym, the people who act): the first
    # is the action, read up to ``span`` words after a negation; each of them, right after one
    # ("no consultation with the duty inspector" for "why did the duty inspector get consulted")
    words = [
        w.strip("?,.;:")
        for w in m.group(1).split()
        if not find_forces(w) and not w.isupper() and w.lower() not in _NOT_ACTION
    ]
    if not words:
        return None
    verb = set(terms_of(words[0]))
    near = {t: w for w in words for t in terms_of(w)}
    for sentence in split_sentences(lead):
        for d in _DENIAL.finditer(sentence):
            after = sentence[d.end() :].split()
            if any(t in verb for w in after[:span] for t in terms_of(w)):
                return f"anything bearing out “{words[0].lower()}”"
            if hit := next((near[t] for w in after[:2] for t in terms_of(w) if t in near), None):
                return f"anything bearing out “{hit.lower()}”"
    return None


# "Only" taken as given ("why are the lancs CSE teams *only* doing enforcement work?", where
# they can only do preventative work): the words it restricts to must be the lead's too.
_ONLY = re.compile(r"(?<!\bnot )(?<!\bthe )\bonly\s+((?:[\w’'-]+\s*){1,6})", re.IGNORECASE)
_ONLY_SKIP = frozenset(
    "do does did doing be being been is are get gets got have has had for on at in to the a an "
    "by with use uses using work works working deal deals dealing take takes".split()
)


def only_unsaid(question: str, lead: str, terms_of: Callable[[str], list[str]]) -> str | None:
    """What the reports lack when a question takes "only ..." as given and the lead does not
    hold the first two words it restricts to (less words of how it is put)."""
    m = _ONLY.search(question)
    if not lead or m is None or not presupposes(question):
        return None
    words = [
        w.strip("?,.")
        for w in m.group(1).split()
        if w.lower() not in _ONLY_SKIP and not find_forces(w)
    ][:2]
    held = set(terms_of(lead))
    if words and not all(set(terms_of(w)) <= held for w in words):
        return f"anything bearing out “only {' '.join(words)}”"
    return None
