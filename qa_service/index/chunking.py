"""Document -> chunks: section-bounded, sentence-aligned, token-sized, with exact offsets.

Rules (checked by property tests):
- a chunk lies inside one section and covers blocks of one type (a table stays with its
  caption, a case study is not mixed with the findings around it, a footnote stands alone);
- a footnote's chunk names the chunk that cites it, and a bare caption's the chunk it
  illustrates (``metadata["attached_to"]``): the retriever returns that chunk instead;
- a table's embedded text writes each row as a readable line ("Row: Good 4, Inadequate 3");
- a block that fits under the ceiling is never split; a longer one is split at sentence
  boundaries into pieces of at most the target;
- blocks are packed up to the target size, counted with tiktoken;
- the embedded text (heading context + passage) fits the embedding model's window,
  counted by the model's own tokenizer (all-MiniLM-L6-v2 silently truncates past 256).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..forces import short_name
from ..ingest.sentences import sentence_spans
from ..ingest.textnorm import collapse_ws, passage_text, remove_footnote_marks
from ..types import ATTACHED_TYPES, Block, Chunk, Document, content_hash

Counter = Callable[[str], int]


@dataclass(frozen=True)
class ChunkParams:
    """Sizes in tiktoken tokens, and the model window in word pieces."""

    target_tokens: int = 200
    max_tokens: int = 240
    model_max_tokens: int = 256
    heading_context_tokens: int = 32


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    gaps: tuple[tuple[int, int], ...] = ()


def _text_without_gaps(doc: Document, span: _Span) -> str:
    pieces, pos = [], span.start
    for gs, ge in sorted(span.gaps):
        if span.start <= gs and ge <= span.end:
            pieces.append(doc.text[pos:gs])
            pos = ge
    pieces.append(doc.text[pos : span.end])
    joined = "".join(pieces)
    return remove_footnote_marks(passage_text(joined, 0, len(joined)))


def _split_long(doc: Document, block: Block, count: Counter, params: ChunkParams) -> list[_Span]:
    """Split a block longer than the ceiling at sentence (or, for tables, row) boundaries."""
    text = doc.text[block.start : block.end]
    if block.type == "table":
        pieces, pos = [], 0
        for line in text.splitlines(keepends=True):
            if line.strip():
                pieces.append((pos, pos + len(line.rstrip())))
            pos += len(line)
    else:
        pieces = sentence_spans(text)
    units: list[_Span] = []
    for s, e in pieces:
        if count(text[s:e]) <= params.max_tokens:
            units.append(_Span(block.start + s, block.start + e))
        else:  # one enormous "sentence": fall back to word boundaries
            units.extend(_split_words(block.start + s, text[s:e], count, params.target_tokens))
    packed = _pack(units, count, doc, params.target_tokens)
    return [
        _Span(u.start, u.end, tuple(g for g in block.gaps if u.start <= g[0] and g[1] <= u.end))
        for u in packed
    ]


def _split_words(offset: int, text: str, count: Counter, limit: int) -> list[_Span]:
    out: list[_Span] = []
    start = None
    last_end = 0
    words = [(m_start, m_start + len(w)) for m_start, w in _word_spans(text)]
    for ws, we in words:
        if start is None:
            start = ws
        elif count(text[start:we]) > limit:
            out.append(_Span(offset + start, offset + last_end))
            start = ws
        last_end = we
    if start is not None:
        out.append(_Span(offset + start, offset + last_end))
    return out


def _word_spans(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in re.finditer(r"\S+", text)]


def _pack(units: list[_Span], count: Counter, doc: Document, limit: int) -> list[_Span]:
    """Greedily join consecutive units while the joined text stays within ``limit`` tokens."""
    out: list[_Span] = []
    for u in units:
        if out:
            joined = _Span(out[-1].start, u.end, out[-1].gaps + u.gaps)
            if count(passage_text(doc.text, joined.start, joined.end)) <= limit:
                out[-1] = joined
                continue
        out.append(u)
    return out


def _runs(blocks: list[Block]) -> list[list[Block]]:
    """Consecutive blocks of one section and one type; footnotes each stand alone."""
    runs: list[list[Block]] = []
    for b in blocks:
        if (
            runs
            and runs[-1][-1].section == b.section
            and runs[-1][-1].type == b.type
            and b.type not in ATTACHED_TYPES
        ):
            runs[-1].append(b)
        else:
            runs.append([b])
    return runs


def _heading_context(doc: Document, path: tuple[str, ...], count: Counter, budget: int) -> str:
    if budget <= 0:
        return ""
    force = short_name(doc.metadata.force) if doc.metadata.force else ""
    parts = [p for p in path[-2:] if p]
    context = " > ".join(parts)
    if force:
        context = f"{force}: {context}"
    words = context.split()
    while words and count(" ".join(words)) > budget:
        words.pop()
    return " ".join(words)


def chunk_document(
    doc: Document, params: ChunkParams, count: Counter, count_model: Counter
) -> list[Chunk]:
    """Cut one document into chunks (see module docstring for the rules)."""
    spans: list[tuple[Block, _Span]] = []
    for run in _runs(list(doc.blocks)):
        units: list[_Span] = []
        for b in run:
            if count(passage_text(doc.text, b.start, b.end)) <= params.max_tokens:
                units.append(_Span(b.start, b.end, b.gaps))
            else:
                units.extend(_split_long(doc, b, count, params))
        spans.extend((run[0], s) for s in _pack(units, count, doc, params.target_tokens))

    chunks: list[Chunk] = []
    seen_sections: set[int] = set()
    seen_ids: dict[str, int] = {}
    for block, span in spans:
        section = doc.sections[block.section]
        if block.section not in seen_sections:
            seen_sections.add(block.section)
            # The first chunk of a section carries its heading line, so a finding's
            # headline is cited (and searched) with its evidence.
            between = doc.text[section.heading_end : span.start]
            if section.heading_end > section.start and not between.strip():
                span = _Span(section.start, span.end, span.gaps)
        chunks.extend(_finalise(doc, block, span, params, count, count_model, chunks, seen_ids))
    return attach(doc, chunks)


def attach(doc: Document, chunks: list[Chunk]) -> list[Chunk]:
    """Name, on each footnote chunk, the chunk that first cites it, and on each bare caption
    chunk the next chunk of its section (else the previous one): ``metadata["attached_to"]``."""
    first_ref: dict[int, int] = {}
    for ref in doc.references:
        if ref.footnote is not None and ref.footnote not in first_ref:
            first_ref[ref.footnote] = ref.start
    note_at = {(f.start, f.end): k for k, f in enumerate(doc.footnotes)}
    out = []
    for c in chunks:
        host: Chunk | None = None
        if c.type == "footnote":
            k = next((k for (fs, fe), k in note_at.items() if c.start <= fs and fe <= c.end), None)
            pos = first_ref.get(k) if k is not None else None
            if pos is not None:
                host = next((h for h in chunks if h.start <= pos < h.end and h is not c), None)
        elif c.type == "caption":
            same = [
                h
                for h in chunks
                if h.section_index == c.section_index and h.type not in ATTACHED_TYPES
            ]
            host = next((h for h in same if h.start >= c.end), same[-1] if same else None)
        if host is not None and host.type not in ATTACHED_TYPES:
            c = replace(c, metadata={**c.metadata, "attached_to": host.chunk_id})
        out.append(c)
    return out


_CELLS = re.compile(r"\t+")


def readable_table(text: str) -> str:
    """A table's text with each row written as a line a reader (and the encoder) can follow:
    "Row label: Heading one 4, Heading two 3". The caption and other lines stay as they are."""
    lines = text.splitlines()
    rows = [i for i, line in enumerate(lines) if "\t" in line]
    if len(rows) < 2:
        return text
    header = [c.strip() for c in lines[rows[0]].split("\t")]
    out = list(lines[: rows[0]])
    for i in rows[1:]:
        cells = [c.strip() for c in lines[i].split("\t")]
        if len(cells) != len(header):
            out.append("; ".join(c for c in cells if c))
            continue
        pairs = [f"{h} {v}".strip() for h, v in zip(header[1:], cells[1:], strict=True) if v]
        label = cells[0] or header[0]
        out.append(f"{label}: {', '.join(pairs)}" if label else ", ".join(pairs))
    out.extend(line for line in lines[rows[-1] + 1 :])
    return "\n".join(out)


def _finalise(
    doc: Document,
    block: Block,
    span: _Span,
    params: ChunkParams,
    count: Counter,
    count_model: Counter,
    so_far: list[Chunk],
    seen_ids: dict[str, int],
) -> list[Chunk]:
    section = doc.sections[block.section]
    body = _text_without_gaps(doc, span)
    if block.type == "table":
        body = readable_table(body)
    window = params.model_max_tokens
    body_tokens = count_model(body)
    if body_tokens > window and span.end - span.start > 1:
        # Rare: word pieces outnumber tiktoken tokens (numbers, acronyms). Halve at a sentence.
        halves = _halve(doc, span)
        if halves is not None:
            out: list[Chunk] = []
            for half in halves:
                out.extend(
                    _finalise(doc, block, half, params, count, count_model, so_far + out, seen_ids)
                )
            return out
    budget = min(params.heading_context_tokens, window - body_tokens - 1)
    context = _heading_context(doc, section.path, count_model, budget)
    embed = f"{context}\n{body}" if context else body
    text = passage_text(doc.text, span.start, span.end)
    key = content_hash(doc.doc_id, collapse_ws(text))
    n = seen_ids.get(key, 0)
    seen_ids[key] = n + 1
    chunk_id = key if n == 0 else content_hash(key, str(n))
    meta = doc.metadata
    return [
        Chunk(
            chunk_id=chunk_id,
            doc_id=doc.doc_id,
            source=doc.source,
            section=section.path,
            section_index=section.index,
            type=block.type,
            start=span.start,
            end=span.end,
            text=text,
            embed_text=embed,
            n_tokens=count(text),
            n_model_tokens=count_model(embed),
            ordinal=len(so_far),
            metadata={
                "force": meta.force,
                "report_type": meta.report_type,
                "published": meta.published,
                "year": meta.inspection_year,
            },
        )
    ]


def _halve(doc: Document, span: _Span) -> tuple[_Span, _Span] | None:
    text = doc.text[span.start : span.end]
    cuts = [s for s, _ in sentence_spans(text)][1:] or [s for s, _ in _word_spans(text)][1:]
    if not cuts:  # one enormous token (a URL): cut after a separator near the middle
        if len(text.strip()) < 2:
            return None
        half = len(text) // 2
        seps = [i + 1 for i, ch in enumerate(text) if ch in "/_-.?&=" and 0 < i + 1 < len(text)]
        cuts = [min(seps, key=lambda i: abs(i - half))] if seps else [half]
    mid = min(cuts, key=lambda c: abs(c - len(text) / 2))
    left_end = span.start + len(text[:mid].rstrip())
    right = _Span(
        span.start + mid, span.end, tuple(g for g in span.gaps if g[0] >= span.start + mid)
    )
    left = _Span(span.start, left_end, tuple(g for g in span.gaps if g[1] <= left_end))
    return left, right


def chunk_corpus(
    docs: list[Document], params: ChunkParams, count: Counter, count_model: Counter
) -> list[Chunk]:
    """Chunks of every document, in corpus order."""
    out: list[Chunk] = []
    for doc in docs:
        out.extend(chunk_document(doc, params, count, count_model))
    return out
