"""The candidate path (large indexes) against the exact path, which is the judge."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qa_service.answer.retriever import Retriever
from qa_service.index.dense import DenseIndex, SentenceVectors
from qa_service.index.topk import top_indices, top_rows
from qa_service.ingest.lines import title_key
from qa_service.search import candidates
from qa_service.search.types import Filters

QUESTIONS = Path(__file__).resolve().parents[2] / "eval" / "questions.jsonl"


def _questions() -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.open(encoding="utf-8")]
    return [r["question"] for r in rows]


def _candidate(retriever, index=None) -> Retriever:  # type: ignore[no-untyped-def]
    """The same index and settings, with every search taking the candidate path."""
    return Retriever(
        index or retriever.index, retriever.embedder, retriever.config, fusion_scan_limit=0
    )


@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=60),  # few values: many ties
    st.integers(0, 70),
    st.randoms(use_true_random=False),
)
@settings(max_examples=200, deadline=None)
def test_top_rows_is_top_indices_over_the_corpus(values: list[int], m: int, rnd) -> None:  # type: ignore[no-untyped-def]
    """Given some rows of a corpus, top_rows picks what top_indices picks from the corpus
    array with every other row at -inf (same ties-by-row order)."""
    rows = np.array(sorted(rnd.sample(range(200), len(values))), dtype=np.int64)
    rnd.shuffle(rows)  # candidates arrive in any order
    scores = np.array(values, dtype=np.float32)
    corpus = np.full(200, -np.inf, dtype=np.float32)
    corpus[rows] = scores
    want = top_indices(corpus, min(m, len(rows)))
    assert top_rows(rows, scores, m).tolist() == want.tolist()


def test_lexical_top_is_the_exact_top(retriever) -> None:  # type: ignore[no-untyped-def]
    """The top k read off a score bound (with and without a row filter) is the top k of
    the full BM25 array, ties included; ``scores_of`` some rows gives the same floats."""
    lex = retriever.index.lexical
    n = lex.size
    odd = np.arange(n) % 3 != 0
    for q in _questions()[:60]:
        terms = retriever.plan(q).terms
        full = lex.scores(terms)
        for k in (1, 5, 20, 100, n):
            matched = np.where(full > 0, full, -np.inf)
            want = [int(i) for i in top_indices(matched, k) if np.isfinite(matched[i])]
            got, total = lex.top(terms, k)
            assert got.tolist() == want, (q, k)
            assert np.array_equal(total, full)
            kept = np.where(odd, matched, -np.inf)
            want = [int(i) for i in top_indices(kept, k) if np.isfinite(kept[i])]
            assert lex.top(terms, k, lambda r: odd[r])[0].tolist() == want, (q, k)
        for rows in (np.flatnonzero(odd), np.arange(40, 90), np.arange(0, n, 5), np.arange(0)):
            assert np.array_equal(lex.scores_of(terms, rows), full[rows]), q


def _agreement(exact: Retriever, cand: Retriever, qs: list[str]) -> tuple[float, float, float]:
    top1 = overlap = answerable = 0.0
    n = 0
    for q in qs:
        a, b = exact.search(q), cand.search(q)
        ea, eb = [h.row for h in a.hits], [h.row for h in b.hits]
        if not ea:
            assert not eb
            continue
        n += 1
        top1 += bool(eb) and ea[0] == eb[0]
        overlap += len(set(ea) & set(eb)) / len(ea)
        answerable += a.answerable == b.answerable
    return top1 / n, overlap / n, answerable / n


def test_candidate_path_agrees_with_the_exact_path(retriever) -> None:  # type: ignore[no-untyped-def]
    """Measured on every evaluation question: the first passage and the top five mostly
    agree (1.0 and 0.99 here; 0.97 and 0.98 on a 100-report synthetic index)."""
    top1, overlap, answerable = _agreement(retriever, _candidate(retriever), _questions())
    assert top1 >= 0.9 and overlap >= 0.9 and answerable >= 0.95, (top1, overlap, answerable)


def test_candidate_path_with_an_approximate_index(retriever) -> None:  # type: ignore[no-untyped-def]
    """The HNSW index supplies the dense candidates (as at 1,000 reports and more)."""
    index = retriever.index
    hnsw = dataclasses.replace(index, dense=DenseIndex.build(index.dense.vectors, 0))
    qs = _questions()[::4]
    top1, overlap, _ = _agreement(retriever, _candidate(retriever, hnsw), qs)
    assert top1 >= 0.85 and overlap >= 0.85, (top1, overlap)


def _filter_cases(retriever) -> list[Filters]:  # type: ignore[no-untyped-def]
    docs = list(retriever.index.documents.values())
    force = docs[0].metadata.force
    year = docs[1].metadata.inspection_year
    heading = retriever.index.chunks[len(retriever.index.chunks) // 2].section[0]
    return [
        Filters(forces=(force,)) if force else Filters(),
        Filters(year_from=year, year_to=year),
        Filters(section=(heading,)),
        Filters(doc_ids=(docs[2].doc_id,)),
        Filters(doc_ids=(docs[0].doc_id, docs[3].doc_id), section=(heading,)),
    ]


def _check_filtered(exact: Retriever, cand: Retriever, f: Filters) -> None:
    want = tuple(title_key(s) for s in f.section)
    for q in ["how are missing children found?", "training for call handlers", "custody"]:
        got = cand.search(q, top_k=5, filters=f)
        ref = exact.search(q, top_k=5, filters=f)
        for h in got.hits:
            m = h.document.metadata
            assert not f.forces or m.force in f.forces
            assert not f.doc_ids or h.document.doc_id in f.doc_ids
            assert f.year_from is None or (m.inspection_year or 0) >= f.year_from
            assert f.year_to is None or (m.inspection_year or 10**4) <= f.year_to
            assert tuple(title_key(t) for t in h.chunk.section[: len(want)]) == want
        assert len(got.hits) == len(ref.hits)
        assert len({h.row for h in got.hits} & {h.row for h in ref.hits}) >= len(ref.hits) - 1


def test_filters_apply_on_the_candidate_path(retriever) -> None:  # type: ignore[no-untyped-def]
    """Filters leaving few passages are scored exactly over what they leave."""
    cand = _candidate(retriever)
    for f in _filter_cases(retriever):
        _check_filtered(retriever, cand, f)


def test_filters_apply_to_candidates(retriever, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Filters leaving many passages are applied to the candidates (over-fetched)."""
    monkeypatch.setattr(candidates, "SUBSET_SCAN_LIMIT", 0)
    index = retriever.index
    hnsw = dataclasses.replace(index, dense=DenseIndex.build(index.dense.vectors, 0))
    for idx in (index, hnsw):
        cand = _candidate(retriever, idx)
        for f in _filter_cases(retriever):
            _check_filtered(retriever, cand, f)


def test_float16_sentence_vectors(tmp_path: Path, retriever) -> None:  # type: ignore[no-untyped-def]
    """Held as float16 above a size: scores within 1e-3, and on the real corpus the same
    answer sentences are highlighted."""
    sv = retriever.index.sentences
    # float32 as an index built before int8 codes stores them (int8 is never held as float16)
    SentenceVectors(sv.rows(np.arange(len(sv))), sv.owner, sv.spans).save(tmp_path)
    half = SentenceVectors.load(tmp_path, f16_above=0)
    assert half.vectors.dtype == np.float16
    q = retriever.encode("appropriate adults in custody")
    rows = np.arange(len(retriever.index.chunks))
    assert np.allclose(half.best_of_rows(q, rows), sv.best_of_rows(q, rows), atol=1e-3)
    assert half.of_chunk(3)[1].dtype == np.float32
    f16 = Retriever(
        dataclasses.replace(retriever.index, sentences=half), retriever.embedder, retriever.config
    )
    same = total = 0
    for q in _questions()[::3]:
        a, b = retriever.search(q), f16.search(q)
        for ha, hb in zip(a.hits, b.hits, strict=False):
            total += 1
            same += ha.row == hb.row and ha.highlights == hb.highlights
    assert same / total >= 0.97, same / total


def test_scores_of_runs_and_scattered_rows() -> None:
    """Rows in long consecutive runs are scored in place; any rows give the brute-force
    cosines, in the order asked."""
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(20_000, 16)).astype(np.float32)
    index = DenseIndex(vecs, None, "flat")
    q = vecs[3]
    runs = np.concatenate([np.arange(a, a + 40) for a in range(0, 20_000, 400)])
    scattered = np.sort(rng.choice(20_000, 3_000, replace=False))
    for rows in (runs, scattered, runs[:10], np.zeros(0, dtype=np.int64)):
        np.testing.assert_allclose(index.scores_of(q, rows), vecs[rows] @ q, rtol=1e-5, atol=1e-5)


def test_a_pinned_passage_the_candidates_missed_still_ranks_first(retriever) -> None:  # type: ignore[no-untyped-def]
    """The passage that spells out the acronym asked about leads on both paths, and a filter
    that excludes its report keeps it out."""
    question = "what does THRIVE stand for?"
    want = retriever.answers.defining_rows(question)
    assert want
    big = _candidate(retriever)
    for r in (retriever, big):
        assert r.search(question).hits[0].row == want[0]
    force = retriever.force_of[want[0]]
    others = [f for f in {*retriever.force_of} if f and f != force]
    hits = big.search(question, filters=Filters(forces=tuple(others))).hits
    assert all(h.row not in want for h in hits)


def test_defining_rows_read_only_what_a_search_can_show(retriever) -> None:  # type: ignore[no-untyped-def]
    """The rows that define an acronym stop at the limit, in index order, and skip rows the
    filters leave out, as if every row were checked and the rest cut off."""
    question = "what does CSE stand for?"
    every = retriever.answers.defining_rows(question)
    assert len(every) >= 2
    assert retriever.answers.defining_rows(question, limit=1) == every[:1]
    allowed = np.ones(len(retriever.index.chunks), dtype=bool)
    allowed[every[0]] = False
    assert retriever.answers.defining_rows(question, allowed, 1) == every[1:2]
