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
    r"\b(?:why|how)\s+(?:do|does|did|is|are|was|were|has|have|had)\s+((?:[\w’'-]+\s+){1,4})",
    re.IGNORECASE,
)
_DENIAL = re.compile(r"\b(?:not|never|no|without|fail(?:s|ed)? to|\w+n[’']t)\b", re.IGNORECASE)
_SUBJECT = frozenset(
    "the a an its their his her our your my this that these those officers officer staff police "
    "force constabulary team teams unit units call handlers supervisors sergeants inspectors "
    "detectives custody response frontline".split()
)
_ASKS_DENIED = re.compile(r"\b(?:not|never|no|without|fail\w*|\w+n[’']?t)\b", re.IGNORECASE)


def denied_unsaid(
    question: str, lead: str, terms_of: Callable[[str], list[str]], span: int = 8
) -> str | None:
    """What the reports lack when the lead denies the action a question takes as given."""
    m = _ACTION.search(question)
    if not lead or m is None or _ASKS_DENIED.search(question):
        return None
    # the first word after the subject (a force, a unit's acronym, the people who act)
    verb = next(
        (
            w.strip("?,.;:")
            for w in m.group(1).split()
            if not find_forces(w) and not w.isupper() and w.lower() not in _SUBJECT
        ),
        None,
    )
    if verb is None:
        return None
    action = set(terms_of(verb))
    for sentence in split_sentences(lead):
        for d in _DENIAL.finditer(sentence):
            after = sentence[d.end() :].split()[:span]
            if any(t in action for w in after for t in terms_of(w)):
                return f"anything bearing out “{verb.lower()}”"
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
    words = [w.strip("?,.") for w in m.group(1).split() if w.lower() not in _ONLY_SKIP][:2]
    held = set(terms_of(lead))
    if words and not all(set(terms_of(w)) <= held for w in words):
        return f"anything bearing out “only {' '.join(words)}”"
    return None
