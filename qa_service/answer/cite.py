"""Citation lookup: the report, section, paragraph and character span a pasted quote comes from.

``QuoteLocator(documents, chunks).build()`` prepares, per report, a normalised character
stream (markup, footnote markers and whitespace differences removed, quotes and dashes
folded, lower-cased) with a map from every stream character back to its canonical offset,
plus a word index. ``locate(quote)`` first searches the normalised quote in those streams
(``exact``); failing that it finds candidate regions by rare-word votes and aligns words
with difflib to find the best window (``near``, with the changed words marked on both
sides). A quote nothing matches closely enough is ``not_found``, with the closest windows
listed as ``closest``, never as matches. Page numbers and line-end hyphens from a PDF copy
are removed from the quote first (``quote_text.clean_paste``).

Timing (this machine, the four seed reports, best of 5): build 0.19 s; ``locate`` on the 24
eval quotes and 10 invented sentences: exact 0.15-0.3 ms, near 0.6-1.9 ms, not_found
0.7-1.3 ms; 20-30 ms for a 330-400-word passage, the longest searched approximately.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from array import array
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher, get_close_matches
from typing import Literal

from ..ingest.textnorm import _FOOTNOTE_MARK, _HEADING_MARK, _LINK, _TAG, passage_text
from ..types import Chunk, Document

# The ingester's own markup patterns, so "markup" means the same thing here as in the offset rule.
from .quote_text import CleanPaste, WordDiff, clean_paste, word_diff

# Near-match threshold on word similarity (matched quote words / max(quote, window length)).
# The eval set's 12 altered quotes (1-3 words changed in 11-35) score 0.77-0.96; ten invented
# report-style sentences score at most 0.43; one or two random word edits (swap, drop, add) to
# ~370 corpus sentences of 10+ words never fall below 0.73. 0.7 sits in the gap: two changed
# words in a ten-word quote pass, a third usually does not, and half-sentence overlaps
# (~0.5) are not reported.
NEAR_THRESHOLD = 0.7
MIN_NEAR_WORDS = 4  # below this, three words matching somewhere says nothing about the source
MAX_NEAR_WORDS = 400  # alignment grows with length: 400 words take ~30 ms, 3000 take ~0.6 s
_NEAR_CAP = 0.99  # a near match never scores 1.0, the mark of an exact one (e.g. only case differs)
_TYPO_CREDIT = 0.5  # a misspelt word counts half: probably the same word, but not surely
_MAX_REGIONS = 8  # candidate regions aligned per quote; the right one is nearly always first

# Markdown rules ("---" page breaks, invisible once rendered, split paragraphs in the
# Lancashire report), stray emphasis stars/underscores, soft hyphens, zero-width spaces.
_RULE = re.compile(r"(?m)^[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*$")
_STRAY = re.compile(r"\*+|_{2,}|[\u00ad\u200b-\u200d\u2060\ufeff]")
_SKIP = (_FOOTNOTE_MARK, _TAG, _HEADING_MARK, _RULE, _STRAY)
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_FOLD = str.maketrans(
    {
        **dict.fromkeys("’‘‚‛′`´ʼ", "'"),
        **dict.fromkeys("“”„‟″«»", '"'),
        **dict.fromkeys("‐‑‒–—―−", "-"),
        "\x00": " ",  # \x00 separates segments of a stream; never let text produce it
    }
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SEP = "\x00"
_PUNCT = "\"'()[].,;:!?-/"  # what a quote may start or end with besides words


@dataclass(frozen=True)
class CiteMatch:
    """One place a quote comes from; offsets index the report's canonical text."""

    doc_id: str
    source: str
    title: str
    force: str | None
    section: tuple[str, ...]
    block_index: int  # index into Document.blocks, -1 when the span is outside every block
    paragraph: str
    char_start: int
    char_end: int
    text: str
    status: Literal["exact", "near", "closest"]  # closest: not a match, the nearest text
    similarity: float
    passage_id: str | None
    # Footnotes printed inside the span (PDF text) that the quote skips over.
    skipped: tuple[tuple[int, int], ...] = ()
    # Near and closest: the changed words, as spans of the quote as sent and of ``text``.
    diff: WordDiff | None = None


@dataclass(frozen=True)
class CiteResult:
    """The answer to one quote: best matches first."""

    quote: str
    status: Literal["exact", "near", "not_found"]
    matches: list[CiteMatch] = field(default_factory=list)
    message: str | None = None


@dataclass
class _Stream:
    """Normalised text; ``starts[i]``/``ends[i]`` give the canonical span of character i."""

    cased: str
    text: str  # ``cased`` lower-cased character by character (same length)
    starts: array[int]
    ends: array[int]


def _wordish(c: str) -> bool:
    return c.isalnum() or c == "'"


def _stream(text: str, segments: list[list[tuple[int, int]]]) -> _Stream:
    """Normalise the given ranges of ``text``: each segment is one run, ranges inside it join."""
    skip = bytearray(len(text))
    for pattern in _SKIP:
        for m in pattern.finditer(text):
            skip[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    for m in _LINK.finditer(text):  # a markdown link reads as its text: skip "[" and "](url)"
        skip[m.start() : m.start(1)] = b"\x01" * (m.start(1) - m.start())
        skip[m.end(1) : m.end()] = b"\x01" * (m.end() - m.end(1))
    out: list[str] = []
    starts: array[int] = array("q")
    ends: array[int] = array("q")

    def emit(c: str, s: int, e: int) -> None:
        out.append(c)
        starts.append(s)
        ends.append(e)

    for segment in segments:
        if out:
            emit(_SEP, -1, -1)  # a hit can never run from one segment into the next
        space = False
        for lo, hi in segment:
            space = True
            i = lo
            while i < hi:
                ch = text[i]
                if skip[i]:  # markup is invisible and, as in strip_markup, not a word break
                    i += 1
                    continue
                j = i + 1
                entity = _ENTITY.match(text, i) if ch == "&" else None
                if entity and entity.end() <= hi:
                    ch, j = html.unescape(entity.group()), entity.end()
                norm = ch if ch < "\x80" else unicodedata.normalize("NFKC", ch.translate(_FOLD))
                for c in norm.translate(_FOLD):
                    if c.isspace():
                        space = True
                        continue
                    # Keep a space only between two word characters: "children [4]." and
                    # "children." must agree, "the rapist" and "therapist" must not (nor
                    # "leaders' expectations" and "leaders'expectations").
                    if space and out and _wordish(out[-1]) and _wordish(c):
                        emit(" ", i, i)
                    space = False
                    emit(c, i, j)
                i = j
    cased = "".join(out)
    lower = "".join(c if len(lc := c.lower()) != 1 else lc for c in cased)
    return _Stream(cased, lower, starts, ends)


def _whole_links(text: str, start: int, end: int) -> tuple[int, int]:
    """A span that begins or ends at a markdown link's text, widened over the link's syntax, so
    that it reads as the text with no stray "[" or "](url)"."""
    lo = text.rfind("\n", 0, start) + 1
    hi = text.find("\n", end)
    for m in _LINK.finditer(text, lo, len(text) if hi < 0 else hi):
        if m.start() < start <= m.start(1):
            start = m.start()
        if m.end(1) <= end < m.end():
            end = m.end()
    return start, end


def normalize(text: str) -> str:
    """The lower-cased normal form that quotes and reports are compared in."""
    return _stream(text, [[(0, len(text))]]).text


@dataclass
class _Doc:
    doc: Document
    stream: _Stream
    words: list[str]
    word_spans: list[tuple[int, int]]  # stream [start, end) of each word
    gaps: list[tuple[int, int]]
    block_starts: list[int]
    chunks: list[Chunk]


@dataclass(frozen=True)
class _Hit:
    doc: int
    start: int  # stream positions
    end: int
    similarity: float
    status: Literal["exact", "near", "closest"]


def _align(qw: list[str], credit: list[float], win: list[str]) -> tuple[float, int, int] | None:
    """Best window of ``win`` for the quote words: (similarity, start, end) within ``win``."""
    lq = len(qw)
    sm = SequenceMatcher(None, qw, win, autojunk=False)
    blocks = [m for m in sm.get_matching_blocks() if m.size]
    if not blocks:
        return None
    gained = [0.0]
    for m in blocks:
        gained.append(gained[-1] + sum(credit[m.a : m.a + m.size]))

    def score(i: int, k: int, trimming: bool) -> tuple[float, int, int]:
        a0, b0 = blocks[i].a, blocks[i].b
        a1, b1 = blocks[k].a + blocks[k].size, blocks[k].b + blocks[k].size
        matched = gained[k + 1] - gained[i]
        # Unmatched quote words at either end are probably changed words: stretch the window
        # over as many report words. That costs nothing while the window is no longer than
        # the quote (similarity divides by the longer of the two), so ties prefer stretching.
        # While trimming, the stretch is compulsory: otherwise cutting off a matched last word
        # behind a longer replacement ("in-person" for "face-to-face briefings") would pay.
        head, tail = min(a0, b0), min(lq - a1, len(win) - b1)
        stretches = [(head, tail)] if trimming else [(head, tail), (head, 0), (0, tail), (0, 0)]
        options = [
            (matched / max(lq, b1 - b0 + h + t), h + t, b0 - h, b1 + t) for h, t in stretches
        ]
        sim, _, start, end = max(options, key=lambda o: (o[0], o[1]))
        return sim, start, end

    # Drop stray matches at the edges (a lone "the" far away) while that raises the score.
    i, k = 0, len(blocks) - 1
    current = score(i, k, True)[0]
    while i < k:
        left, right = score(i + 1, k, True)[0], score(i, k - 1, True)[0]
        if max(left, right) <= current:
            break
        if left >= right:
            i, current = i + 1, left
        else:
            k, current = k - 1, right
    return score(i, k, False)


def _extend_punctuation(text: str, start: int, end: int, quote: str) -> tuple[int, int]:
    """Widen a word span over the punctuation the quote starts or ends with, when it is there."""
    lead = quote[: len(quote) - len(quote.lstrip(_PUNCT))]
    trail = quote[len(quote.rstrip(_PUNCT)) :]
    if lead and text[max(0, start - len(lead)) : start] == lead:
        start -= len(lead)
    if trail and text[end : end + len(trail)] == trail:
        end += len(trail)
    return start, end


class QuoteLocator:
    """Finds where quotes come from in a set of reports (build once, locate many times)."""

    def __init__(
        self,
        documents: Mapping[str, Document],
        chunks: Sequence[Chunk],
        threshold: float = NEAR_THRESHOLD,
    ) -> None:
        """Remember the reports; the work happens in ``build`` (or the first ``locate``)."""
        self._documents = documents
        self._chunks = chunks
        self.threshold = threshold
        self._docs: list[_Doc] = []
        self._postings: dict[str, list[tuple[int, int]]] = {}
        self._by_shape: dict[tuple[str, int], list[str]] = {}
        self._n_words = 0
        self._built = False

    def build(self) -> QuoteLocator:
        """Normalise every report and index its words; returns self."""
        self._docs, self._n_words = [], 0
        by_doc: dict[str, list[Chunk]] = defaultdict(list)
        for c in self._chunks:
            by_doc[c.doc_id].append(c)
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for di, doc in enumerate(self._documents.values()):
            gaps = sorted({g for b in doc.blocks for g in b.gaps})
            # Body text with mid-paragraph footnotes cut out, then each footnote on its own,
            # so a sentence interrupted by a footnote in PDF text still matches exactly.
            edges = [0, *(x for g in gaps for x in g), len(doc.text)]
            body = list(zip(edges[::2], edges[1::2], strict=True))
            stream = _stream(doc.text, [body, *([g] for g in gaps)])
            found = list(_WORD.finditer(stream.text))
            words = [m.group() for m in found]
            for p, w in enumerate(words):
                postings[w].append((di, p))
            blocks = [b.start for b in doc.blocks]
            chunks = sorted(by_doc.get(doc.doc_id, []), key=lambda c: c.start)
            spans = [m.span() for m in found]
            self._docs.append(_Doc(doc, stream, words, spans, gaps, blocks, chunks))
            self._n_words += len(words)
        self._postings = dict(postings)
        shapes: dict[tuple[str, int], list[str]] = defaultdict(list)
        for w in self._postings:
            shapes[w[0], len(w)].append(w)
        self._by_shape = dict(shapes)
        self._built = True
        return self

    def locate(self, quote: str, max_matches: int = 3) -> CiteResult:
        """Where ``quote`` comes from: exact matches, else near ones, else not_found."""
        if not quote.strip():
            raise ValueError("the quote is empty")
        if max_matches < 1:
            raise ValueError("max_matches must be at least 1")
        if not self._built:
            self.build()
        # Page numbers and line-end hyphens a PDF copy adds are not part of the quote.
        pasted = clean_paste(quote, known=self._postings.__contains__)
        norm = _stream(pasted.text, [[(0, len(pasted.text))]])
        q = norm.text
        if not q.replace(" ", ""):
            raise ValueError("the quote has no text once markup and footnote markers are removed")
        hits = self._exact(q, norm.cased)
        exact = [h for h in hits if h.status == "exact"]
        if exact:
            n = len(exact)
            msg = None if n == 1 else f"{n} exact occurrences"
            if n > max_matches:
                msg = f"{msg}; showing the first {max_matches}"
            return CiteResult(quote, "exact", [self._match(h) for h in exact[:max_matches]], msg)
        if hits:
            matches = [self._match(h, pasted) for h in hits[:max_matches]]
            return CiteResult(quote, "near", matches, "the words match but letter case differs")
        words = _WORD.findall(q)
        if not MIN_NEAR_WORDS <= len(words) <= MAX_NEAR_WORDS:
            size = "few" if len(words) < MIN_NEAR_WORDS else "many"
            msg = f"no exact match, and {len(words)} words are too {size} for an approximate search"
            limits = f"{MIN_NEAR_WORDS}-{MAX_NEAR_WORDS} words"
            return CiteResult(quote, "not_found", [], f"{msg} ({limits})")
        near = self._near(q, words)
        good = [h for h in near if h.similarity >= self.threshold][:max_matches]
        if not good:
            best = f"; the closest passage scores {near[0].similarity:.2f}" if near else ""
            msg = f"no passage in the {len(self._docs)} reports matches this quote closely enough"
            closest = [
                self._match(replace(h, status="closest"), pasted) for h in near[:max_matches]
            ]
            msg = f"{msg} (threshold {self.threshold}{best})"
            return CiteResult(quote, "not_found", closest, msg)
        return CiteResult(quote, "near", [self._match(h, pasted) for h in good])

    def _exact(self, q: str, q_cased: str) -> list[_Hit]:
        """Every whole-word occurrence of ``q`` in document order; "near" when case differs."""
        first = next((i for i, c in enumerate(q_cased) if c.isalnum()), 0)
        q_rest = q_cased[:first] + q_cased[first + 1 :]
        hits: list[_Hit] = []
        for di, d in enumerate(self._docs):
            text = d.stream.text
            pos = text.find(q)
            while pos >= 0:
                end = pos + len(q)
                # Reject hits that start or end inside a word ("ice officers" in "police").
                inside = pos > 0 and text[pos - 1].isalnum() and text[pos].isalnum()
                if not inside and not (end < len(text) and text[end - 1 : end + 1].isalnum()):
                    found = d.stream.cased[pos:end]
                    # The first letter may differ in case (a quote that starts mid-sentence).
                    if found[:first] + found[first + 1 :] == q_rest:
                        hits.append(_Hit(di, pos, end, 1.0, "exact"))
                    else:
                        hits.append(_Hit(di, pos, end, _NEAR_CAP, "near"))
                pos = text.find(q, pos + 1)
        return hits

    def _fix_typos(self, words: list[str]) -> tuple[list[str], list[float]]:
        """Swap words no report uses for a close report word; return the credit each earns."""
        fixed, credit = [], []
        for w in words:
            close: list[str] = []
            if w not in self._postings and len(w) >= 5 and not w.isdigit():
                # Same first letter and length +-1: typos rarely hit the first letter, and
                # the small bucket keeps this to microseconds.
                pool = [x for n in (-1, 0, 1) for x in self._by_shape.get((w[0], len(w) + n), [])]
                close = get_close_matches(w, pool, n=1, cutoff=0.8)
            fixed.append(close[0] if close else w)
            credit.append(_TYPO_CREDIT if close else 1.0)
        return fixed, credit

    def _near(self, q: str, words: list[str]) -> list[_Hit]:
        """Best approximate windows, best first, none overlapping another."""
        qw, credit = self._fix_typos(words)
        lq = len(qw)
        slack = max(2, lq // 4)
        # Each occurrence of a quote word votes for the alignment (doc, offset) it implies,
        # rare words louder (idf). Only the rarer half of the quote's words vote: "the" and
        # "children" say little about where a quote is and would cost thousands of votes.
        known = sorted((len(self._postings[w]), j) for j, w in enumerate(qw) if w in self._postings)
        votes: dict[tuple[int, int], float] = defaultdict(float)
        for n, j in known[: max(6, len(known) // 2)]:
            weight = math.log(1 + self._n_words / n)
            for di, p in self._postings[qw[j]]:
                votes[di, p - j] += weight
        # A region tolerates words added or dropped: sum votes over offsets within +-slack
        # (a sliding window over each report's sorted offsets).
        per_doc: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for (di, off), weight in sorted(votes.items()):
            per_doc[di].append((off, weight))
        region: dict[tuple[int, int], float] = {}
        for di, items in per_doc.items():
            lo = hi = 0
            total = 0.0
            for off, _ in items:
                while hi < len(items) and items[hi][0] <= off + slack:
                    total, hi = total + items[hi][1], hi + 1
                while items[lo][0] < off - slack:
                    total, lo = total - items[lo][1], lo + 1
                region[di, off] = total
        chosen: list[tuple[int, int]] = []
        for di, off in sorted(region, key=lambda k: (-region[k], k)):
            if len(chosen) == _MAX_REGIONS:
                break
            if all(d != di or abs(o - off) > lq for d, o in chosen):
                chosen.append((di, off))
        hits: list[_Hit] = []
        for di, off in chosen:
            d = self._docs[di]
            lo, hi = max(0, off - slack), min(len(d.words), off + lq + slack)
            aligned = _align(qw, credit, d.words[lo:hi])
            if aligned:
                sim, a, b = aligned
                a, b = lo + a, lo + b
                # difflib pairs a repeated word ("the") with its first occurrence, which may be
                # far from the rest; aligning again in a tight window around the hit fixes that.
                lo, hi = max(0, a - 2), min(len(d.words), b + 2)
                again = _align(qw, credit, d.words[lo:hi])
                if again and again[0] > sim:
                    sim, a, b = again[0], lo + again[1], lo + again[2]
                s, e = d.word_spans[a][0], d.word_spans[b - 1][1]
                if _SEP in d.stream.text[s:e]:
                    continue  # runs from the body into a footnote printed elsewhere
                s, e = _extend_punctuation(d.stream.text, s, e, q)
                hits.append(_Hit(di, s, e, min(_NEAR_CAP, round(sim, 4)), "near"))
        hits.sort(key=lambda h: (-h.similarity, h.doc, h.start))
        # Stretched windows of neighbouring regions can land on the same words: keep the best.
        kept: list[_Hit] = []
        for h in hits:
            if all(k.doc != h.doc or k.end <= h.start or h.end <= k.start for k in kept):
                kept.append(h)
        return kept

    def _match(self, hit: _Hit, pasted: CleanPaste | None = None) -> CiteMatch:
        """Turn a stream hit into canonical offsets, section, paragraph and passage."""
        d = self._docs[hit.doc]
        doc = d.doc
        start, end = d.stream.starts[hit.start], d.stream.ends[hit.end - 1]
        start, end = _whole_links(doc.text, start, end)
        bi = bisect_right(d.block_starts, start) - 1
        if bi >= 0 and start < doc.blocks[bi].end:
            block = doc.blocks[bi]
            section = doc.sections[block.section].path
            paragraph = passage_text(doc.text, block.start, block.end)
        else:
            bi = -1
            inside = [s for s in doc.sections if s.start <= start < s.end]
            section = max(inside, key=lambda s: s.level).path if inside else ()
            line_end = doc.text.find("\n", end)
            line_end = len(doc.text) if line_end < 0 else line_end
            paragraph = passage_text(doc.text, doc.text.rfind("\n", 0, start) + 1, line_end)
        # The chunk holding the span; when it straddles two, the one holding most of it.
        overlap = [(min(end, c.end) - max(start, c.start), c) for c in d.chunks]
        best = max(overlap, key=lambda t: t[0], default=(0, None))
        passage = best[1].chunk_id if best[1] is not None and best[0] > 0 else None
        skipped = tuple(g for g in d.gaps if start <= g[0] and g[1] <= end)
        text = passage_text(doc.text, start, end)
        diff = None
        if pasted is not None and hit.status != "exact":
            found = word_diff(pasted.text, text)
            diff = WordDiff(tuple(pasted.span(*s) for s in found.quote), found.text)
        meta = (doc.doc_id, doc.source, doc.metadata.title, doc.metadata.force)
        return CiteMatch(*meta, section, bi, paragraph, start, end, text, hit.status,
                         hit.similarity, passage, skipped, diff)  # fmt: skip
