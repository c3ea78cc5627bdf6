"""Retrieval on the real corpus and model: filters, forces, highlights, the offset rule."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from qa_service.answer.retriever import Retriever
from qa_service.evaluation.retrieval import load_questions
from qa_service.index.store import IndexStoreError
from qa_service.ingest.textnorm import matches_span
from qa_service.search.passages import passage_dict
from qa_service.search.types import Filters
from qa_service.settings import Settings

QUESTIONS = Path(__file__).resolve().parents[2] / "eval" / "questions.jsonl"


def test_kent_detention_question(retriever) -> None:
    res = retriever.search("does Kent still hold under-18s at the station after charge?", top_k=5)
    assert res.answerable and res.filters.forces == ("Kent Police",)
    assert all(h.document.metadata.force == "Kent Police" for h in res.hits)
    assert any("police detention" in " ".join(h.chunk.section).lower() for h in res.hits[:3])


def test_force_outside_corpus_is_not_answerable(retriever) -> None:
    res = retriever.search("How does Essex Police deal with missing children?")
    assert not res.answerable and res.hits == []
    assert "Essex Police" in (res.message or "")
    for force in (
        "Kent Police",
        "Lancashire Constabulary",
        "Leicestershire Police",
        "Lincolnshire Police",
    ):
        assert force in (res.message or "")


def test_off_topic_question_is_not_answerable(retriever) -> None:
    res = retriever.search("What is the best recipe for a Victoria sponge cake?")
    assert not res.answerable


def test_explicit_filters(retriever) -> None:
    f = Filters(report_types=("inspection",))
    res = retriever.search("missing children", top_k=10, filters=f)
    assert res.hits and all(h.document.metadata.report_type == "inspection" for h in res.hits)
    f = Filters(year_from=2019, year_to=2021)
    res = retriever.search("appropriate adults", top_k=10, filters=f)
    years = {h.document.metadata.inspection_year for h in res.hits}
    assert years and years <= {2019, 2021}
    # The web review writes the area's heading whole: "Post-inspection review findings: ..."
    f = Filters(
        forces=("Lincolnshire Police",),
        section=("Post-inspection review findings: Police detention",),
    )
    res = retriever.search("appropriate adults", top_k=10, filters=f)
    assert res.hits and all(
        h.chunk.section[:1] == ("Post-inspection review findings: Police detention",)
        for h in res.hits
    )
    # the two sides of that heading, as a path, find the same section
    f = Filters(
        forces=("Lincolnshire Police",),
        section=("Post-inspection review findings", "Police detention"),
    )
    again = retriever.search("appropriate adults", top_k=10, filters=f)
    assert [h.chunk.chunk_id for h in again.hits] == [h.chunk.chunk_id for h in res.hits]


def test_compare_question_reaches_every_named_force(retriever) -> None:
    res = retriever.search("How do Kent and Lincolnshire compare on appropriate adults?", top_k=3)
    assert {h.document.metadata.force for h in res.hits[:2]} == {
        "Kent Police",
        "Lincolnshire Police",
    }


def test_no_overlapping_results(retriever) -> None:
    res = retriever.search("supervision of investigations", top_k=20)
    spans = sorted((h.chunk.doc_id, h.chunk.start, h.chunk.end) for h in res.hits)
    for (d1, _, e1), (d2, s2, _) in itertools.pairwise(spans):
        assert d1 != d2 or e1 <= s2


def test_every_eval_result_satisfies_the_offset_rule(retriever) -> None:
    """All results of the whole eval run: CONTRACT.md offsets and highlights inside the text."""
    checked = 0
    for q in load_questions(QUESTIONS):
        res = retriever.search(q.question, top_k=10)
        for hit in res.hits:
            p = passage_dict(hit)
            doc = hit.document
            assert matches_span(doc.text, p["char_start"], p["char_end"], p["text"])
            for a, b in p["highlights"]:
                assert 0 <= a < b <= len(p["text"])
            assert p["section"] and p["force"] and p["source"] == doc.source
            checked += 1
    assert checked > 1500


def test_mismatched_model_is_refused(built_index: Path) -> None:
    from qa_service.answer.service import open_retriever

    with pytest.raises(IndexStoreError, match="built with model"):
        open_retriever(Settings(index_dir=built_index, model="some/other-model"))


def test_passage_json_has_contract_fields(retriever) -> None:
    res = retriever.search("MOSOVO training", top_k=1)
    p = passage_dict(res.hits[0])
    assert set(p) >= {
        "passage_id",
        "doc_id",
        "source",
        "title",
        "force",
        "report_type",
        "published",
        "section",
        "char_start",
        "char_end",
        "text",
        "score",
        "highlights",
    }
    json.dumps(p)


def test_sentence_scoring_of_candidates_only_matches_a_full_scan(retriever, monkeypatch) -> None:
    """Above SENTENCE_SCAN_LIMIT an exact index scores only its best passages' sentences;
    with every passage a candidate, that path must give exactly the full scan's ranking."""
    import qa_service.search.retriever as rmod

    questions = [
        "how does Kent handle missing children?",
        "are children held in custody overnight after charge?",
        "what training do call handlers get about vulnerable children?",
    ]
    full = [[h.chunk.chunk_id for h in retriever.search(q, top_k=10).hits] for q in questions]
    scores = [[round(h.score, 6) for h in retriever.search(q, top_k=10).hits] for q in questions]
    monkeypatch.setattr(rmod, "SENTENCE_SCAN_LIMIT", 0)
    assert len(retriever.index.chunks) <= rmod.SENTENCE_CANDIDATES
    assert [
        [h.chunk.chunk_id for h in retriever.search(q, top_k=10).hits] for q in questions
    ] == full
    assert [
        [round(h.score, 6) for h in retriever.search(q, top_k=10).hits] for q in questions
    ] == scores


def test_warm_fills_the_caches_a_search_reads(retriever) -> None:  # type: ignore[no-untyped-def]
    question = "does Kent still hold under-18s at the station after charge?"

    def new_texts(r: Retriever) -> int:
        before = r._terms.cache_info().misses
        r.search(question)
        return int(r._terms.cache_info().misses - before)

    cold = Retriever(retriever.index, retriever.embedder, retriever.config)
    warm = Retriever(retriever.index, retriever.embedder, retriever.config)
    warm.warm()
    texts = len(warm.index.chunks) + len(warm.index.sentences)
    assert warm._terms.cache_info().currsize >= texts * 0.95  # identical texts share an entry
    # warm: only the question's own texts (its topic, expansion phrases) are tokenized; cold:
    # every returned passage and its sentences too
    assert new_texts(warm) <= 12 < 40 <= new_texts(cold)
