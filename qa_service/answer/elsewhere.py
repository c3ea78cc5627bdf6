"""A named unit or scheme asked of a force whose reports never name it, where another force's
report does: "did Lancashire's central referral unit have a backlog?" asks of Lancashire what
Kent's report says (Lancashire has MASHs, no CRU). The names are the corpus's own acronyms and
their long forms (``index.acronyms``), read through the lexical index, so the check costs a
look-up per acronym the question names, not a scan of the reports. Within the answer, a near
second that names the unit asked about leads over a unit naming none (``naming_lead``)."""

from __future__ import annotations

import functools
import re
import weakref
from typing import TYPE_CHECKING

import numpy as np

from ..search.types import Filters

if TYPE_CHECKING:
    from ..search.retriever import PassageRetriever
    from .rank import Candidate


_PHRASE_READS = 50


@functools.lru_cache(maxsize=256)
def _phrase(long_form: str) -> re.Pattern[str]:
    """A long form as a phrase, spaces and hyphens alike, any case, plural or not."""
    words = [re.escape(w) for w in re.split(r"[\s-]+", long_form) if w]
    return re.compile(r"\b" + r"[\s-]+".join(words).removesuffix("s") + r"s?\b", re.IGNORECASE)


def _forms(acronym: str, long: str) -> tuple[str, str]:
    """An acronym in the singular ("MASHs" -> "MASH") and its long form, in lower case."""
    short = acronym[:-1] if acronym.endswith("s") and acronym[-2:-1].isupper() else acronym
    return short, " ".join(long.lower().split())


def named_elsewhere(
    retriever: PassageRetriever, question: str, forces: tuple[str, ...]
) -> list[str]:
    """The corpus's acronyms the question names (as the acronym or its long form) that the
    reports of ``forces`` never use in either form while another force's report does, as
    "central referral unit (CRU)"."""
    if not forces:
        return []
    index = retriever.index
    asked = retriever.allowed_docs(Filters(forces=forces))
    if asked is None:
        return []
    lex = index.lexical
    low = " ".join(question.lower().split())
    names: dict[str, str] = {}  # acronym (singular) -> long form
    for acronym, long in index.acronyms.items():
        short, long_form = _forms(acronym, long)
        if len(short) < 3:
            continue  # "DC", "DO": too often something else
        named_short = re.search(rf"(?<![\w-]){re.escape(short)}s?(?![\w-])", question)
        if named_short is None and long_form not in low:
            continue
        rows = lex.rows_with(next(iter(lex.terms(short)), ""))
        if not len(rows) or asked[retriever.doc_of[rows]].any():
            continue  # never in the corpus, or in an asked force's report
        # the long form in a passage of an asked force's report names it too ("a juvenile
        # detention certificate", "multi-agency safeguarding hub"): read in the passages of
        # those reports that hold its every word (one vectorised intersection), as a phrase
        # ("child", "referral" and "team" apart name no child referral team); past
        # ``_PHRASE_READS`` such passages it is taken as named
        terms = set(lex.terms(long_form))
        if terms:
            rows = functools.reduce(np.intersect1d, (lex.rows_with(t) for t in terms))
            rows = rows[asked[retriever.doc_of[rows]]]
            if len(rows) > _PHRASE_READS or any(
                _phrase(long_form).search(index.chunks[int(row)].text) for row in rows
            ):
                continue
        # one name an acronym: of "MASH" and "MASHs", each with its own long form, the
        # singular's ("multi agency safeguarding hub")
        if short not in names or acronym == short:
            names[short] = long_form
    return [f"{long} ({short})" for short, long in names.items()]


def naming_first(
    retriever: PassageRetriever, question: str, ranked: list[tuple[Candidate, float]]
) -> list[tuple[Candidate, float]]:
    """``ranked`` with its best unit from a report that uses every name the question gives
    first, when the best unit's report never uses one that another report does: "does the
    CRT have a backlog?" is about Leicestershire's child referral team, not Kent's central
    referral unit backlog. Unchanged when no unit's report names them all."""
    if not ranked or ranked[0][0].force is None:
        return ranked
    lacking: dict[str, bool] = {}

    def lacks(force: str | None) -> bool:
        if force is None:
            return True
        if force not in lacking:
            lacking[force] = bool(named_elsewhere(retriever, question, (force,)))
        return lacking[force]

    if not lacks(ranked[0][0].force):
        return ranked
    best = next((i for i, (c, _) in enumerate(ranked) if not lacks(c.force)), None)
    if best is None:
        return ranked
    return [ranked[best], *ranked[:best], *ranked[best + 1 :]]


def _names(text: str, short: str, long_form: str) -> bool:
    return (
        re.search(rf"(?<![\w-]){re.escape(short)}s?(?![\w-])", text) is not None
        or _phrase(long_form).search(text) is not None
    )


# Per index (its retriever), the names of units and schemes: the corpus's acronyms of three
# letters or more, with their long forms, that not every report uses ("HMICFRS" names no
# unit). Read once, not per question.
_UNIT_NAMES: weakref.WeakKeyDictionary[PassageRetriever, list[tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)


def _unit_names(retriever: PassageRetriever) -> list[tuple[str, str]]:
    names = _UNIT_NAMES.get(retriever)
    if names is None:
        index = retriever.index
        n_docs = len(np.unique(retriever.doc_of))
        names = []
        for acronym, long in index.acronyms.items():
            short, long_form = _forms(acronym, long)
            rows = index.lexical.rows_with(next(iter(index.lexical.terms(short)), ""))
            if len(short) >= 3 and len(np.unique(retriever.doc_of[rows])) < n_docs:
                names.append((short, long_form))
        _UNIT_NAMES[retriever] = names
    return names


def naming_lead(
    retriever: PassageRetriever,
    question: str,
    ranked: list[tuple[Candidate, float]],
    window: int = 3,
    ratio: float = 0.5,
) -> list[tuple[Candidate, float]]:
    """``ranked`` with the unit that names the unit or scheme the question asks about first,
    when the best unit names none of those the question names (a corpus acronym or its long
    form) and one of the next ``window`` - 1, scoring at least ``ratio`` of it, does: "kent
    CRU - have they got the backlog down?" is answered by a sentence about the CRU, not by
    another team's backlog. A name every report uses ("HMICFRS") names no unit. Unchanged
    otherwise."""
    if len(ranked) < 2:
        return ranked
    asked = [(s, f) for s, f in _unit_names(retriever) if _names(question, s, f)]
    if not asked:
        return ranked

    def names_one(c: Candidate) -> bool:
        return any(_names(c.text, short, long) for short, long in asked)

    lead, lead_p = ranked[0]
    if names_one(lead):
        return ranked
    for i, (c, p) in enumerate(ranked[1:window], 1):
        if p >= ratio * lead_p and names_one(c):
            return [ranked[i], *ranked[:i], *ranked[i + 1 :]]
    return ranked
