"""Citation lookup on the real corpus: exact and near quotes, misses, spans, speed."""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qa_service.answer.cite import NEAR_THRESHOLD, CiteMatch, CiteResult, QuoteLocator, normalize
from qa_service.ingest.sentences import sentence_spans
from qa_service.ingest.textnorm import (
    _FOOTNOTE_MARK,
    collapse_ws,
    matches_span,
    passage_text,
    remove_footnote_marks,
    strip_markup,
    visible_text,
)
from qa_service.types import Block, Chunk, Document

ROOT = Path(__file__).resolve().parents[2]
QUOTES = [
    q
    for q in map(json.loads, (ROOT / "eval" / "questions.jsonl").read_text("utf-8").splitlines())
    if q["kind"] == "quote"
]

# Plausible report sentences that none of the four reports contains.
INVENTED = [
    "The force has appointed a dedicated lead for child criminal exploitation in every district.",
    "Officers routinely seek the views of children before deciding whether to use police"
    " protection powers.",
    "We found that the custody suite had no separate room for children awaiting an appropriate"
    " adult.",
    "Call handlers now use a specific checklist when a caller reports concerns about a child's"
    " welfare.",
    "The force should ensure that all online child abuse referrals are risk assessed within 24"
    " hours.",
    "Supervisors in the public protection unit review every domestic abuse case involving"
    " children within one working day.",
    "The chief constable has commissioned an independent review of how missing children are"
    " recorded.",
    "Training on county lines and child criminal exploitation has been given to all"
    " neighbourhood officers.",
    "Social workers told us that information from the police often arrives too late to inform"
    " strategy meetings.",
    "In most of the cases we examined, the voice of the child was clearly recorded and acted upon.",
]


@pytest.fixture(scope="module")
def locator(corpus_docs: dict[str, Document], corpus_chunks: list[Chunk]) -> QuoteLocator:
    return QuoteLocator(corpus_docs, corpus_chunks).build()


@pytest.fixture(scope="module")
def by_source(corpus_docs: dict[str, Document]) -> dict[str, Document]:
    return {d.source: d for d in corpus_docs.values()}


def visible(doc: Document, m: CiteMatch) -> str:
    """The canonical span without the footnotes the match says it skips."""
    pieces, pos = [], m.char_start
    for gs, ge in m.skipped:
        pieces.append(doc.text[pos:gs])
        pos = ge
    pieces.append(doc.text[pos : m.char_end])
    return " ".join(pieces)


def check_match(doc: Document, m: CiteMatch, chunks: list[Chunk]) -> None:
    """Invariants every match satisfies, whatever its status."""
    assert (m.doc_id, m.source, m.title, m.force) == (
        doc.doc_id,
        doc.source,
        doc.metadata.title,
        doc.metadata.force,
    )
    assert 0 <= m.char_start < m.char_end <= len(doc.text)
    # CONTRACT.md offset rule, and `text` is the span's passage text
    assert m.text == passage_text(doc.text, m.char_start, m.char_end)
    assert matches_span(doc.text, m.char_start, m.char_end, m.text)
    # the span starts and ends on visible text, not on markup or whitespace
    assert normalize(doc.text[m.char_start]) and normalize(doc.text[m.char_end - 1])
    if m.block_index >= 0:
        block = doc.blocks[m.block_index]
        assert block.start <= m.char_start < block.end
        assert m.section == doc.sections[block.section].path
        assert m.paragraph == passage_text(doc.text, block.start, block.end)
    if m.passage_id is not None:
        chunk = next(c for c in chunks if c.chunk_id == m.passage_id)
        assert chunk.doc_id == doc.doc_id
        assert chunk.start < m.char_end and m.char_start < chunk.end
    assert (m.status == "exact") == (m.similarity == 1.0)
    assert 0.0 < m.similarity <= 1.0


def check_exact(result: CiteResult, quote: str, docs: dict[str, Document]) -> None:
    """Every exact match's span, normalised like the quote, is the quote."""
    assert result.status == "exact", (quote, result.message)
    for m in result.matches:
        doc = next(d for d in docs.values() if d.doc_id == m.doc_id)
        assert m.status == "exact" and m.similarity == 1.0
        assert normalize(visible(doc, m)) == normalize(quote)
        if "<sup>" not in doc.text[m.char_start : m.char_end] and not m.skipped:
            # passage_text keeps a <sup>'s digit, so this form of the rule needs no <sup>
            assert normalize(m.text) == normalize(quote)


@pytest.mark.parametrize("q", QUOTES, ids=[q["id"] for q in QUOTES])
def test_eval_quotes(
    q: dict[str, object],
    locator: QuoteLocator,
    by_source: dict[str, Document],
    corpus_chunks: list[Chunk],
) -> None:
    question = str(q["question"])
    evidence = q["evidence"][0]  # type: ignore[index]
    doc = by_source[evidence["source"]]
    verbatim = question == evidence["text"]
    result = locator.locate(question)
    assert result.status == ("exact" if verbatim else "near"), result.message
    top = result.matches[0]
    check_match(doc, top, corpus_chunks)
    assert top.source == evidence["source"]
    ev_start = doc.text.index(evidence["text"])
    ev_end = ev_start + len(evidence["text"])
    covered = min(ev_end, top.char_end) - max(ev_start, top.char_start)
    assert covered >= 0.9 * (ev_end - ev_start)
    assert top.char_end - top.char_start <= 1.2 * (ev_end - ev_start)
    if verbatim:
        assert (top.char_start, top.char_end) == (ev_start, ev_end)
        check_exact(result, question, by_source)
    else:
        assert normalize(question) not in normalize(doc.text)
        assert NEAR_THRESHOLD <= top.similarity < 1.0
        assert evidence["text"] in top.paragraph


def _sentences(doc: Document, want: re.Pattern[str], n: int) -> list[tuple[int, int]]:
    """The first ``n`` sentences of body blocks (>= 8 words) that contain ``want``."""
    found = []
    for block in doc.blocks:
        if block.gaps or block.type in ("table", "footnote"):
            continue
        for s, e in sentence_spans(doc.text[block.start : block.end]):
            raw = doc.text[block.start + s : block.start + e]
            if want.search(raw) and len(raw.split()) >= 8 and "](" not in raw:
                found.append((block.start + s, block.start + e))
    return found[:n]


_SWAP = str.maketrans({"’": "'", "'": "’", "“": '"', "”": '"', '"': "”", "–": "-", "-": "–"})


def _mangle(text: str) -> str:
    """Whitespace as a PDF copy or an e-mail might leave it."""
    out = []
    for i, word in enumerate(text.split(" ")):
        out.append(word + ("\n" if i % 3 == 0 else "  " if i % 3 == 1 else " \t "))
    return "".join(out)


@pytest.mark.parametrize("name", ["lincolnshire", "leicestershire", "lancashire", "kent"])
def test_variants_of_real_sentences_are_exact(
    name: str,
    corpus_docs: dict[str, Document],
    corpus_chunks: list[Chunk],
    locator: QuoteLocator,
) -> None:
    doc = corpus_docs[name]
    picked = (
        _sentences(doc, _FOOTNOTE_MARK, 4)
        + _sentences(doc, re.compile(r"[’'“”\"–-]"), 4)
        + _sentences(doc, re.compile(r"<b>|\*\*|&amp;"), 2)
        + _sentences(doc, re.compile(r"."), 3)
    )
    assert len(picked) >= 7
    for start, end in picked:
        raw = doc.text[start:end]
        clean = collapse_ws(strip_markup(remove_footnote_marks(raw)))  # as a reader copies it
        variants = {
            "raw, markers and markup included": raw,
            "footnote markers stripped": clean,
            "quotes and dashes swapped": clean.translate(_SWAP),
            "whitespace mangled": _mangle(clean),
            "footnote marker added": clean.replace(" ", "¹ ", 1),
            "first letter case changed": clean[0].swapcase() + clean[1:],
        }
        for kind, quote in variants.items():
            result = locator.locate(quote, max_matches=10)
            assert result.status == "exact", (kind, quote, result.message)
            check_exact(result, quote, corpus_docs)
            mine = [m for m in result.matches if m.doc_id == doc.doc_id and m.char_end > start]
            assert mine and start <= mine[0].char_start and mine[0].char_end <= end, (kind, quote)
            for m in result.matches:
                check_match(doc, m, corpus_chunks)


def test_invented_sentences_are_not_found(locator: QuoteLocator) -> None:
    for quote in INVENTED:
        result = locator.locate(quote)
        assert result.status == "not_found", (quote, result.matches)
        assert result.message and "closely enough" in result.message
        # the closest passages are listed, marked as not matches, closest first
        assert result.matches and all(m.status == "closest" for m in result.matches)
        sims = [m.similarity for m in result.matches]
        assert sims == sorted(sims, reverse=True) and 0 < sims[0] < NEAR_THRESHOLD
        assert f"{sims[0]:.2f}" in result.message
        assert all(m.diff is not None for m in result.matches)


def test_repeated_quote_returns_every_occurrence_in_document_order(
    corpus_docs: dict[str, Document], corpus_chunks: list[Chunk], locator: QuoteLocator
) -> None:
    quote = "Initial contact: Summary of post-inspection review findings"
    doc = corpus_docs["lincolnshire"]
    expected = [m.start() for m in re.finditer(re.escape(quote), doc.text)]
    assert len(expected) >= 2
    result = locator.locate(quote, max_matches=10)
    check_exact(result, quote, corpus_docs)
    assert [m.char_start for m in result.matches] == expected
    for m in result.matches:
        check_match(doc, m, corpus_chunks)
        assert m.section[-1] == quote  # the heading line, whole

    many = locator.locate("We recommend that")  # in three reports, many times
    assert many.status == "exact" and len(many.matches) == 3
    assert many.message and "showing the first 3" in many.message
    every = locator.locate("We recommend that", max_matches=100)
    total = sum(d.text.count("We recommend that") for d in corpus_docs.values())
    assert len(every.matches) == total
    order = {d.doc_id: i for i, d in enumerate(corpus_docs.values())}
    keys = [(order[m.doc_id], m.char_start) for m in every.matches]
    assert keys == sorted(keys)


def test_quote_across_a_footnote_printed_mid_paragraph(
    corpus_docs: dict[str, Document], corpus_chunks: list[Chunk], locator: QuoteLocator
) -> None:
    # Lancashire prints footnote 16 (after a "---" page break) in the middle of this sentence.
    quote = (
        "some officers we spoke with indicated that they were inconsistent, and that on many"
        " occasions they were encouraged to catch up with administrative"
    )
    doc = corpus_docs["lancashire"]
    result = locator.locate(quote)
    check_exact(result, quote, corpus_docs)
    m = result.matches[0]
    check_match(doc, m, corpus_chunks)
    assert m.skipped and "child protection conference" in doc.text[slice(*m.skipped[0])]


# A Lincolnshire finding, retyped and pasted in several ways by the tests below.
WORKLOAD_FINDING = (
    "Investigators feel their workloads are too high and they don’t have enough time to"
    " commit to their enquiries."
)


def test_near_matches_tolerate_typos_and_dropped_words(
    corpus_docs: dict[str, Document], locator: QuoteLocator
) -> None:
    original = WORKLOAD_FINDING
    doc = corpus_docs["lincolnshire"]
    start = doc.text.index(original)
    for quote in (
        original.replace("enough", "enuogh").replace("enquiries", "enquries"),  # typos
        original.replace("too ", ""),  # a word dropped
        original.replace("enough time", "enough spare time"),  # a word added
        original.upper(),  # shouted: words match, letter case does not
    ):
        result = locator.locate(quote)
        assert result.status == "near", quote
        m = result.matches[0]
        assert (m.char_start, m.char_end) == (start, start + len(original)), quote
        assert NEAR_THRESHOLD <= m.similarity < 1.0


def test_text_pasted_from_a_pdf_still_matches(
    corpus_docs: dict[str, Document], locator: QuoteLocator
) -> None:
    original = WORKLOAD_FINDING
    start = corpus_docs["lincolnshire"].text.index(original)
    # straight apostrophe, a line-end hyphen, line breaks, a page number and running footer
    paste = (
        "Investigators feel their work-\nloads are too high and they don't\n12\nPage 12 of 40\n"
        "have enough time to commit to their\nenquiries."
    )
    result = locator.locate(paste)
    assert result.status == "exact", result.message
    m = result.matches[0]
    assert (m.char_start, m.char_end) == (start, start + len(original)) and m.diff is None
    # one word changed as well: near, and the diff marks that word alone on both sides
    result = locator.locate(paste.replace("enough time", "enough spare time"))
    assert result.status == "near"
    m = result.matches[0]
    assert (m.char_start, m.char_end) == (start, start + len(original))
    assert m.diff is not None
    quote = result.quote
    assert [quote[a:b] for a, b in m.diff.quote] == ["spare"]
    assert [m.text[a:b] for a, b in m.diff.text] == [""]


def test_near_match_diff_marks_the_changed_words_on_both_sides(locator: QuoteLocator) -> None:
    original = WORKLOAD_FINDING
    quote = original.replace("too high", "very high").replace("enough ", "")
    m = locator.locate(quote).matches[0]
    assert m.status == "near" and m.diff is not None
    pairs = [
        (quote[a:b], m.text[c:d]) for (a, b), (c, d) in zip(m.diff.quote, m.diff.text, strict=True)
    ]
    assert pairs == [("very", "too"), ("", "enough")]


def test_short_quotes(corpus_docs: dict[str, Document], locator: QuoteLocator) -> None:
    assert locator.locate("Operation Encompass").status == "exact"
    for quote in ("Operation Encompas", "purple elephant rodeo", "the forse has"):
        result = locator.locate(quote)
        assert result.status == "not_found" and result.matches == []
        assert result.message and "too few" in result.message
    # a whole-word rule: "ice officers" is not in "police officers"
    assert locator.locate("ice officers").status == "not_found"


def test_empty_and_bad_quotes(locator: QuoteLocator) -> None:
    for quote in ("", "   ", "\n\t "):
        with pytest.raises(ValueError, match="the quote is empty"):
            locator.locate(quote)
    with pytest.raises(ValueError, match="no text"):
        locator.locate("<sup>4</sup> ¹ [2]")
    with pytest.raises(ValueError):
        locator.locate("the force", max_matches=0)


def test_deterministic_and_fast(
    corpus_docs: dict[str, Document], corpus_chunks: list[Chunk], locator: QuoteLocator
) -> None:
    quotes = [str(q["question"]) for q in QUOTES] + INVENTED
    other = QuoteLocator(corpus_docs, corpus_chunks)  # builds lazily on first use
    assert [other.locate(q) for q in quotes] == [locator.locate(q) for q in quotes]
    times = []
    for q in quotes:
        t = time.perf_counter()
        locator.locate(q)
        times.append(time.perf_counter() - t)
    assert statistics.mean(times) < 0.05 and statistics.median(times) < 0.02, times


def _tokens(doc: Document, block: Block) -> list[tuple[int, int, str]]:
    """The block's whitespace-separated tokens as a reader sees them, with canonical spans."""
    tokens = []
    for m in re.finditer(r"\S+", doc.text[block.start : block.end]):
        s, e = block.start + m.start(), block.start + m.end()
        if any(gs <= s < ge for gs, ge in block.gaps):
            continue  # the footnote printed inside the paragraph is not part of it
        clean = visible_text(remove_footnote_marks(m.group())).replace("*", "")
        if clean and not re.fullmatch(r"[-_]{3,}", clean):  # "---" page breaks are not text
            tokens.append((s, e, clean))
    return tokens


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_run_of_words_is_found_at_its_place(
    data: st.DataObject, corpus_docs: dict[str, Document], locator: QuoteLocator
) -> None:
    doc = corpus_docs[data.draw(st.sampled_from(sorted(corpus_docs)), label="report")]
    block = doc.blocks[data.draw(st.integers(0, len(doc.blocks) - 1), label="block")]
    tokens = _tokens(doc, block)
    assume(len(tokens) >= 8)
    i = data.draw(st.integers(0, len(tokens) - 8), label="first token")
    j = data.draw(st.integers(i + 8, min(len(tokens), i + 40)), label="end token")
    assume(sum(bool(re.search(r"\w", t[2])) for t in tokens[i:j]) >= 6)  # >= 6 words
    quote = " ".join(t[2] for t in tokens[i:j])
    first, last = tokens[i], tokens[j - 1]

    result = locator.locate(quote, max_matches=1000)
    check_exact(result, quote, corpus_docs)  # every match's span reads as the quote
    spans = [(m.char_start, m.char_end) for m in result.matches if m.doc_id == doc.doc_id]
    # starts inside its first token and ends inside its last (markup may pad either), or
    # an identical earlier occurrence comes first
    here = any(first[0] <= s < first[1] and last[0] < e <= last[1] for s, e in spans)
    assert here or (spans and spans[0][0] < first[0]), (quote, spans, first, last)


def test_a_quote_ending_in_a_markdown_link_reads_as_the_link_text(
    corpus_docs: dict[str, Document], locator: QuoteLocator
) -> None:
    """A report's markdown link reads as its text: the quote is found exactly, and its span
    takes in the whole link syntax, so the cited text has no stray "[" or "](url)"."""
    quote = (
        "Available at: www.justiceinspectorates.gov.uk/hmic/wp-content/uploads/"
        "ncpi-assessment-criteria.pdf"
    )
    result = locator.locate(quote)
    check_exact(result, quote, corpus_docs)
    match = result.matches[0]
    doc = next(d for d in corpus_docs.values() if d.doc_id == match.doc_id)
    raw = doc.text[match.char_start : match.char_end]
    assert raw.endswith(")") and "](http" in raw  # the link's syntax is inside the span
    assert "[" not in match.text and "](" not in match.text
