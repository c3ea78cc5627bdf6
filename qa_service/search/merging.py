"""Adjacent passages of one finding, returned as one passage.

A finding often runs over two chunks (the chunker cuts sections to the model's window). When
both halves rank among the best candidates, showing them as two results wastes a slot and
splits the answer; they are returned as one passage instead, spanning both, and the slot goes
to the next candidate. Only passages of one type merge: a passage never mixes block types.

Footnotes and bare captions ride along instead of ranking on their own (``ride_along``): a
question that matches a footnote's words gets the passage citing it, at the footnote's score
if that is higher, and the footnote is not returned by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from ..ingest.textnorm import passage_text
from ..types import BLOCK_TYPES, Chunk, Document

# A merged passage holds at most this many chunks (about two model windows of text).
MAX_MERGED = 2
# A host passage scores at least this share of the score of a footnote or caption riding
# along with it. Tuned on dev (eval/questions.jsonl, Recall@5 + MRR@10): 1.0 gave MRR@10
# 0.851, 0.9 0.856, 0.8 and 0.7 0.859 (as high as no lift at all, which would leave a
# footnote's words unsearchable).
RIDE_ALONG_LIFT = 0.8
# A table's score is weighted by this before ranking. Tables are searchable by caption and
# readable rows, but passages of one type no longer merge, so a table next to the finding that
# discusses it took a result slot of its own; a clearly best table still comes first. Dev
# MRR@10: 1.0 0.859, 0.98 to 0.8 0.860 (0.6 to 0.3 0.864, which would bury tables that do
# answer: none of the eval questions is answered by a table, so dev cannot judge that).
TABLE_WEIGHT = 0.9
# Composite passage ids join their chunks' ids, in text order, with this separator.
ID_SEPARATOR = "+"


def adjacent(a: Chunk, b: Chunk) -> bool:
    """Whether two chunks are neighbours in one section of one report."""
    return (
        a.doc_id == b.doc_id
        and a.section == b.section
        and a.type == b.type
        and abs(a.ordinal - b.ordinal) == 1
    )


def type_weights(types: NDArray[np.int8]) -> NDArray[np.float32]:
    """Each row's score weight from its type code (an index into BLOCK_TYPES): TABLE_WEIGHT
    for a table, 1 otherwise."""
    weight = np.where(types == BLOCK_TYPES.index("table"), TABLE_WEIGHT, 1.0).astype(np.float32)
    weight.setflags(write=False)
    return weight


def ride_along(
    scores: NDArray[np.float32],
    host: NDArray[np.int64],
    rows: NDArray[np.int64] | None = None,
    weight: NDArray[np.float32] | None = None,
    lift: float = RIDE_ALONG_LIFT,
) -> NDArray[np.float32]:
    """Scores times each row's ``weight`` (``type_weights``), with every attached passage out
    of the ranking (-inf) and its host scored at least ``lift`` times the attached passage's
    score. ``rows``: the index rows the scores belong to (None: every row, in order); a host
    not among them gets nothing."""
    out = scores.copy()
    if weight is not None:
        out *= weight if rows is None else weight[rows]
    if len(host) == 0 or not (host >= 0).any():
        return out
    if rows is None:
        attached = np.flatnonzero(host >= 0)
        targets = host[attached]
        positions = attached
    else:
        mask = host[rows] >= 0
        positions = np.flatnonzero(mask)
        where = {int(r): p for p, r in enumerate(rows.tolist())}
        targets = np.array([where.get(int(host[rows[p]]), -1) for p in positions], dtype=np.int64)
    for p, t in zip(positions.tolist(), targets.tolist(), strict=True):
        if t >= 0 and np.isfinite(out[t]) and lift * out[p] > out[t]:
            out[t] = lift * out[p]
        out[p] = -np.inf
    return out


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


class Riders:
    """The attached passages (footnotes, bare captions) that ride along with a passage: the
    footnotes its text cites, and the captions attached to it."""

    def __init__(
        self,
        chunks: Sequence[Chunk],
        doc_of: NDArray[np.int32],
        types: NDArray[np.int8],
        doc_ids: Sequence[str],
    ) -> None:
        """``doc_of``, ``types``: each row's report position and type code (the index's
        columns). A report's footnote rows, and the captions, are found on first use."""
        self._chunks = chunks
        self._doc_of = doc_of
        self._types = types
        self._position = {d: i for i, d in enumerate(doc_ids)}
        self._notes: dict[str, dict[int, int]] = {}  # doc id -> footnote -> its last row
        self._host_rows: dict[str, list[int]] | None = None
        self._lock = threading.Lock()

    def _note_rows(self, doc: Document) -> dict[int, int]:
        """Footnote (index into doc.footnotes) -> the last footnote row whose span holds it."""
        found = self._notes.get(doc.doc_id)
        if found is None:
            found = {}
            d = self._position.get(doc.doc_id)
            if d is not None and doc.footnotes:
                note_at = {(f.start, f.end): k for k, f in enumerate(doc.footnotes)}
                mine = (self._doc_of == d) & (self._types == BLOCK_TYPES.index("footnote"))
                for row in np.flatnonzero(mine).tolist():
                    c = self._chunks[row]
                    for (fs, fe), k in note_at.items():
                        if c.start <= fs and fe <= c.end:
                            found[k] = row
            self._notes[doc.doc_id] = found
        return found

    def _by_host(self) -> dict[str, list[int]]:
        """Host passage id -> the rows of the captions attached to it, in row order."""
        if self._host_rows is not None:
            return self._host_rows
        with self._lock:
            if self._host_rows is None:
                by_host: dict[str, list[int]] = {}
                captions = np.flatnonzero(self._types == BLOCK_TYPES.index("caption"))
                for row in captions.tolist():
                    host = self._chunks[row].metadata.get("attached_to")
                    if isinstance(host, str):
                        by_host.setdefault(host, []).append(row)
                self._host_rows = by_host
            return self._host_rows

    def of(self, chunk: Chunk, doc: Document) -> tuple[int, ...]:
        """Rows riding along with ``chunk`` (one passage or a merged one), in text order."""
        rows: list[int] = []
        for ref in doc.references:
            if chunk.start <= ref.start < chunk.end and ref.footnote is not None:
                row = self._note_rows(doc).get(ref.footnote)
                if row is not None and row not in rows:
                    rows.append(row)
        for part in chunk.chunk_id.split(ID_SEPARATOR):
            rows.extend(r for r in self._by_host().get(part, ()) if r not in rows)
        return tuple(rows)
