"""Chunk invariants on every seed and on generated reports (hypothesis)."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_service.index.chunking import ChunkParams, chunk_document
from qa_service.ingest import read_document
from qa_service.ingest.lines import clean_line, is_furniture, title_key, toc_entry
from qa_service.ingest.textnorm import collapse_ws, matches_span, passage_text
from qa_service.types import Chunk, Document


def check_chunks(
    doc: Document, chunks: list[Chunk], params: ChunkParams, count, count_model
) -> None:
    """The invariants every chunk of every document must satisfy."""
    assert chunks, doc.source
    for c in chunks:
        # CONTRACT.md offset rule
        assert matches_span(doc.text, c.start, c.end, c.text), (doc.source, c.start, c.end)
        assert c.text.strip() and c.start < c.end
        # never crosses a section: inside its section, and no other heading starts inside it
        sec = doc.sections[c.section_index]
        assert sec.start <= c.start and c.end <= sec.end, c.section
        assert c.section == sec.path
        inner = [s for s in doc.sections if c.start < s.start < c.end]
        assert not inner, (c.section, [s.path for s in inner])
        # fits the model window, counted by the model's tokenizer (special tokens included)
        assert count_model(c.embed_text) <= params.model_max_tokens
        assert c.n_model_tokens == count_model(c.embed_text)
        # sized by tiktoken: at most the ceiling, plus the section heading line it may carry
        heading = (
            count(passage_text(doc.text, sec.start, sec.heading_end))
            if sec.heading_end > sec.start
            else 0
        )
        assert c.n_tokens <= params.max_tokens + heading + 1, (c.n_tokens, c.section)
    ids = [c.chunk_id for c in chunks]
    assert len(ids) == len(set(ids))
    spans = sorted((c.start, c.end) for c in chunks)
    for (_, e1), (s2, _) in itertools.pairwise(spans):
        assert e1 <= s2, "chunks overlap"


def test_seed_chunks(
    corpus_docs, corpus_chunks, chunk_params, count_tokens, model_tokenizer
) -> None:
    for doc in corpus_docs.values():
        chunks = [c for c in corpus_chunks if c.doc_id == doc.doc_id]
        check_chunks(doc, chunks, chunk_params, count_tokens, model_tokenizer)


def test_seed_content_is_all_chunked(corpus_docs, corpus_chunks) -> None:
    """Every line after the title page is in a chunk or is a heading or page furniture."""
    for doc in corpus_docs.values():
        covered = [False] * len(doc.text)
        for c in corpus_chunks:
            if c.doc_id == doc.doc_id:
                covered[c.start : c.end] = [True] * (c.end - c.start)
        for s in doc.sections:
            covered[s.start : s.heading_end] = [True] * (s.heading_end - s.start)
        body_start = min(s.start for s in doc.sections)
        pos = 0
        for line in doc.text.splitlines(keepends=True):
            stripped = line.strip()
            if pos >= body_start and stripped and not any(covered[pos : pos + len(line)]):
                visible = clean_line(stripped)
                if toc_entry(stripped) is not None:
                    pos += len(line)
                    continue
                repeated_title = title_key(visible) in title_key(doc.metadata.title)
                assert is_furniture(visible) or repeated_title or stripped == "---", (
                    doc.source,
                    line,
                )
            pos += len(line)


def test_passage_ids_are_stable(corpus_docs, chunk_params, count_tokens, model_tokenizer) -> None:
    doc = corpus_docs["kent"]
    a = chunk_document(doc, chunk_params, count_tokens, model_tokenizer)
    b = chunk_document(doc, chunk_params, count_tokens, model_tokenizer)
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b]


def test_small_window_still_respected(corpus_docs, count_tokens, model_tokenizer) -> None:
    """A model with a small window forces extra splits; the invariant still holds."""
    params = ChunkParams(target_tokens=120, max_tokens=200, model_max_tokens=96)
    doc = corpus_docs["lancashire"]
    chunks = chunk_document(doc, params, count_tokens, model_tokenizer)
    check_chunks(doc, chunks, params, count_tokens, model_tokenizer)


# --- generated reports ---------------------------------------------------------------

WORDS = [
    "the",
    "force",
    "children",
    "officers",
    "staff",
    "risk",
    "missing",
    "custody",
    "referral",
    "safeguarding",
    "police",
    "detention",
    "appropriate",
    "adult",
    "investigation",
    "supervisor",
    "partner",
    "agencies",
    "review",
    "found",
    "improved",
    "records",
    "domestic",
    "abuse",
    "exploitation",
    "MASH",
    "MARAC",
    "24",
    "2019",
    "percent",
    "cases",
    "audit",
    "inspectors",
    "recommendation",
    "help",
    "protection",
    "social",
    "care",
    "decision",
    "making",
    "trusted",
]

word = st.sampled_from(WORDS)
sentence = st.lists(word, min_size=3, max_size=40).map(lambda ws: " ".join(ws).capitalize() + ".")
paragraph = st.lists(sentence, min_size=1, max_size=14).map(" ".join)
heading = st.lists(word, min_size=1, max_size=7).map(lambda ws: " ".join(ws).capitalize())
item = st.one_of(
    paragraph.map(lambda p: ("p", p)),
    sentence.map(lambda s: ("li", "- " + s)),
    st.tuples(st.integers(1, 9), sentence).map(lambda t: ("fn", f"[{t[0]}] {t[1]}")),
)
section = st.tuples(st.integers(1, 3), heading, st.lists(item, min_size=1, max_size=6))
report = st.lists(section, min_size=1, max_size=6)


def render(sections: list, markdown: bool) -> str:
    out = ["Generated – National child protection inspection", ""]
    for level, title, items in sections:
        out.append(("#" * (level + 1) + " " if markdown else "") + title)
        out.append("")
        for _, text in items:
            out.append(text)
            out.append("")
    return "\n".join(out)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sections=report, markdown=st.booleans())
def test_generated_reports(sections, markdown, chunk_params, count_tokens, model_tokenizer) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("gen.md" if markdown else "gen.txt")
        path.write_text(render(sections, markdown), encoding="utf-8")
        doc = read_document(path)
    chunks = chunk_document(doc, chunk_params, count_tokens, model_tokenizer)
    check_chunks(doc, chunks, chunk_params, count_tokens, model_tokenizer)
    # every paragraph's words survive into some chunk
    joined = collapse_ws(" ".join(c.text for c in chunks))
    for _, _, items in sections:
        for kind, text in items:
            if kind == "p":
                assert collapse_ws(text)[:60] in joined
