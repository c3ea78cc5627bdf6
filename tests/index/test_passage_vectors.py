"""Passage vectors pooled from sentence vectors: the pure pooling against numpy by hand, the
heading context recovered from the embedded text, and which texts get embedded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qa_service.index.passage_vectors import fill_pooled, heading_context, pool
from qa_service.index.reuse import EmbedStats, VectorCache
from qa_service.types import Chunk


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_pool_is_the_unit_weighted_sum_of_each_group() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 4)).astype(np.float32)
    weights = np.array([1, 2, 3, 4, 5], dtype=np.float32)
    got = pool(vectors, weights, [[0, 1], [2], [2, 3, 4]])
    expected = [
        _unit(vectors[0] * 1 + vectors[1] * 2),
        _unit(vectors[2]),
        _unit(vectors[2] * 3 + vectors[3] * 4 + vectors[4] * 5),
    ]
    np.testing.assert_allclose(got, np.stack(expected), rtol=1e-5, atol=1e-6)
    assert got.dtype == np.float32


def _chunk(corpus_chunks: list[Chunk], text: str, embed_text: str) -> Chunk:
    return dataclasses.replace(corpus_chunks[0], text=text, embed_text=embed_text)


def test_heading_context_is_the_line_before_the_passage(corpus_chunks: list[Chunk]) -> None:
    with_context = [c for c in corpus_chunks if c.embed_text != c.text and "\n" in c.embed_text]
    assert with_context
    for c in with_context[:20]:
        context = heading_context(c)
        assert context and c.embed_text.startswith(context + "\n")
    body = "First line of the passage.\nSecond line."
    assert heading_context(_chunk(corpus_chunks, body, body)) == ""
    assert heading_context(_chunk(corpus_chunks, "One line.", "One line.")) == ""
    assert heading_context(_chunk(corpus_chunks, "Text.", "Kent: Custody\nText.")) == (
        "Kent: Custody"
    )


def test_fill_pooled_embeds_only_contexts_and_sentenceless_passages(
    corpus_chunks: list[Chunk],
) -> None:
    a = _chunk(corpus_chunks, "One. Two.", "Kent: Custody\nOne. Two.")
    b = _chunk(corpus_chunks, "Three.", "Kent: Custody\nThree.")
    table = _chunk(corpus_chunks, "| a | b |", "Kent: Tables\n| a | b |")
    known = _chunk(corpus_chunks, "Old.", "Old.")
    chunks = [a, b, table, known, a]  # a repeated: pooled once
    owner, texts = [0, 0, 1, 3, 4, 4], ["One.", "Two.", "Three.", "Old.", "One.", "Two."]
    rng = np.random.default_rng(1)
    table_of = {t: _unit(rng.normal(size=3)).astype(np.float32) for t in set(texts)}
    sentences = VectorCache(3)
    sentences.add(list(table_of), np.stack(list(table_of.values())))
    passages = VectorCache(3)
    passages.add(["Old."], np.ones((1, 3), dtype=np.float32))
    asked: list[list[str]] = []

    def embed(batch: list[str]) -> np.ndarray:
        asked.append(batch)
        return np.stack([_unit(np.arange(1, 4, dtype=np.float32) + len(t)) for t in batch])

    stats = EmbedStats()
    fill_pooled(chunks, owner, texts, passages, sentences, embed, len, stats)
    assert sorted(asked[0]) == sorted(["Kent: Custody", "Kent: Tables\n| a | b |"])
    assert len(asked) == 1 and (stats.embedded, stats.reused) == (3, 1)
    context = embed(["Kent: Custody"])[0]
    expected = _unit(
        table_of["One."] * len("One.")
        + table_of["Two."] * len("Two.")
        + context * len("Kent: Custody")
    )
    np.testing.assert_allclose(passages.take([a.embed_text])[0], expected, rtol=1e-5)
    np.testing.assert_allclose(
        passages.take([table.embed_text])[0], embed([table.embed_text])[0], rtol=1e-6
    )
    np.testing.assert_array_equal(passages.take(["Old."])[0], np.ones(3))


@pytest.mark.parametrize("mode", ["passage", "sentences"])
def test_stored_vectors_are_reused_only_by_the_same_setting(mode: str) -> None:
    from qa_service.index.reuse import embedder_signature
    from qa_service.settings import Settings

    mine = embedder_signature(Settings(passage_vectors=mode))
    other = embedder_signature(
        Settings(passage_vectors="passage" if mode == "sentences" else "sentences")
    )
    assert mine != other
    assert ("passage_vectors" in mine) == (mode == "sentences")  # older indexes: "passage"


def test_a_new_passage_is_pooled_from_fresh_vectors_only(corpus_chunks: list[Chunk]) -> None:
    """A sentence the store holds (read back from int8 codes) is embedded again for a new
    passage, so the passage's vector is the one a build from scratch makes."""
    new = _chunk(corpus_chunks, "Stored. Fresh.", "Stored. Fresh.")
    sentences = VectorCache(3)
    sentences.add(["Stored."], np.array([[0.0, 0.0, 1.0]], dtype=np.float32))  # from the store
    sentences.add(["Fresh."], np.array([[0.0, 1.0, 0.0]], dtype=np.float32))  # this build's
    asked: list[str] = []

    def embed(batch: list[str]) -> np.ndarray:
        asked.extend(batch)
        return np.array([[1.0, 0.0, 0.0]] * len(batch), dtype=np.float32)

    passages = VectorCache(3)
    owner, texts = [0, 0], ["Stored.", "Fresh."]
    fill_pooled([new], owner, texts, passages, sentences, embed, len, EmbedStats(), fresh_from=1)
    assert asked == ["Stored."]
    np.testing.assert_allclose(passages.take([new.embed_text])[0], _unit(np.array([7, 6, 0.0])))
