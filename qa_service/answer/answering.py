"""The answer layer of a search: answer sentences, highlights and the answered / partial /
not-answered decision, computed once per search so that search, chat, compare, the CLI and
the evaluation all show the same sentence and the same state.

Reads what the index already holds (each passage's sentence spans and vectors), so it adds no
encoding to a search: the question's topic vector is the one retrieval computed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..search.merging import rows_of, shift_spans
from ..search.types import AnswerPick, Filters, Hit, RetrievalConfig, SearchResult
from ..search.vocabulary import EVERYDAY_TERMS
from ..types import Metadata
from .answerability import (
    ASKING_WORDS,
    answerability,
    decide,
    features,
    names_year,
    numbers_unmatched,
    uncovered_terms,
    years_missing,
)
from .asking import (
    defined_term,
    gives_count_of,
    how_words,
    split_ask,
)
from .boilerplate import about_inspection_flags, repeated_sentences
from .cases import restated_scene
from .changes import change_said
from .contrasts import unknown_names
from .definitions import defines, defining_first
from .elsewhere import naming_first, naming_lead
from .highlight import pick_highlights, score_info, sentence_info
from .lead_checks import lead_unsaid
from .missing import original_words, without, words_of
from .rank import Candidate, PassageInput, candidates, compose, rank, ranker
from .trees import linear_part

if TYPE_CHECKING:
    from ..search.query import QueryPlan
    from .retriever import Retriever

NOT_ANSWERED = "The reports in the corpus do not answer this question."


class AnswerLayer:
    """Scores the answer units of a search's passages and decides whether they answer."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever
        self._repeated: NDArray[np.bool_] | None = None
        self._boilerplate: NDArray[np.bool_] | None = None
        self._lock = threading.Lock()
        self._known_years: set[int] | None = None
        self._asking: frozenset[str] | None = None
        self._inspected: dict[str, set[int]] | None = None
        self._types: dict[str, set[str]] | None = None
        self._acronyms: tuple[dict[str, str], dict[str, str]] | None = None

    def repeated(self) -> NDArray[np.bool_]:
        """Per stored sentence: whether another report repeats it nearly word for word."""
        with self._lock:
            if self._repeated is None:
                self._repeated = repeated_sentences(self.retriever)
            return self._repeated

    def boilerplate(self) -> NDArray[np.bool_]:
        """Per stored sentence: whether it is boilerplate, repeated and about the inspection."""
        flags = self.repeated()
        with self._lock:
            if self._boilerplate is None:
                self._boilerplate = about_inspection_flags(self.retriever, flags)
            return self._boilerplate

    def asking(self) -> frozenset[str]:
        """The index's terms for the words of how people ask (answerability.ASKING_WORDS)."""
        if self._asking is None:
            self._asking = frozenset(
                t for w in sorted(ASKING_WORDS) for t in self.retriever.index.lexical.terms(w)
            )
        return self._asking

    def known_years(self) -> set[int]:
        """Years the corpus's reports are from (inspection or publication)."""
        if self._known_years is None:
            self._known_years = set().union(
                *(_report_dates(m) for m in self.retriever.index.metadata.values())
            )
        return self._known_years

    def inspected_years(self, forces: Sequence[str]) -> set[int]:
        """The years of the reports of ``forces`` (all reports with none) and of the
        inspections and reviews those reports speak of."""
        with self._lock:
            if self._inspected is None:
                by_force: dict[str, set[int]] = {}
                index = self.retriever.index
                for doc_id, m in index.metadata.items():
                    years = by_force.setdefault(m.force or "", set())
                    years.update(_report_dates(m))
                    years.update(int(y) for y in index.report_years(doc_id))
                self._inspected = by_force
        wanted = set(forces) if forces else set(self._inspected)
        return set().union(*(self._inspected.get(f, set()) for f in wanted))

    def report_types(self, forces: Sequence[str]) -> dict[str, set[str]]:
        """The report types the index holds of each of ``forces`` (read once per index)."""
        with self._lock:
            if self._types is None:
                types: dict[str, set[str]] = {}
                for m in self.retriever.index.metadata.values():
                    if m.report_type:
                        types.setdefault(m.force or "", set()).add(m.report_type)
                self._types = types
        return {f: self._types.get(f, set()) for f in forces}

    def acronym_keys(self) -> tuple[dict[str, str], dict[str, str]]:
        """The index's acronyms by their lower-case form ("rsos" -> "RSOs"), and by that form
        and its singular ("rso" -> "RSOs" too; the first acronym holding a form keeps it),
        built once."""
        if self._acronyms is None:
            acronyms = self.retriever.index.acronyms
            forms: dict[str, str] = {}
            for a in acronyms:
                forms.setdefault(a.lower(), a)
                forms.setdefault(a.lower().removesuffix("s"), a)
            self._acronyms = ({a.lower(): a for a in acronyms}, forms)
        return self._acronyms

    def synonyms(self, word: str) -> tuple[str, ...]:
        """The reports' words for a question word: its everyday-words entry ("kids" ->
        children) and, for an acronym the reports define, its long form ("rsos" ->
        registered sex offenders)."""
        key = self.acronym_keys()[0].get(word.lower())
        long = (self.retriever.index.acronyms[key],) if key else ()
        return (*EVERYDAY_TERMS.get(word, ()), *long)

    def spelt_out(self, term: str, present: set[str]) -> bool:
        """Whether ``term`` is an acronym whose long form the passages hold in full ("rso"
        with "registered sex offenders" there): the passages cover it, in other words."""
        key = self.acronym_keys()[1].get(term)
        if key is None:
            return False
        long = self.retriever.terms(self.retriever.index.acronyms[key])
        return bool(long) and all(t in present for t in long)

    def definition(self, question: str) -> tuple[str, str] | None:
        """The acronym a question asks the meaning of, as a report defines it, with its long
        form ("what does PVPU stand for?" -> ("PVPUs", "protecting vulnerable persons
        units")); None when it asks something else or no report defines the term."""
        term = defined_term(question)
        if term is None:
            return None
        forms = self.acronym_keys()[1]
        key = term.lower().replace("’", "'").removesuffix("'s")
        found = forms.get(key) or forms.get(key.removesuffix("s"))
        if found:
            return (found, self.retriever.index.acronyms[found])
        # Spelt out after it, "THRIVE (threat, harm, ...)": found in the answer's units.
        return (term, "") if re.fullmatch(r"[A-Z]{2,}s?", term) else None

    def defining_rows(
        self,
        question: str,
        allowed: NDArray[np.bool_] | None = None,
        limit: int | None = None,
    ) -> list[int]:
        """The passages (rows) where a report defines the acronym ``question`` asks the
        meaning of, in index order: a term used in many passages ("THRIVE") is defined in one,
        which a search for "what does THRIVE stand for?" need not rank first by its words.
        Only rows ``allowed`` keeps count, and the first ``limit`` of them are all a search
        can show: a term named in 38,000 passages is then read in a few of them, not all."""
        defined = self.definition(question)
        if defined is None:
            return []
        acronym, long = defined
        lex = self.retriever.index.lexical
        chunks = self.retriever.index.chunks
        rows = sorted({int(r) for t in lex.terms(acronym) for r in lex.rows_with(t).tolist()})
        found: list[int] = []
        for r in rows:
            if (allowed is None or allowed[r]) and defines(chunks[r].text, acronym, long):
                found.append(r)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def elsewhere_idf(self, terms: Sequence[str], forces: Sequence[str]) -> float:
        """The rarest of ``terms`` that the reports of ``forces`` never use but another
        force's report does (as IDF over the corpus's highest): "does Kent log missing kids
        on COMPACT?" asks of Kent what another force's report says. 0 with no forces."""
        if not forces:
            return 0.0
        r = self.retriever
        lex = r.index.lexical
        # the passages of the forces asked about, read through their reports: a term in
        # 100,000 passages is one vectorised look-up, not a set of 100,000 names
        asked_docs = r.allowed_docs(Filters(forces=tuple(forces)))
        if asked_docs is None:  # no force asked of: every report is
            return 0.0
        best = 0.0
        for t in terms:
            rows = lex.rows_with(t)
            if len(rows) and not asked_docs[r.doc_of[rows]].any():
                best = max(best, lex.idf(t) / (lex.max_idf or 1.0))
        return best

    def companion_texts(self, plan: QueryPlan) -> list[str]:
        """The texts ``respond`` will most likely encode besides the topic: the ask of a
        question that sets a scene first, and the question without its words the corpus
        never uses (``respond`` leaves out those no returned passage holds: the same text
        unless a word the corpus uses is missing from the passages too)."""
        if not len(self.retriever.index.sentences):
            return []
        out = []
        setup, ask = split_ask(plan.topic)
        if setup:
            out.append(ask)
        lex = self.retriever.index.lexical
        never = [
            t
            for t in uncovered_terms(plan.terms, plan.translated, set(), self._asking_terms(plan))
            if plan.terms[t] >= 1.0 and len(lex.rows_with(t)) == 0
        ]
        reduced = self._without(plan, never)
        if reduced:
            out.append(reduced)
        return out

    def _asking_terms(self, plan: QueryPlan) -> frozenset[str]:
        """Terms of how the question asks (ASKING_WORDS, the word after "how"), not of what."""
        r = self.retriever
        return self.asking().union(*(r.terms(w) for w in how_words(plan.topic)))

    def _without(self, plan: QueryPlan, terms: Sequence[str]) -> str | None:
        """The question's topic without its words behind ``terms`` (None: nothing left out)."""
        return without(plan.topic, original_words(plan.topic, set(terms), self.retriever.terms))

    def passage_input(self, hit: Hit) -> PassageInput:
        """A hit's text with its sentences' spans, vectors and boilerplate flags."""
        index = self.retriever.index
        rows = rows_of(hit.chunk.chunk_id, index.row_of, index.chunks) or (hit.row,)
        flags, about = self.repeated(), self.boilerplate()
        spans: list[tuple[int, int]] = []
        vectors: list[NDArray[np.float32]] = []
        plate: list[bool] = []
        inspection: list[bool] = []
        terms: list[frozenset[str]] = []
        for row in rows:
            member = index.chunks[row]
            own, vecs = index.sentences.of_chunk(row)
            local = [(int(a), int(b)) for a, b in own.tolist()]
            if not local:
                continue
            shifted = shift_spans(hit.chunk.text, member, local) if len(rows) > 1 else local
            if len(shifted) != len(local):
                continue
            first = int(index.sentences.first[row])
            terms.extend(info[1] for info in self.retriever.sentences_of(row))
            spans.extend(shifted)
            vectors.append(vecs)
            # one flag per stored sentence (answer/boilerplate.py), so a slice per chunk
            plate.extend(flags[first : first + len(local)].tolist())
            inspection.extend(about[first : first + len(local)].tolist())
        return PassageInput(
            hit.chunk.text,
            spans,
            np.concatenate(vectors) if vectors else np.zeros((0, 1), dtype=np.float32),
            plate,
            terms,
            hit.chunk.section,
            hit.score,
            hit.dense,
            hit.chunk.doc_id,
            hit.document.metadata.force,
            tuple(inspection),
        )

    def respond(
        self,
        result: SearchResult,
        groups: Sequence[tuple[int, ...]],
        weights: list[tuple[str, float]],
        topic: NDArray[np.float32] | None,
        confidence: float,
        compared: Sequence[str],
        cfg: RetrievalConfig,
    ) -> SearchResult:
        """``result`` with highlights, answer sentences, state and confidence filled in."""
        r = self.retriever
        plan = result.plan
        hits = result.hits
        passages = [self.passage_input(h) for h in hits]
        # content words: those the lexical index keeps (not through the retriever's text cache,
        # which holds passages and sentences)
        question_words = {w for w in words_of(plan.topic) if r.index.lexical.terms(w)}
        lex = r.index.lexical
        max_idf = lex.max_idf or 1.0
        asking = self._asking_terms(plan)
        cover = [
            (t, w * (lex.idf(t) or max_idf))
            for t, w in plan.terms.items()
            if t not in plan.translated and t not in asking
        ]
        # The question's words no returned passage holds, and the question without them.
        present: set[str] = set()
        for h in hits[:5]:
            present.update(r.terms(h.chunk.text))
        missing_terms = [
            t
            for t in uncovered_terms(plan.terms, plan.translated, present, asking)
            if not self.spelt_out(t, present)
        ]
        strong_missing = [t for t in missing_terms if plan.terms[t] >= 1.0]
        reduced = self._without(plan, strong_missing)
        shorter = r.encode(reduced) if reduced and topic is not None else None
        setup, ask = split_ask(plan.topic)
        ask_terms = frozenset(lex.terms(ask)) if setup else frozenset()
        setup_terms = frozenset(lex.terms(setup)) if setup else frozenset()
        cands = candidates(
            passages,
            topic,
            plan.topic,
            weights,
            r.terms,
            question_words,
            cover,
            ask_terms,
            setup_terms,
            # What a question that tells a case asks, embedded on its own.
            r.encode(ask) if setup and topic is not None else None,
            shorter,
        )
        scorer = ranker()
        ranked = rank(cands, scorer)
        # "What does PVPU stand for?": the sentence where a report defines it answers.
        defined = self.definition(plan.question)
        defining = defining_first(ranked, *defined) if defined else None
        if defining is not None:
            ranked = defining
        if not result.filters.forces:  # a unit or scheme the question names: its report's
            ranked = naming_first(r, plan.question, ranked)
        ranked = naming_lead(r, plan.question, ranked)  # and the unit itself
        if setup:  # the case a question retells is not its answer
            told = [(t, w) for t, w in cover if t in setup_terms]
            ranked = restated_scene(ranked, setup, told, r.terms)

        # Highlights: each passage's best unit (the lead's own passage: the lead).
        best_of: dict[int, Candidate] = {}
        for c, _ in ranked:
            best_of.setdefault(c.hit, c)
        new_hits = []
        for n, (hit, group) in enumerate(zip(hits, groups, strict=True)):
            best = best_of.get(n)
            if best is not None:
                spans: tuple[tuple[int, int], ...] = ((best.unit.start, best.unit.end),)
            else:
                spans = self._fallback(hit, group[0], weights, topic)
            new_hits.append(replace(hit, highlights=spans))

        # The decision.
        uncovered_idf = max(
            ((lex.idf(t) or max_idf) / max_idf for t in strong_missing),
            default=0.0,
        )
        years = years_missing(
            plan.question,
            self.known_years(),
            (h.chunk.text for h in hits),
            # Only a question naming a year needs them.
            self.inspected_years(result.filters.forces) if names_year(plan.question) else None,
        )
        dense_best = max(range(len(hits)), key=lambda i: hits[i].dense)
        lexical_best = max(range(len(hits)), key=lambda i: hits[i].lexical)
        texts = [h.chunk.text for h in hits[:5]]
        # The answerability model reads the linear ranker's probabilities (answer/trees.py).
        by_linear = rank(cands, linear_part(scorer))
        by_linear = (defining_first(by_linear, *defined) if defined else None) or by_linear
        x = features(
            by_linear,
            plan.question,
            confidence,
            hits[0].dense,
            hits[0].lexical,
            dense_best == lexical_best,
            uncovered_idf,
            bool(years),
            len(plan.terms),
            self.elsewhere_idf(strong_missing, result.filters.forces),
            bool(numbers_unmatched(plan.question, texts)),
        )
        # The answer as shown: its lead may be a run of two units, and the checks below read
        # what the reader reads first.
        composed = compose(ranked, compared if len(compared) >= 2 else ())
        lead = composed[0][0].text if composed else ""
        given = (not ranked or gives_count_of(plan.question, lead, lex.terms, self.synonyms), lead)
        said = change_said(plan.question, plan.topic, lead, r.terms)  # a change taken as given
        # A name the reports never use ("in Boston"), or an age, age group or agency the lead
        # gives as another: the answer is about something else.
        names = unknown_names(
            original_words(plan.topic, {t for t in strong_missing if not lex.idf(t)}, r.terms)
        )
        swap = lead_unsaid(self, plan, result.filters.forces, composed, passages, texts, asking)
        if names:
            swap = f"anything on {', '.join(names)}"
        decision = decide(x, answerability(), plan.question, (), years, *given, said, swap)
        if decision.state == "partial" and missing_terms and not years and not swap:
            # Name the question's own words the reports lack (tokenized only when needed).
            words = original_words(plan.topic, set(missing_terms), r.terms)
            decision = decide(x, answerability(), plan.question, words, years, *given, said)
        if defining is not None and decision.state != "answered":
            decision = replace(decision, state="answered", missing=None)
        if plan.forces_missing and cfg.force_filter:
            decision = replace(decision, state="not_answered")
        state = decision.state
        picks: tuple[AnswerPick, ...] = ()
        if state != "not_answered":
            picks = tuple(
                AnswerPick(c.hit, c.unit.start, c.unit.end, round(p, 4), c.force)
                for c, p in composed
            )
            if not picks:
                state = "not_answered"
        message = result.message if (plan.forces_missing and cfg.force_filter) else None
        if state == "not_answered" and message is None:
            message = NOT_ANSWERED
        elif state == "partial":
            # Not "they cover this topic": the missing part may be the topic ("salary").
            message = f"The reports do not give {decision.missing}."
        return replace(
            result,
            answerable=state != "not_answered",
            hits=new_hits,
            message=message,
            state=state,
            confidence=decision.confidence,
            missing=decision.missing if state == "partial" else None,
            answer=picks,
            candidates=tuple((c, p) for c, p in ranked),
            answer_features=tuple(float(v) for v in x),
        )

    def _fallback(
        self,
        hit: Hit,
        row: int,
        weights: list[tuple[str, float]],
        topic: NDArray[np.float32] | None,
    ) -> tuple[tuple[int, int], ...]:
        """Highlights of a passage with no answer unit (a table, a list of fragments): its
        best sentence by query terms and similarity."""
        index = self.retriever.index
        own, vectors = index.sentences.of_chunk(row)
        member = index.chunks[row]
        info = sentence_info(member.text, self.retriever.terms, [tuple(s) for s in own.tolist()])
        if not info:
            info = sentence_info(member.text, self.retriever.terms)
            topic = None
        dense = np.clip(vectors @ topic, 0.0, 1.0) if topic is not None and len(vectors) else None
        spans = pick_highlights(score_info(info, weights), dense)
        return shift_spans(hit.chunk.text, member, spans)


def _report_dates(m: Metadata) -> set[int]:
    """The years a report is from: its inspection's and its publication's."""
    years = {m.inspection_year} if m.inspection_year else set()
    if m.published and m.published[:4].isdigit():
        years.add(int(m.published[:4]))
    return years
