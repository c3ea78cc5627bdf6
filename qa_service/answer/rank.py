"""Answer sentences as a ranking problem: every answer unit of the best passages is scored by a
logistic model over features, fitted on the dev split (``qa fit-answers``) and shipped as a
plain JSON file beside this module (``models/answer_ranker.json``).

Features (``FEATURES``, one row per unit):
- dense: the unit's best sentence cosine with the question's topic, the same relative to the
  best unit of the question and as a rank, the same for the sentence read with its neighbour
  (sentences are embedded alone), the passage's own dense score (with heading context), and
  the unit's cosine with the question without its words no returned passage holds ("are
  the lads in the POLIT swamped?" without "lads" and "swamped", slang the reports never use);
- lexical: IDF-weighted query terms in the unit (relative to the best unit), the share of the
  question's weighted terms it holds, the share of plain content words, and the share of the
  terms found in its section headings;
- retrieval: the passage's fused score relative to the first, and its rank;
- role and position: first unit of the passage, sentences joined, leaning on the sentence
  before, a list, a table row, boilerplate that other reports repeat, and its length;
- what is asked: a number or date is asked and the unit gives one (or not); a "why", "who",
  "what was recommended" or yes/no question and the unit has the words that answer that kind
  (because, a team or role, we recommend / should, still / now / no longer); the share of
  the unit's words that are the question's;
- a scene and an ask: where a question tells a case and then asks about it ("mum rang 999
  after a domestic – did anyone talk to the child?", ``split_ask``), the share of the ask's
  terms in the unit and of the scene's terms in the two sentences before it (a case's outcome
  follows the sentences that tell it); the sentence before the unit's similarity and terms;
  whether the unit gives a child's age, as the sentence that opens a case does.
Headings, footnotes, captions and fragments are never scored as answers (answer/units.py).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .asking import (
    WORD,
    asks_number,
    gives_number,
)
from .trees import Blended, Scorer, load_trees
from .units import Unit, build_units, leans_back

MODEL_DIR = Path(__file__).parent / "models"
RANKER_FILE = MODEL_DIR / "answer_ranker.json"
TREES_FILE = MODEL_DIR / "answer_ranker_trees.txt"  # blended with the linear model (trees.py)

FEATURES = (
    "dense_best",
    "dense_rel",
    "dense_first",
    "passage_dense",
    "lex_rel",
    "lex_cover",
    "word_cover",
    "heading_cover",
    "fused_rel",
    "rank_inv",
    "first_unit",
    "joined",
    "leans",
    "list",
    "table_row",
    "boilerplate",
    "log_chars",
    "number_asked_given",
    "number_asked_missing",
    "dense_rank_inv",
    "lex_rank_inv",
    "lex_damped_rel",
    "top_passage",
    "dense_context",
    "word_precision",
    "cue_match",
    "ask_cover",
    "prev_dense",
    "prev_cover",
    "setup_prev",
    "ask_dense",
    "tells_case",
    "shorter_dense",
)

_WORD_COVER = FEATURES.index("word_cover")

# A child's age, as a report tells a case ("A 15-year-old girl reported ..."): the sentence
# that sets a case's scene, which the question often repeats, where its outcome answers.
_AGE = re.compile(r"\b\d{1,2}[- ]?(?:year|yr)s?[- ]old\b", re.IGNORECASE)

# What kind of answer a question asks for, and the words that give it.
_CUES = (
    (
        re.compile(r"\b(why|how come|reason)\b", re.I),
        re.compile(r"\b(because|as a result|due to|means|so that|led to|caused|reason)\b", re.I),
    ),
    (
        re.compile(r"\b(who|which (?:team|unit|officers?|staff|agency))\b", re.I),
        re.compile(
            r"\b(officers?|sergeants?|inspectors?|teams?|units?|managers?|staff|partners?|"
            r"social (?:care|workers?)|local authorit\w+|hub|co-?ordinators?)\b",
            re.I,
        ),
    ),
    (
        # what a force was told to do ("what did the inspectors tell leics to do about ...?",
        # "what were Leics told about ...?"), not what someone told the asker
        re.compile(
            r"\brecommend\w*|\b(?:tell|told|telling|asked)\s+(?!(?:me|us|him|her|you)\b)"
            r"(?:[\w’']+\s+){1,3}?to\s+\w+|\b(?:were|was)\s+(?:[\w’']+\s+){1,3}?told\s+to\b|"
            r"\bwhat\s+(?:were|was)\s+(?:[\w’']+\s+){1,3}?told\b",
            re.I,
        ),
        re.compile(r"\b(we recommend|recommendations?|should)\b", re.I),
    ),
    (
        re.compile(r"^\s*(?:do|does|did|is|are|was|were|has|have|had|can|will)\b|\bstill\b", re.I),
        re.compile(
            r"\b(still|now|no longer|continues?|continued|since|improv\w*|not yet|remains?|"
            r"has been|have been|has not|hasn’t|haven’t|wasn’t|weren’t|didn’t|doesn’t)\b",
            re.I,
        ),
    ),
)


@dataclass(frozen=True)
class Candidate:
    """One answer unit of one returned passage, with its features."""

    hit: int  # position of its passage in the result
    unit: Unit  # span in that passage's text
    text: str
    features: NDArray[np.float32]
    vector: NDArray[np.float32]  # mean of its sentences' vectors, normalised
    doc_id: str
    force: str | None
    plate: bool = False  # holds boilerplate about the inspection: never leads (compose)


@dataclass(frozen=True)
class PassageInput:
    """What the ranker reads of one returned passage."""

    text: str
    spans: list[tuple[int, int]]  # its sentences, in ``text``
    vectors: NDArray[np.float32]  # one per sentence (may be empty: no dense features)
    boilerplate: list[bool]  # per sentence: repeated, near word for word, in other reports
    terms: list[frozenset[str]]  # per sentence: its lexical terms
    headings: tuple[str, ...]
    fused: float
    dense: float
    doc_id: str
    force: str | None
    # per sentence: boilerplate, repeated and about the inspection itself (answer/boilerplate.py)
    inspection: tuple[bool, ...] = ()


@dataclass(frozen=True)
class LinearModel:
    """A fitted logistic model: standardise, dot, sigmoid (no pickle: JSON floats)."""

    features: tuple[str, ...]
    mean: NDArray[np.float64]
    scale: NDArray[np.float64]
    coef: NDArray[np.float64]
    intercept: float
    extra: dict[str, float]

    def logits(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """The model's log-odds for each row of ``x``."""
        if len(x) == 0:
            return np.zeros(0)
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return np.asarray(z @ self.coef + self.intercept, dtype=np.float64)

    def proba(self, x: NDArray[np.float32]) -> NDArray[np.float64]:
        """The model's probability for each row of ``x``."""
        return np.asarray(1.0 / (1.0 + np.exp(-self.logits(x))), dtype=np.float64)

    def to_json(self) -> dict[str, object]:
        """The model as plain JSON data."""
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            **self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, object], features: Sequence[str]) -> LinearModel:
        """Read a model written by ``to_json``; its features must be ``features``."""
        names = tuple(str(f) for f in data["features"])  # type: ignore[attr-defined]
        if names != tuple(features):
            raise ValueError(f"model features {names} differ from the code's {tuple(features)}")
        known = {"features", "mean", "scale", "coef", "intercept"}
        return cls(
            names,
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),  # type: ignore[arg-type]
            {k: float(v) for k, v in data.items() if k not in known},  # type: ignore[arg-type]
        )


@lru_cache(maxsize=4)
def load_model(path: Path, features: tuple[str, ...]) -> LinearModel:
    """A model file next to the code (cached per path)."""
    return LinearModel.from_json(json.loads(path.read_text(encoding="utf-8")), features)


# Models in use instead of the shipped files (set while refitting, when the files may not
# match the code's features yet).
OVERRIDES: dict[str, Scorer] = {}


def prior(features: Sequence[str], weights: dict[str, float]) -> LinearModel:
    """A model with hand-set weights on raw features (the starting point of a refit)."""
    n = len(features)
    coef = np.array([weights.get(f, 0.0) for f in features], dtype=np.float64)
    return LinearModel(tuple(features), np.zeros(n), np.ones(n), coef, 0.0, {})


def ranker() -> Scorer:
    """The shipped answer-sentence ranker: the linear model blended with its trees."""
    if "ranker" in OVERRIDES:
        return OVERRIDES["ranker"]
    linear = load_model(RANKER_FILE, FEATURES)
    return Blended(linear, load_trees(TREES_FILE, FEATURES), linear.extra["tree_weight"])


def candidates(
    passages: Sequence[PassageInput],
    topic: NDArray[np.float32] | None,
    question: str,
    weights: list[tuple[str, float]],
    terms_of: Callable[[str], list[str]],
    question_words: set[str],
    cover_weights: list[tuple[str, float]] | None = None,
    ask_terms: frozenset[str] = frozenset(),
    setup_terms: frozenset[str] = frozenset(),
    ask_vector: NDArray[np.float32] | None = None,
    shorter: NDArray[np.float32] | None = None,
) -> list[Candidate]:
    """Every answer unit of the passages, with its features (only units that may lead).

    ``ask_terms`` and ``setup_terms`` are the terms of what the question asks and of the scene
    it sets first (``split_ask``); with no scene, the ask is the whole question."""
    out: list[Candidate] = []
    # Coverage counts a term the reports never use at full weight (``cover_weights``): that
    # the corpus lacks a word the question rests on is what coverage is there to see.
    cover_weights = weights if cover_weights is None else cover_weights
    total_weight = sum(w for _, w in cover_weights) or 1.0
    ask_weights = [(t, w) for t, w in cover_weights if t in ask_terms]
    ask_total = sum(w for _, w in ask_weights) or 1.0
    setup_weights = [(t, w) for t, w in cover_weights if t in setup_terms]
    setup_total = sum(w for _, w in setup_weights) or 1.0

    def covered(pairs: list[tuple[str, float]], terms: frozenset[str], total: float) -> float:
        return sum(w for t, w in pairs if t in terms) / total

    number = asks_number(question)
    top_fused = max((p.fused for p in passages), default=0.0) or 1.0
    rows: list[list[float]] = []
    for h, p in enumerate(passages):
        units = build_units(p.text, p.spans, p.headings)
        heading_terms = {t for h in p.headings for t in terms_of(h)}
        heading_cover = sum(w for t, w in cover_weights if t in heading_terms) / total_weight
        has_vectors = len(p.vectors) == len(p.spans) and len(p.spans) > 0
        sims = np.clip(p.vectors @ topic, 0.0, 1.0) if has_vectors and topic is not None else None
        ask_sims = (
            np.clip(p.vectors @ ask_vector, 0.0, 1.0)
            if has_vectors and ask_vector is not None
            else None
        )
        # Without the words no returned passage holds (the question's own vector otherwise).
        short_sims = (
            np.clip(p.vectors @ shorter, 0.0, 1.0) if has_vectors and shorter is not None else sims
        )
        first = True
        for u in units:
            if not u.leads:
                continue
            text = p.text[u.start : u.end]
            unit_terms = frozenset().union(*(p.terms[i] for i in u.sentences))
            lex = sum(w for t, w in weights if t in unit_terms)
            words = set(WORD.findall(text.lower()))
            sent_sims = [float(sims[i]) for i in u.sentences] if sims is not None else [0.0]
            if has_vectors:
                vec = p.vectors[list(u.sentences)].mean(axis=0)
                vec = vec / (np.linalg.norm(vec) or 1.0)
            else:
                vec = np.zeros(len(topic) if topic is not None else 1, dtype=np.float32)
            given = gives_number(question, text)
            context = [0.0]
            if has_vectors and topic is not None:
                a, b = u.sentences[0], u.sentences[-1]
                for i, j in ((a - 1, a), (b, b + 1)):
                    if i >= 0 and j < len(p.spans):
                        v = p.vectors[i] + p.vectors[j]
                        context.append(float(v @ topic) / (float(np.linalg.norm(v)) or 1.0))
            precision = len(words & question_words) / max(1, len(words))
            # The sentences just before the unit: a case's outcome follows the sentences
            # that tell the case, which is what a question setting a scene matches.
            before = [i for i in (u.sentences[0] - 2, u.sentences[0] - 1) if i >= 0]
            prev = u.sentences[0] - 1
            prev_dense = float(sims[prev]) if sims is not None and prev >= 0 else 0.0
            prev_cover = covered(cover_weights, p.terms[prev], total_weight) if prev >= 0 else 0.0
            setup_prev = max(
                (covered(setup_weights, p.terms[i], setup_total) for i in before), default=0.0
            )
            rows.append(
                [
                    max(sent_sims),
                    0.0,  # dense_rel, filled below
                    sent_sims[0],
                    p.dense,
                    lex,  # lex_rel, normalised below
                    sum(w for t, w in cover_weights if t in unit_terms) / total_weight,
                    len(words & question_words) / max(1, len(question_words)),
                    heading_cover,
                    p.fused / top_fused,
                    1.0 / (1 + h),
                    1.0 if first else 0.0,
                    float(len(u.sentences) > 1),
                    float(
                        leans_back(p.text[p.spans[u.sentences[0]][0] : p.spans[u.sentences[0]][1]])
                    ),
                    float(u.role == "list"),
                    float(u.role == "table_row"),
                    float(any(p.boilerplate[i] for i in u.sentences if i < len(p.boilerplate))),
                    math.log1p(len(text)),
                    float(number and given),
                    float(number and not given),
                    0.0,  # dense_rank_inv, filled below
                    0.0,  # lex_rank_inv, filled below
                    lex / math.log2(2 + len(unit_terms)),  # normalised below
                    float(h == 0),
                    max(context),
                    precision,
                    float(any(q.search(question) and a.search(text) for q, a in _CUES)),
                    covered(ask_weights, unit_terms, ask_total),
                    prev_dense,
                    prev_cover,
                    setup_prev,
                    max(float(ask_sims[i]) for i in u.sentences) if ask_sims is not None else 0.0,
                    float(_AGE.search(text) is not None),
                    max(float(short_sims[i]) for i in u.sentences)
                    if short_sims is not None
                    else 0.0,
                ]
            )
            first = False
            out.append(
                Candidate(
                    h,
                    u,
                    text,
                    np.zeros(0, dtype=np.float32),
                    vec.astype(np.float32),
                    p.doc_id,
                    p.force,
                    any(p.inspection[i] for i in u.sentences if i < len(p.inspection)),
                )
            )
    if not rows:
        return []
    x = np.asarray(rows, dtype=np.float32)
    col = {name: i for i, name in enumerate(FEATURES)}
    x[:, col["dense_rel"]] = x[:, col["dense_best"]] - x[:, col["dense_best"]].max()
    for name, by in (("dense_rank_inv", "dense_best"), ("lex_rank_inv", "lex_rel")):
        order = np.argsort(-x[:, col[by]], kind="stable")
        ranks = np.empty(len(order), dtype=np.float32)
        ranks[order] = np.arange(len(order), dtype=np.float32)
        x[:, col[name]] = 1.0 / (1.0 + ranks)
    for name in ("lex_rel", "lex_damped_rel"):
        x[:, col[name]] = x[:, col[name]] / (x[:, col[name]].max() or 1.0)
    return [
        Candidate(c.hit, c.unit, c.text, x[i], c.vector, c.doc_id, c.force, c.plate)
        for i, c in enumerate(out)
    ]


def rank(cands: list[Candidate], model: Scorer) -> list[tuple[Candidate, float]]:
    """Candidates with their answer probability, best first (ties: earlier passage first)."""
    if not cands:
        return []
    p = model.proba(np.stack([c.features for c in cands]))
    order = sorted(range(len(cands)), key=lambda i: (-p[i], cands[i].hit, cands[i].unit.start))
    return [(cands[i], float(p[i])) for i in order]


def _held(a: str, b: str) -> float:
    """The share of ``a``'s words that ``b`` also uses."""
    wa = set(WORD.findall(a.lower()))
    return len(wa & set(WORD.findall(b.lower()))) / max(len(wa), 1)


def _touching(a: Unit, b: Unit) -> bool:
    return a.sentences[-1] + 1 == b.sentences[0] or b.sentences[-1] + 1 == a.sentences[0]


def _joined(a: Candidate, b: Candidate) -> Candidate:
    """One candidate spanning two touching units of one passage (``a``'s features)."""
    first, second = (a, b) if a.unit.start < b.unit.start else (b, a)
    unit = Unit(
        first.unit.start,
        second.unit.end,
        (*first.unit.sentences, *second.unit.sentences),
        first.unit.role,
    )
    vec = a.vector + b.vector
    vec = vec / (np.linalg.norm(vec) or 1.0)
    text = f"{first.text} {second.text}"
    vec = vec.astype(np.float32)
    return Candidate(a.hit, unit, text, a.features, vec, a.doc_id, a.force, a.plate)


def compose(
    ranked: list[tuple[Candidate, float]],
    forces: Sequence[str] = (),
    max_units: int = 3,
    keep_ratio: float = 0.1,
    min_proba: float = 0.02,
    redundant: float = 0.9,
    adjacent_ratio: float = 0.2,
) -> list[tuple[Candidate, float]]:
    """The answer: the best unit, then each force asked about (a comparison) gets its best,
    then further units only where they score near the lead and say something new. The
    defaults were chosen on dev by answer@1 and answer@any (qa eval)."""
    if not ranked:
        return []
    # Words another report repeats (boilerplate) never lead while another unit can.
    first = next((i for i, (c, _) in enumerate(ranked) if not c.plate), 0)
    if first:
        ranked = [ranked[first], *ranked[:first], *ranked[first + 1 :]]
    # A report that says the same thing twice (its summary and its body, "is also still
    # problematic"): of the two, the one with more of the question's own words leads (a
    # quote pasted to find where it is comes back as itself).
    for i, (c, _) in enumerate(ranked[1:3], 1):
        lead_text = ranked[0][0].text
        if max(_held(c.text, lead_text), _held(lead_text, c.text)) >= redundant and (
            c.features[_WORD_COVER] > ranked[0][0].features[_WORD_COVER]
        ):
            ranked = [
                (c, ranked[0][1]),
                *ranked[1:i],
                (ranked[0][0], ranked[i][1]),
                *ranked[i + 1 :],
            ]
            break
    lead, lead_p = ranked[0]
    # A neighbour in the same passage that scores nearly as well joins the lead as one run of
    # consecutive sentences (in reading order): the two read as one answer. Boilerplate does
    # not come in ahead of the lead that way either.
    for c, p in ranked[1:3]:
        ahead = c.unit.start < lead.unit.start
        if (
            c.hit == lead.hit
            and p >= adjacent_ratio * lead_p
            and _touching(lead.unit, c.unit)
            and not (ahead and c.plate and not lead.plate)
        ):
            lead = _joined(lead, c)
            break
    chosen = [(lead, lead_p)]

    def novel(c: Candidate) -> bool:
        # not the same words again: no shared sentence (a lead joined with its neighbour
        # holds that neighbour), no near-identical sentence elsewhere, and not words a chosen
        # unit already says (a report repeating its summary, "is also still problematic")
        return all(
            c.text != o.text
            and float(c.vector @ o.vector) < redundant
            and not (c.hit == o.hit and c.unit.start < o.unit.end and o.unit.start < c.unit.end)
            and _held(c.text, o.text) < redundant
            for o, _ in chosen
        )

    for force in forces:  # a comparison: every force named gets its best sentence
        if any(c.force == force for c, _ in chosen):
            continue
        best = next(((c, p) for c, p in ranked if c.force == force and novel(c)), None)
        if best is not None and best[1] >= min_proba / 2:
            chosen.append(best)
    for c, p in ranked[1:]:
        if len(chosen) >= max(max_units, len(forces)):
            break
        if p >= max(min_proba, keep_ratio * lead_p) and novel(c):
            chosen.append((c, p))
    return chosen
