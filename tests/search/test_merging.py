"""Adjacent passages of one finding returned as one passage (qa_service/search/merging.py)."""

from __future__ import annotations

from qa_service.ingest.textnorm import matches_span
from qa_service.search.merging import (
    ID_SEPARATOR,
    MAX_MERGED,
    adjacent,
    group_adjacent,
    merged_chunk,
    rows_of,
    shift_spans,
)
from qa_service.types import BlockType, Chunk, Document


def _neighbours(chunks: list[Chunk]) -> list[int]:
    """Rows whose next row is adjacent to them."""
    return [i for i in range(len(chunks) - 1) if adjacent(chunks[i], chunks[i + 1])]


def test_merged_passages_keep_the_offset_rule_and_resolve_by_id(
    corpus_docs: dict[str, Document], corpus_chunks: list[Chunk]
) -> None:
    row_of = {c.chunk_id: i for i, c in enumerate(corpus_chunks)}
    texts = {d.doc_id: d.text for d in corpus_docs.values()}
    pairs = _neighbours(corpus_chunks)
    assert len(pairs) > 50  # the real reports have many sections cut in two or more
    for i in pairs:
        a, b = corpus_chunks[i], corpus_chunks[i + 1]
        canonical = texts[a.doc_id]
        merged = merged_chunk(canonical, [b, a])  # any order in, text order out
        assert (merged.start, merged.end) == (a.start, b.end)
        assert matches_span(canonical, merged.start, merged.end, merged.text)
        assert merged.chunk_id == f"{a.chunk_id}{ID_SEPARATOR}{b.chunk_id}"
        assert rows_of(merged.chunk_id, row_of, corpus_chunks) == (i, i + 1)
        # both halves' text is in the merged text, so their highlights carry over
        for member in (a, b):
            spans = shift_spans(merged.text, member, [(0, 10), (5, len(member.text))])
            assert [merged.text[s:e] for s, e in spans] == [
                member.text[:10],
                member.text[5:],
            ]


def test_ids_that_name_no_passage(corpus_chunks: list[Chunk]) -> None:
    row_of = {c.chunk_id: i for i, c in enumerate(corpus_chunks)}
    i = _neighbours(corpus_chunks)[0]
    a, b = corpus_chunks[i], corpus_chunks[i + 1]
    assert rows_of(a.chunk_id, row_of, corpus_chunks) == (i,)
    assert rows_of(f"{b.chunk_id}+{a.chunk_id}", row_of, corpus_chunks) is None  # out of order
    assert rows_of(f"{a.chunk_id}+nope", row_of, corpus_chunks) is None
    far = next(j for j, c in enumerate(corpus_chunks) if c.doc_id != a.doc_id)
    assert rows_of(f"{a.chunk_id}+{corpus_chunks[far].chunk_id}", row_of, corpus_chunks) is None
    chain = [c.chunk_id for c in corpus_chunks[i : i + MAX_MERGED + 1]]
    assert rows_of(ID_SEPARATOR.join(chain), row_of, corpus_chunks) is None  # too many


def _chunk(ordinal: int, section: str = "A", doc: str = "d") -> Chunk:
    return Chunk(
        chunk_id=f"{doc}{ordinal}",
        doc_id=doc,
        source=f"{doc}.txt",
        section=(section,),
        section_index=0,
        type="text",
        start=ordinal * 10,
        end=ordinal * 10 + 9,
        text="x" * 9,
        embed_text="x" * 9,
        n_tokens=3,
        n_model_tokens=3,
        ordinal=ordinal,
    )


def test_grouping_joins_neighbours_among_the_best_candidates() -> None:
    chunks = [_chunk(k) for k in range(6)] + [_chunk(k, doc="e") for k in range(6)]
    chunks[3] = _chunk(3, section="B")  # a section boundary between rows 2 and 3
    # ranked best first: 0, 6 (other report), 1 (next to 0), 2 (next to 1, but 0+1 is full),
    # 3 (other section), 9, 4 (next to 3), 10
    ranked = [0, 6, 1, 2, 3, 9, 4, 10]
    assert group_adjacent(ranked, chunks, top_k=3, window=6) == [(0, 1), (6,), (2,)]
    # 4 follows 3 in the report but not in its section: it stays out
    assert group_adjacent(ranked, chunks, top_k=4, window=8) == [(0, 1), (6,), (2,), (3,)]
    # once top_k results are kept, a later candidate can still join one of them
    assert group_adjacent([0, 6, 2, 9, 7], chunks, top_k=2, window=5) == [(0,), (6, 7)]
    # no neighbours: the ranking as is; too few candidates in the window: filled from after it
    assert group_adjacent([0, 6, 9], chunks, top_k=2, window=4) == [(0,), (6,)]
    assert group_adjacent([0, 1, 6, 9], chunks, top_k=3, window=2) == [(0, 1), (6,), (9,)]


def _typed(cid: str, ctype: BlockType, ordinal: int, attached_to: str | None = None) -> Chunk:
    meta: dict[str, str | int | None] = {"attached_to": attached_to} if attached_to else {}
    return Chunk(
        cid,
        "d",
        "d.md",
        ("S",),
        0,
        ctype,
        ordinal * 10,
        ordinal * 10 + 9,
        "t",
        "t",
        1,
        1,
        ordinal,
        meta,
    )


def test_passages_of_different_types_never_merge() -> None:
    text, table = _typed("a", "text", 0), _typed("b", "table", 1)
    assert not adjacent(text, table)
    assert adjacent(text, _typed("c", "text", 1))


def test_attached_passages_ride_along_with_their_host() -> None:
    import numpy as np

    from qa_service.index.passage_store import host_rows
    from qa_service.search.merging import ride_along

    chunks = [_typed("a", "text", 0), _typed("b", "text", 1), _typed("n", "footnote", 2, "a")]
    host = host_rows(chunks)
    assert host.tolist() == [-1, -1, 0]
    scores = np.array([0.2, 0.5, 0.9], dtype=np.float32)
    out = ride_along(scores, host, lift=0.8)
    assert out[2] == -np.inf  # never ranked on its own
    assert out[0] == np.float32(0.9) * np.float32(0.8)  # its host rises to the lifted score
    assert out[1] == np.float32(0.5)
    # a host already above the lifted score keeps its own
    out = ride_along(np.array([0.95, 0.5, 0.9], np.float32), host, lift=0.8)
    assert out[0] == np.float32(0.95)
    # scored rows only (the candidate path): a host outside them gets nothing
    rows = np.array([1, 2], dtype=np.int64)
    out = ride_along(np.array([0.5, 0.9], np.float32), host, rows, lift=0.8)
    assert out.tolist()[0] == np.float32(0.5) and out[1] == -np.inf
