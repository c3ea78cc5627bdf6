"""Passage vectors pooled from sentence vectors (``Settings.passage_vectors = "sentences"``).

``qa index`` embeds every sentence of every passage for the answer ranker. Embedding each
passage as a whole as well runs every token through the model twice; pooling instead makes a
passage's vector from its sentences' vectors and its heading context's (the words the chunker
puts before the passage text in ``Chunk.embed_text``), each weighted by its word pieces, so
each token is embedded once. On the test split this moved the service's R@5 by -0.004, MRR@10
by -0.007 and answer@1 not at all (dense retrieval alone: R@5 -0.06), for half the CPU time
(bench/results/index-speed.md).

A passage without sentences is embedded whole, as the "passage" setting embeds every one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ..ingest.textnorm import collapse_ws
from ..types import Chunk
from .reuse import Embed, EmbedStats, VectorCache


def heading_context(chunk: Chunk) -> str:
    """The heading context the chunker put before the passage text ("" if none)."""
    first, newline, _ = chunk.embed_text.partition("\n")
    if not newline or not first.strip():
        return ""
    if collapse_ws(first) in collapse_ws(chunk.text):
        return ""  # the first line is the passage's own
    return first


def pool(
    vectors: NDArray[np.float32], weights: NDArray[np.float32], groups: list[list[int]]
) -> NDArray[np.float32]:
    """Unit-length weighted sums of ``vectors``' rows, one per group of row numbers."""
    out = np.zeros((len(groups), vectors.shape[1]), dtype=np.float32)
    for i, rows in enumerate(groups):
        out[i] = (vectors[rows] * weights[rows, None]).sum(axis=0)
    norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    pooled: NDArray[np.float32] = (out / norms).astype(np.float32, copy=False)
    return pooled


def fill_pooled(
    chunks: list[Chunk],
    owner: list[int],
    sentence_texts: list[str],
    passages: VectorCache,
    sentences: VectorCache,
    embed: Embed,
    count: Callable[[str], int],
    stats: EmbedStats,
    fresh_from: int = 0,
) -> None:
    """Add to ``passages`` the vectors of the chunks it lacks, pooled from the (already
    embedded) sentence vectors in ``sentences`` and their heading contexts' (embedded here).

    Rows of ``sentences`` below ``fresh_from`` are stored vectors (perhaps read back from int8
    codes): a sentence of a new passage found only there is embedded again, so a passage's
    vector is the same whichever build makes it.
    """
    by_row: dict[int, list[str]] = {}
    for row, text in zip(owner, sentence_texts, strict=True):
        by_row.setdefault(row, []).append(text)
    todo: dict[str, int] = {}  # embed text -> first chunk row with it
    for row, chunk in enumerate(chunks):
        if chunk.embed_text in passages:
            stats.reused += 1
        else:
            todo.setdefault(chunk.embed_text, row)
    stats.embedded += len(todo)
    if not todo:
        return
    whole = [t for t, row in todo.items() if not by_row.get(row)]
    contexts = {heading_context(chunks[row]) for t, row in todo.items() if by_row.get(row)}
    stored = {
        t
        for text, row in todo.items()
        for t in by_row.get(row, [])
        if t not in sentences or sentences.row(t) < fresh_from
    }
    extra = sorted((contexts - {""}) | set(whole) | stored, key=len, reverse=True)
    own = VectorCache(passages.dimension)
    if extra:
        own.add(extra, embed(extra))
    if whole:
        passages.add(whole, own.take(whole))
    pooled_texts = [t for t, row in todo.items() if by_row.get(row)]
    if not pooled_texts:
        return
    parts: list[str] = []
    groups: list[list[int]] = []
    for text in pooled_texts:
        row = todo[text]
        context = heading_context(chunks[row])
        members = by_row[row] + ([context] if context else [])
        groups.append(list(range(len(parts), len(parts) + len(members))))
        parts.extend(members)
    fresh_sentence = [p in sentences and p not in own for p in parts]
    vectors = np.empty((len(parts), passages.dimension), dtype=np.float32)
    from_sentences = [p for p, known in zip(parts, fresh_sentence, strict=True) if known]
    if from_sentences:
        vectors[np.flatnonzero(fresh_sentence)] = sentences.take(from_sentences)
    others = [p for p, known in zip(parts, fresh_sentence, strict=True) if not known]
    if others:
        vectors[np.flatnonzero(~np.array(fresh_sentence))] = own.take(others)
    weights = np.array([count(p) for p in parts], dtype=np.float32)
    passages.add(pooled_texts, pool(vectors, weights, groups))
