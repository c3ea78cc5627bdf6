"""Adjacent passages of one finding, returned as one passage.

A finding often runs over two chunks (the chunker cuts sections to the model's window). When
both halves rank among the best candidates, showing them as two results wastes a slot and
splits the answer; they are returned as one passage instead, spanning both, and the slot goes
to the next candidate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import pairwise

from .textnorm import passage_text
from .types import Chunk

# A merged passage holds at most this many chunks (about two model windows of text).
MAX_MERGED = 2
# Composite passage ids join their chunks' ids, in text order, with this separator.
ID_SEPARATOR = "+"


def adjacent(a: Chunk, b: Chunk) -> bool:
    """Whether two chunks are neighbours in one section of one report."""
    return a.doc_id == b.doc_id and a.section == b.section and abs(a.ordinal - b.ordinal) == 1


def group_adjacent(
    ranked: Sequence[int], chunks: Sequence[Chunk], top_k: int, window: int
) -> list[tuple[int, ...]]:
    """The first ``top_k`` results of ``ranked`` (rows, best first), each a tuple of rows: a
    row joins an earlier result it is adjacent to (while that holds fewer than MAX_MERGED),
    looking at the best ``window`` candidates only. The first row of a tuple is its best."""
    groups: list[list[int]] = []
    for row in ranked[:window]:
        for group in groups:
            if len(group) < MAX_MERGED and any(adjacent(chunks[row], chunks[g]) for g in group):
                group.append(row)
                break
        else:
            if len(groups) >= top_k:
                continue  # only joins existing results from here on
            groups.append([row])
    for row in ranked[window:]:  # fewer results than top_k after merging: take the next ones
        if len(groups) >= top_k:
            break
        if not any(row in g for g in groups):
            groups.append([row])
    return [tuple(g) for g in groups]


def merged_chunk(canonical: str, members: Sequence[Chunk]) -> Chunk:
    """One passage spanning ``members`` (neighbours in one section), in text order."""
    if len(members) == 1:
        return members[0]
    parts = sorted(members, key=lambda c: c.start)
    start, end = parts[0].start, max(c.end for c in parts)
    return replace(
        parts[0],
        chunk_id=ID_SEPARATOR.join(c.chunk_id for c in parts),
        end=end,
        text=passage_text(canonical, start, end),
        embed_text="\n".join(c.embed_text for c in parts),
        n_tokens=sum(c.n_tokens for c in parts),
        n_model_tokens=sum(c.n_model_tokens for c in parts),
    )


def shift_spans(
    merged: str, member: Chunk, spans: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """Spans within ``member.text`` as spans within the merged passage's text."""
    at = merged.find(member.text)
    if at < 0:
        return ()
    return tuple((at + a, at + b) for a, b in spans)


def rows_of(
    passage_id: str, row_of: Mapping[str, int], chunks: Sequence[Chunk]
) -> tuple[int, ...] | None:
    """The index rows behind a passage id: one chunk's id, or a merged passage's joined ids
    (neighbours in one section, in text order). None when the id names no such passage."""
    rows: list[int] = []
    for part in passage_id.split(ID_SEPARATOR)[: MAX_MERGED + 1]:
        row = row_of.get(part)
        if row is None:
            return None
        rows.append(row)
    if len(rows) > MAX_MERGED:
        return None
    for a, b in pairwise(rows):
        if b != a + 1 or not adjacent(chunks[a], chunks[b]):
            return None
    return tuple(rows)
