"""The question's words the reports lack: the words a partial answer names, and the question
without them (what the answer ranker also reads it as: ``shorter_dense``)."""

from __future__ import annotations

import re
from collections.abc import Callable

from .contrasts import age_phrases


def words_of(text: str) -> list[str]:
    return [w for w in "".join(ch if ch.isalnum() else " " for ch in text.lower()).split()]


# Contractions typed without their apostrophe: they name nothing the reports could lack.
_CONTRACTIONS = frozenset(
    "dont doesnt didnt isnt arent wasnt werent hasnt havent hadnt cant couldnt wont wouldnt "
    "shouldnt theyre theyve youre youve were im ive whats thats theres whos".split()
)
# Words of how a question is put, and particles and links ("write *down*", "*since* they
# brought it in"), that a partial answer must not name as what the reports lack ("The reports
# do not give anything on goes."). Only the message leaves them out: as model
# features (answerability.ASKING_WORDS) they were measured on dev and not kept.
_NOT_MISSING = frozenset(
    """goes gone going own once else apart let sure ask asks asked asking need needs needed
    put puts putting extra big compare compared comparison keep keeps kept every each same
    you your we us our me my hold down over back before after since round around out off
    cos coz plus also yet still ever tends""".split()
)


def original_words(topic: str, stems: set[str], terms_of: Callable[[str], list[str]]) -> list[str]:
    """The question's own words behind the given stemmed terms, in question order: the words a
    partial answer names as what the reports do not give. Contractions ("doesn't", "theyre")
    and two-letter lower-case words ("up") are left out; an acronym ("DA") is kept."""
    out: list[str] = []
    if not stems:  # nothing to look for: no word of the question is tokenized
        return out
    # An age is named as the question gives it ("12 year olds"), not as its words ("year, olds").
    for phrase in age_phrases(topic):
        if any((got := terms_of(w)) and got[0] in stems for w in words_of(phrase)):
            out.append(phrase)
            stems = stems - {t for w in words_of(phrase) for t in terms_of(w)}
    for n, token in enumerate(topic.split()):
        if "'" in token or "’" in token:
            continue
        bare = token.strip('?,.!:;()"')
        named = bare.isupper() or (n > 0 and bare[:1].isupper())  # "DA", "St Giles"
        for w in words_of(token):
            if w in _CONTRACTIONS or w in _NOT_MISSING or (len(w) <= 2 and not named):
                continue
            got = terms_of(w)
            shown = bare if named and bare.lower() == w else w
            if got and got[0] in stems and shown not in out:
                out.append(shown)
    return out


def without(topic: str, words: list[str]) -> str | None:
    """``topic`` with ``words`` left out (None when that leaves it unchanged or empty)."""
    reduced = topic
    for w in words:
        reduced = re.sub(rf"(?i)(?<![\w-]){re.escape(w)}(?![\w-])", " ", reduced)
    reduced = " ".join(reduced.split())
    return reduced if reduced and reduced != topic else None
