"""Answered, partial or not answered: a calibrated decision over the answer candidates.

A logistic model (fitted on dev by ``qa fit-answers``, shipped as ``models/answerability.json``)
gives the probability that the reports answer the question, from:
- the best answer unit's probability (answer/rank.py), its margin over the next, and the mean
  of the best three; the best and the lead unit's absolute similarity to the question and share
  of its weighted terms (the ranker's probabilities are relative within one question);
- the topic's similarity to the best passages and their coverage of its weighted terms
  (``Retriever.confidence``), the best passage's dense and lexical scores, and whether the
  dense and lexical scores agree on the best passage;
- the rarest question term that no returned passage holds (a word the reports never use, such
  as "firearms", is strong evidence that they do not cover the topic);
- the rarest question term that the reports of the forces asked about never use while another
  force's report does ("does Kent log missing kids on COMPACT?" asks one force about another's
  system), and whether the question states a figure no returned passage holds ("why did it
  fall below 50 percent?");
- whether a number or date is asked and the lead sentence gives none; whether the question
  names a year no report is from or mentions.
Two thresholds from the same file cut the probability into the three states: below
``refuse`` not answered (when the question shows what the reports lack: a word no returned
passage uses, a term only another force's report uses, or a year no report is from; partial
without one), below ``answer`` partial. An answer whose lead gives no number
where one is asked, or whose passages never mention a year the question names, is partial
at most: the reports cover the topic but not what was asked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..forces import force_mentions
from ..ingest.metadata import report_years
from .asking import (
    asks_number,
    asks_person_name,
    gives_number,
    gives_person_name,
)
from .changes import change_missing
from .rank import FEATURES as RANKER_FEATURES
from .rank import MODEL_DIR, OVERRIDES, Candidate, load_model
from .trees import Scorer

ANSWERABILITY_FILE = MODEL_DIR / "answerability.json"

FEATURES = (
    "best_p",
    "margin",
    "mean3_p",
    "confidence",
    "top_dense",
    "top_lexical",
    "agree",
    "uncovered_idf",
    "number_missing",
    "year_missing",
    "log_terms",
    "best_dense",
    "best_cover",
    "lead_dense",
    "lead_cover",
    "elsewhere_idf",
    "number_unmatched",
)

# Words of how people ask, not of what they ask about: a report need not use them to answer
# ("how does Kent handle missing children?"), so their absence is no sign of a gap.
ASKING_WORDS = frozenset(
    """handle handled handling deal deals dealing dealt happen happens happened happening
    work works working worked manage managed managing treat treated treating respond responded
    cope coping get gets getting got make makes making made take takes taking took keep keeps
    keeping kept leave leaves leaving put puts putting look looks
    looking find finds found know knows known tell told say says said think thinks thought
    thing things stuff good bad better worse best worst well properly actually really much many
    lot lots kind sort way ways anything something everything nothing anyone someone everyone
    ok okay right wrong enough now still ever even just also like mean means usually normally
    typically generally""".split()
)

_YEAR_BODY = r"19[5-9]\d|20[0-4]\d"
_YEAR = re.compile(rf"\b({_YEAR_BODY})\b")
_NUMBER_WORDS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
_NUMBER = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)*(?![\d])")
# A figure, not an age ("16 yr old", "12-year-old"), age band ("under-18s") or time of day
# ("3am", "at 3 in the morning", "9.30 pm", "24/7").
_FIGURE = re.compile(
    r"(?<![\d.,/:])(?<!under-)(?<!over-)\d+(?:[.,]\d+)*"
    r"(?![\d/:]|[.,]\d|s\b|\s*-?\s*(?:yrs?|years?|yo)\b|\s*(?:[ap]\.?m\b\.?|o['’]?clock|"
    r"in the (?:morning|afternoon|evening|night)))"
)


# Features that show the reports lack something the question asks about (see ``decide``).
ABSENCE_FEATURES = ("uncovered_idf", "elsewhere_idf", "year_missing")

# What a partial answer says the reports lack when nothing more precise is known.
GENERIC_MISSING = "a direct answer to every part of the question"


@dataclass(frozen=True)
class Decision:
    """The state of an answer, its probability, and what the reports do not give."""

    state: str  # "answered" | "partial" | "not_answered"
    confidence: float  # calibrated probability that the reports answer the question
    missing: str | None = None  # what was asked that the reports do not give (partial)


def answerability() -> Scorer:
    """The shipped answerability model."""
    if "answerability" in OVERRIDES:
        return OVERRIDES["answerability"]
    return load_model(ANSWERABILITY_FILE, FEATURES)


def uncovered_terms(
    terms: Iterable[str],
    translated: frozenset[str],
    present: set[str],
    asking: frozenset[str] = frozenset(),
) -> list[str]:
    """The question's terms that no returned passage holds (everyday words already translated
    into the reports' words, and ``asking`` terms, the stems of ASKING_WORDS, are left out)."""
    return [t for t in terms if t not in translated and t not in present and t not in asking]


def names_year(question: str) -> bool:
    """Whether a question names a year (``years_missing`` has nothing to check otherwise)."""
    return _YEAR.search(question) is not None


def named_years(question: str) -> list[int]:
    """The years a question names, in order."""
    return [int(y) for y in _YEAR.findall(question)]


# A year written right beside a force's name, as staff name a report ("lincs 2017 – ...",
# "kent's 2019 review", "2016 Leics"), not a year something happened in ("in lincs in 2017").
_YEAR_AFTER = re.compile(rf"^(?:['’]s?)?[\s:–—-]{{1,3}}({_YEAR_BODY})\b")
_YEAR_BEFORE = re.compile(rf"\b({_YEAR_BODY})[\s:–—-]{{1,3}}$")


def force_years(question: str) -> list[str]:
    """Years a question writes beside a force's name: the year of a report of that force."""
    out: list[str] = []
    for start, end, _ in force_mentions(question):
        for m in (_YEAR_AFTER.search(question[end:]), _YEAR_BEFORE.search(question[:start])):
            if m is not None and m.group(1) not in out:
                out.append(m.group(1))
    return out


def years_missing(
    question: str,
    known_years: set[int],
    texts: Iterable[str],
    inspected: set[int] | None = None,
) -> list[str]:
    """Years the question names that no report is from and no returned passage mentions, and
    years it names as an inspection's or report's ("the 2022 Kent follow-up", "lincs 2017 –
    ...") that are not in ``inspected``, the years of the asked forces' reports and of the
    inspections their reports speak of."""
    years = _YEAR.findall(question)
    if not years:
        return []
    joined = " ".join(texts)
    missing = [y for y in years if int(y) not in known_years and y not in joined]
    if inspected is not None:
        missing += [
            y
            for y in dict.fromkeys([*report_years(question), *force_years(question)])
            if int(y) not in inspected and y not in missing
        ]
    return missing


def numbers_unmatched(question: str, texts: Iterable[str]) -> list[str]:
    """Figures the question states (not years, ages or age bands) that no returned passage
    holds: "why did it fall below 50 percent?" rests on a figure the reports may not give."""
    numbers = [n for n in _FIGURE.findall(question) if not _YEAR.fullmatch(n)]
    if not numbers:
        return []
    joined = " ".join(texts)
    held = set(_NUMBER.findall(joined))
    words = re.findall(r"[a-z]+", joined.lower())
    held.update(str(_NUMBER_WORDS[w]) for w in words if w in _NUMBER_WORDS)
    return [n for n in numbers if n not in held]


def features(
    ranked: Sequence[tuple[Candidate, float]],
    question: str,
    confidence: float,
    top_dense: float,
    top_lexical: float,
    agree: bool,
    uncovered_idf: float,
    year_missing: bool,
    n_terms: int,
    elsewhere_idf: float = 0.0,
    number_unmatched: bool = False,
) -> NDArray[np.float32]:
    """The answerability features of one question (``FEATURES`` order)."""
    probs = [p for _, p in ranked]
    best = probs[0] if probs else 0.0
    second = probs[1] if len(probs) > 1 else 0.0
    lead = ranked[0][0].text if ranked else ""
    number_missing = asks_number(question) and not gives_number(question, lead)
    dense_at = RANKER_FEATURES.index("dense_best")
    cover_at = RANKER_FEATURES.index("lex_cover")
    dense = [float(c.features[dense_at]) for c, _ in ranked] or [0.0]
    cover = [float(c.features[cover_at]) for c, _ in ranked] or [0.0]
    return np.asarray(
        [
            best,
            best - second,
            float(np.mean(probs[:3])) if probs else 0.0,
            confidence,
            top_dense,
            top_lexical,
            float(agree),
            uncovered_idf,
            float(number_missing),
            float(year_missing),
            math.log1p(n_terms),
            max(dense),
            max(cover),
            dense[0],
            cover[0],
            elsewhere_idf,
            float(number_unmatched),
        ],
        dtype=np.float32,
    )


def decide(
    x: NDArray[np.float32],
    model: Scorer,
    question: str,
    missing_words: Sequence[str] = (),
    missing_years: Sequence[str] = (),
    count_given: bool = True,
    lead: str = "",
    change_said: bool = True,
    swap: str | None = None,
) -> Decision:
    """The state for one question's features ``x``, given the answer's ``lead`` text.
    Partial at most when the lead gives no figure for what a "how many" question counts
    (``count_given``, asking.gives_count_of), names no one where the question asks for a
    person by name, or never says a change happened that a "why did it go up?" question takes
    as given (``change_said`` false: changes.states_change, judged by the caller with what the
    question says changed), or swaps what the question names for another of its kind (``swap``:
    what the reports lack then, contrasts.swap_missing)."""
    p = float(model.proba(x[None, :])[0])
    refuse = model.extra.get("refuse", 0.5)
    answer = model.extra.get("answer", refuse)
    # "Not answered" says the reports do not cover the question: it takes a sign of that
    # in the question itself (a word no returned passage uses; a term only another force's
    # report uses; a year no report is from).
    # Without one, a low probability is doubt about an answer from passages that use every
    # word asked: partial, the passages shown.
    absent = any(x[FEATURES.index(f)] > 0 for f in ABSENCE_FEATURES)
    if p < refuse and absent:
        return Decision("not_answered", round(p, 4))
    # The figure is looked for in the lead as shown (it may be a run of two units, the top
    # unit's neighbour holding the figure); the feature reads the top unit alone.
    number_missing = (asks_number(question) and not gives_number(question, lead)) or not count_given
    missing = None
    if missing_years:
        missing = f"anything on {', '.join(missing_years)}"
    elif swap:
        missing = swap
    elif number_missing:
        missing = "the figure or date asked for"
    elif asks_person_name(question) and not gives_person_name(lead):
        missing = "the name asked for"
    elif (p >= answer or not missing_words) and not change_said:
        missing = change_missing(question)
    elif p < answer:  # below ``refuse`` too, with no sign of absence
        missing = (
            f"anything on {', '.join(missing_words[:3])}" if missing_words else GENERIC_MISSING
        )
    if missing is not None:
        return Decision("partial", round(p, 4), missing)
    return Decision("answered", round(p, 4))
