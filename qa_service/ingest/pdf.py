"""Reader for PDF reports: the text layer, rebuilt into paragraphs, headings and footnotes.

The canonical text is the text we extract: one line per paragraph, list item, heading,
footnote or table row (cells joined by a TAB), a blank line between blocks. Running
headers, footers and page numbers are dropped; footnotes are moved after the paragraph
they interrupt, with a Unicode superscript marker. Headings are judged by type size
(``hint`` = rank of the size, largest first) and, at body size, by whole-line bold.
Single-column reading order (top to bottom) is assumed.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise, takewhile
from statistics import median
from typing import Any

import pdfplumber

from . import lines as L
from .extracted import Extracted, IngestError, RawItem
from .html import bold_source

Char = dict[str, Any]
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[•●▪◦‣∙·]\s*|[–-]\s+)")
_PAGE_NO = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE)
_LEAD_DIGITS = re.compile(r"^(\d{1,3})\s+(?=\S)")
_TERMINAL = re.compile(r"[.!?:;’”\"')\]]\s*$")  # as structure._TERMINAL: a finished paragraph
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
# A web address the typesetter broke across lines (no hyphen, no space to restore).
_URL_END = re.compile(r"(?:https?://|www\.)\S*[^\s.,;:)]$")
_URL_MORE = re.compile(r"^(?:[-_/.]|[^\s/]*[/_]|[^\s.]*\.\w)")
_MARGIN = 0.08  # top/bottom share of the page where running headers and footers live


@dataclass
class _Line:
    page: int
    top: float
    bottom: float
    x0: float
    x1: float
    size: float  # dominant font size, by character count
    bold: bool  # (nearly) every character bold
    text: str
    source: str  # ``text`` with bold runs in <b>, for the builder's TOC cue
    marker: str = ""  # leading raised footnote digits
    row: int = -1  # table number for a table row, else -1


@dataclass
class _Block:
    lines: list[_Line]
    kind: str = "para"  # para | list | foot | row


def _is_bold(c: Char) -> bool:
    return bool(_BOLD_FONT.search(str(c.get("fontname", ""))))


def _make_line(chars: list[Char], page: int) -> _Line:
    """One visual line: dominant size, superscripts, spaces from gaps, bold runs."""
    sizes = Counter(round(float(c["size"]), 1) for c in chars if c["text"].strip())
    size = sizes.most_common(1)[0][0] if sizes else float(chars[0]["size"])
    core = [c for c in chars if abs(float(c["size"]) - size) < 0.3] or chars
    base = median(float(c["bottom"]) for c in core)
    out: list[tuple[str, bool]] = []
    marker, leading, prev = "", True, None
    for c in sorted(chars, key=lambda c: float(c["x0"])):
        ch = str(c["text"])
        raised = float(c["size"]) <= 0.85 * size and float(c["bottom"]) < base - 0.2 * size
        if raised and ch.isdigit():
            ch = ch.translate(_SUPERSCRIPT)  # footnote reference: lines.footnote_marker reads it
            if leading:
                marker += ch
        elif ch.strip():
            leading = False
        if prev is not None and ch != " " and prev["text"] != " ":
            gap = float(c["x0"]) - float(prev["x1"])
            if gap > 2.5 * size and len(out) > 4:  # wide gap mid-line: a column of a table
                out.append(("\t", False))
            elif gap > 0.2 * size:  # producers that draw no space glyphs
                out.append((" ", False))
        out.append((ch, _is_bold(c)))
        prev = c
    text, source = bold_source([(" " if ch.isspace() and ch != "\t" else ch, b) for ch, b in out])
    text, source = re.sub(r" +", " ", text).strip(), re.sub(r" +", " ", source).strip()
    visible = [c for c in core if c["text"].strip()]
    bold = bool(visible) and sum(map(_is_bold, visible)) >= 0.9 * len(visible)
    return _Line(
        page,
        min(float(c["top"]) for c in core),
        max(float(c["bottom"]) for c in core),
        min(float(c["x0"]) for c in chars),
        max(float(c["x1"]) for c in chars),
        size,
        bold,
        text,
        source,
        marker,
    )


def _lines(chars: list[Char], page: int) -> list[_Line]:
    """Group characters into lines: tallest spans seed lines, smaller ones join by centre."""
    spans = sorted(
        {(round(float(c["top"]), 1), round(float(c["bottom"]), 1)) for c in chars},
        key=lambda s: s[0] - s[1],
    )
    seeds: list[tuple[float, float]] = []
    owner: dict[tuple[float, float], int] = {}
    for top, bottom in spans:
        mid = (top + bottom) / 2
        k = next((i for i, (t, b) in enumerate(seeds) if t <= mid <= b), None)
        if k is None:
            k = len(seeds)
            seeds.append((top, bottom))
        owner[(top, bottom)] = k
    groups: list[list[Char]] = [[] for _ in seeds]
    for c in chars:
        groups[owner[(round(float(c["top"]), 1), round(float(c["bottom"]), 1))]].append(c)
    lines = [_make_line(g, page) for g in groups if any(c["text"].strip() for c in g)]
    return sorted(lines, key=lambda ln: (ln.top, ln.x0))


def _inside(c: Char, box: tuple[float, float, float, float]) -> bool:
    x, y = (float(c["x0"]) + float(c["x1"])) / 2, (float(c["top"]) + float(c["bottom"])) / 2
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _dedupe(chars: list[Char]) -> list[Char]:
    """Drop glyphs drawn twice at the same place (fake bold, shadows); cheaper than pdfplumber's."""
    keep: dict[tuple[str, int, int], Char] = {}
    for c in chars:
        keep.setdefault((str(c["text"]), round(float(c["x0"])), round(float(c["top"]))), c)
    return list(keep.values())


def _page_lines(page: Any, number: int, tables_seen: int) -> list[_Line]:
    """Lines of one page, each ruled table row as one line of TAB-joined cells."""
    chars = _dedupe([c for c in page.chars if c.get("upright", True)])
    rows: list[_Line] = []
    boxes = []
    for t_index, table in enumerate(page.find_tables()):
        found: list[_Line] = []
        for row in table.rows:
            cells: list[tuple[str, str]] = []
            for cell in row.cells:
                parts = _lines([c for c in chars if _inside(c, cell)], number) if cell else []
                cells.append((" ".join(p.text for p in parts), " ".join(p.source for p in parts)))
            if any(t for t, _ in cells):
                x0, top, x1, bottom = row.bbox
                found.append(
                    _Line(
                        number,
                        top,
                        bottom,
                        x0,
                        x1,
                        0.0,
                        False,
                        "\t".join(t for t, _ in cells),
                        "\t".join(s for _, s in cells),
                        row=tables_seen + t_index,
                    )
                )
        # A ruled box around text (a case study, a callout) is not a table: its text flows.
        if len(found) >= 2 and any(ln.text.strip().count("\t") for ln in found):
            boxes.append(table.bbox)
            rows += found
    flow = [c for c in chars if not any(_inside(c, b) for b in boxes)]
    return sorted(_lines(flow, number) + rows, key=lambda ln: (ln.top, ln.x0))


def _drop_furniture(pages: list[list[_Line]], heights: list[float]) -> list[list[_Line]]:
    """Remove running headers/footers (repeated on 3+ pages) and bare page numbers."""

    def in_margin(ln: _Line) -> bool:
        h = heights[ln.page]
        return ln.row < 0 and (ln.top < _MARGIN * h or ln.bottom > (1 - _MARGIN) * h)

    def key(ln: _Line) -> str:
        return re.sub(r"\d+", "#", ln.text.lower())

    seen = Counter(k for lines in pages for k in {key(ln) for ln in lines if in_margin(ln)})
    return [
        [
            ln
            for ln in lines
            if not (in_margin(ln) and (seen[key(ln)] >= 3 or _PAGE_NO.match(ln.text)))
        ]
        for lines in pages
    ]


def _finished(text: str) -> bool:
    """Ends a sentence (a footnote reference after the full stop does not count)."""
    return _TERMINAL.search(text.rstrip("⁰¹²³⁴⁵⁶⁷⁸⁹ ")) is not None


def _mark_footnotes(pages: list[list[_Line]], body: float) -> set[int]:
    """ids of footnote lines: small type starting with a raised number, or with a plain
    number in the run of small lines at the foot of the page (and their continuations)."""
    notes: set[int] = set()
    carry: _Line | None = None  # an unfinished footnote ending the previous page
    for lines in pages:
        flow = [ln for ln in lines if ln.row < 0]
        foot = {id(ln) for ln in takewhile(lambda ln: ln.size <= 0.92 * body, reversed(flow))}
        prev: _Line | None = None
        marked = False
        for ln in flow:
            small = ln.size <= 0.92 * body
            starts = small and (
                bool(ln.marker) or (id(ln) in foot and bool(_LEAD_DIGITS.match(ln.text)))
            )
            if starts and not ln.marker:
                m = _LEAD_DIGITS.match(ln.text)
                assert m is not None
                ln.marker = m.group(1).translate(_SUPERSCRIPT)
                ln.text = ln.marker + " " + ln.text[m.end() :]
                ln.source = ln.marker + " " + re.sub(r"^(<b>)?\d{1,3}\s*", r"\1", ln.source)
            marked = marked or starts
            cont = (
                small
                and not ln.marker
                and (
                    (
                        prev is not None
                        and id(prev) in notes
                        and ln.top - prev.bottom < 0.8 * ln.size
                    )
                    # run on from the previous page: at the top of this one, or atop its footnotes
                    or (carry is not None and not marked and (prev is None or id(ln) in foot))
                )
            )
            if starts or cont:
                notes.add(id(ln))
            prev = ln
        last = flow[-1] if flow else None
        carry = last if last and id(last) in notes and not _finished(last.text) else None
    return notes


def _gap_threshold(pages: list[list[_Line]], body: float) -> float:
    """Vertical gap above which two body lines belong to different paragraphs."""
    gaps: Counter[int] = Counter()
    for lines in pages:
        for a, b in pairwise(lines):
            if a.row < 0 and b.row < 0 and abs(a.size - body) < 0.3 and abs(b.size - body) < 0.3:
                gaps[round(b.top - a.bottom)] += 1
    usual = gaps.most_common(1)[0][0] if gaps else 0.3 * body
    return max(usual, 0) + max(1.5, 0.25 * body)


def _new_item(cur: _Block, ln: _Line) -> bool:
    """``ln`` starts a list item. A dash may instead be a parenthetical dash that the line
    wrapped before ("forces – working together"): so not when it sits where the open
    paragraph's next line would and that paragraph is unfinished."""
    if not _BULLET.match(ln.text):
        return False
    prev, first = cur.lines[-1], cur.lines[0]
    if ln.text.lstrip()[:1] not in "–-" or _finished(prev.text):
        return True
    in_place = (
        ln.x0 >= first.x0 + 0.5 * ln.size
        if cur.kind == "list"
        else abs(ln.x0 - prev.x0) < 0.3 * ln.size
    )
    return not in_place


def _continues(
    cur: _Block, ln: _Line, interrupted: bool, thr: float, col: tuple[float, float], body: float
) -> bool:
    """Does ``ln`` carry on the open block (same paragraph or list item)?"""
    prev, first = cur.lines[-1], cur.lines[0]
    if cur.kind not in ("para", "list") or ln.row >= 0 or _new_item(cur, ln):
        return False
    if abs(ln.size - prev.size) > 0.6 or ln.bold != prev.bold:
        return False
    if cur.kind == "list" and ln.x0 < first.x0 + 0.5 * ln.size:  # back out of the hanging indent
        return False
    if interrupted:
        # Across a page break or a footnote only an unfinished paragraph goes on.
        if L.is_caption(first.text) or prev.size >= 1.15 * body:  # headings end at a break
            return False
        return not _finished(prev.text) or ln.text[:1].islower()
    gap = ln.top - prev.bottom
    if gap > thr * ln.size / body or gap < -0.5 * ln.size:
        return False
    if cur.kind == "para" and ln.x0 > prev.x0 + 0.8 * ln.size:  # first-line indent
        return False
    # A short line then a capitalised one: a forced line break (title page, addresses).
    # Not in headings, which wrap wherever the phrase breaks best.
    short = prev.x1 < col[1] - 0.4 * (col[1] - col[0]) and ln.size < 1.15 * body
    return not (short and (ln.text[:1].isupper() or ln.text[:1].isdigit()))


def _blocks(pages: list[list[_Line]], notes: set[int], body: float) -> list[_Block]:
    """Group lines into blocks; footnotes go after the paragraph they interrupt."""
    thr = _gap_threshold(pages, body)
    widths = sorted(ln.x1 for lines in pages for ln in lines if abs(ln.size - body) < 0.3)
    lefts = sorted(ln.x0 for lines in pages for ln in lines if abs(ln.size - body) < 0.3)
    col = (lefts[len(lefts) // 20], widths[len(widths) * 19 // 20]) if widths else (0.0, 1e9)
    out: list[_Block] = []
    pending: list[_Block] = []
    cur: _Block | None = None
    for lines in pages:
        interrupted = True
        for ln in lines:
            if id(ln) in notes:
                if ln.marker or not pending:
                    pending.append(_Block([ln], "foot"))
                else:
                    pending[-1].lines.append(ln)
                interrupted = True
                continue
            if cur is not None and (
                (cur.kind == "row" and ln.row == cur.lines[-1].row)
                or _continues(cur, ln, interrupted, thr, col, body)
            ):
                cur.lines.append(ln)
            else:
                if cur is not None:
                    out.append(cur)
                out += pending
                pending = []
                kind = "row" if ln.row >= 0 else "list" if _BULLET.match(ln.text) else "para"
                cur = _Block([ln], kind)
            interrupted = False
    out += ([cur] if cur is not None else []) + pending
    return out


def _join(lines: list[_Line], compounds: set[str]) -> tuple[str, str]:
    """One paragraph from its lines: spaces between, line-end hyphens resolved."""
    text, source = lines[0].text, lines[0].source
    for ln in lines[1:]:
        m = re.search(r"(\w+)[-\xad]$", text)
        nxt = re.match(r"\w+", ln.text)
        url = _URL_END.search(text) is not None
        if m and nxt and text[-1] == "\xad":
            text, source, sep = text[:-1], source.removesuffix("\xad"), ""
        elif m and nxt and ln.text[:1].islower() and not url:
            # A hyphen the typesetter added is dropped, unless the document also writes
            # this compound with a hyphen mid-line ("multi-agency").
            word = f"{m.group(1)}-{nxt.group(0)}".lower()
            sep = ""
            if word not in compounds:
                text, source = text[:-1], source[:-1] if source.endswith("-") else source
        elif (m and nxt) or (url and _URL_MORE.match(ln.text)):
            sep = ""  # "Pan-" + "Lancashire", or a web address broken across lines
        else:
            sep = " "
        text, source = text + sep + ln.text, source + sep + ln.source
    return text, source


def _hints(blocks: list[_Block], body: float) -> dict[int, int]:
    """Heading level hint by block index: the rank of its type size, largest first."""
    words = [sum(len(ln.text.split()) for ln in b.lines) for b in blocks]
    large = {
        i: b.lines[0].size
        for i, b in enumerate(blocks)
        if b.kind == "para"
        and b.lines[0].size >= 1.15 * body
        and words[i] <= 30
        and not b.lines[0].marker
        and re.search(r"[^\W\d_]", b.lines[0].text)
    }
    ranks: list[float] = []
    for size in sorted(set(large.values()), reverse=True):
        if not ranks or ranks[-1] - size > 0.6:
            ranks.append(size)
    hints = {
        i: 1 + max(k for k, r in enumerate(ranks) if r >= size - 0.6) for i, size in large.items()
    }
    for i, b in enumerate(blocks):
        first = b.lines[0]
        text = " ".join(ln.text for ln in b.lines)
        # A bold line at body size is a minor heading only when it reads like one: at most
        # two lines, a short phrase, no closing punctuation, and none of the other roles a
        # bold line has in reports (caption, TOC entry, list item, footnote). Bold sentences
        # and bold lead-ins end in punctuation or run on, so they stay paragraphs.
        if (
            i not in hints
            and b.kind == "para"
            and len(b.lines) <= 2
            and all(ln.bold for ln in b.lines)
            and abs(first.size - body) <= 0.15 * body
            and words[i] <= 20
            and not re.search(r"[.,;:]$", text)
            and (text[:1].isupper() or text[:1].isdigit())
            and not (
                L.is_caption(text)
                or L.toc_entry(first.source)
                or first.marker
                or L.is_list_item(text)
                or L.is_case_label(text)
                or "\t" in text
            )
        ):
            hints[i] = len(ranks) + 1
    return hints


def _why(exc: Exception) -> str:
    """A short reason; pdfplumber wraps pdfminer's own exception in its first argument."""
    if exc.args and isinstance(exc.args[0], Exception):
        exc = exc.args[0]
    name = type(exc).__name__
    if re.search(r"password|encrypt", f"{name} {exc}", re.IGNORECASE):
        return "it is encrypted; remove the password and index again"
    detail = str(exc).strip()[:120]
    return f"{name}: {detail}" if detail else name


def extract(data: bytes, name: str) -> Extracted:
    """Extract the canonical text of a PDF and one RawItem per paragraph, heading or row."""
    pages: list[list[_Line]] = []
    heights: list[float] = []
    n_chars = 0
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            tables = 0
            for number, page in enumerate(pdf.pages):
                lines = _page_lines(page, number, tables)
                tables = max([tables - 1, *(ln.row for ln in lines)]) + 1
                pages.append(lines)
                heights.append(float(page.height))
                n_chars += sum(len(ln.text.strip()) for ln in lines)
    except Exception as exc:  # pdfminer raises many types for damaged or encrypted files
        raise IngestError(f"{name}: not a readable PDF ({_why(exc)})") from None
    if n_chars < 5 * max(1, len(pages)):  # a stray stamp or page number is no text layer
        raise IngestError(f"{name}: no text layer (scanned PDF?); OCR it first")
    pages = _drop_furniture(pages, heights)
    # Body size: the most common size by character count.
    sizes = Counter(ln.size for lines in pages for ln in lines if ln.row < 0 for _ in ln.text)
    body = sizes.most_common(1)[0][0] if sizes else 10.0
    notes = _mark_footnotes(pages, body)
    blocks = _blocks(pages, notes, body)
    hints = _hints(blocks, body)
    compounds = {
        w.lower() for lines in pages for ln in lines for w in re.findall(r"\w+-\w+", ln.text)
    }
    out: list[str] = []
    items: list[RawItem] = []
    pos = 0
    for i, b in enumerate(blocks):
        if b.kind == "row":
            parts = [(ln.text, ln.source) for ln in b.lines]
        else:
            text, source = _join(b.lines, compounds)
            if b.kind == "list":  # "- " is the list marker lines.is_list_item reads
                text, source = _BULLET.sub("- ", text, count=1), _BULLET.sub("- ", source, count=1)
            parts = [(text, source)]
        for k, (text, source) in enumerate(parts):
            sep = "" if not out else "\n" if k else "\n\n"
            out.append(sep + text)
            pos += len(sep)
            lead = len(text) - len(text.lstrip())
            items.append(
                RawItem(
                    pos + lead,
                    pos + len(text.rstrip()),
                    L.clean_line(text),
                    source.strip(),
                    hint=hints.get(i),
                    plain=False,
                )
            )
            pos += len(text)
    return Extracted("".join(out), items)
