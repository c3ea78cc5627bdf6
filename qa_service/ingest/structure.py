"""Turn a reader's raw items into a section tree and typed blocks.

Every format's reader emits ``RawItem``s (a line or paragraph with its span in the
canonical text and, where the format has it, a heading level). This module is the one
place that decides what is a heading and how deep, what is a table of contents, front
matter or page furniture, and what type each block is, so that the same report read
from .txt, .md, .html or .pdf gets the same tree.

Heading depth is decided from the strongest cue available, in this order:
1. the report's own table of contents (bold or numbered entries are chapters);
2. section numbering (``2.`` is a chapter, ``2.1`` a subsection);
3. ``Area: Part`` headings whose one side names an open ancestor (web reports write
   "Initial contact: Summary of findings" under "Initial contact", or under
   "Findings: Initial contact"), and siblings that share an area ("Findings: Investigation"
   after "Findings: Initial contact"); a section's title is always the whole heading line;
4. the words every report uses for its front and back matter (Introduction, Next steps...);
5. otherwise relative cues: markup levels (trusted only relative to each other, since
   converted documents often level headings wrongly), and for plain text whether the
   heading states a finding (a headline sits under the part it belongs to).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..types import Block, BlockType, Footnote, Section
from . import lines as L
from .blocks import close_sections, make_blocks
from .extracted import RawItem

_KEYWORD_SINGLE = frozenset(
    {
        "foreword",
        "preface",
        "summary",
        "executive summary",
        "introduction",
        "background",
        "conclusion",
        "conclusions",
        "next steps",
        "references",
        "notes",
        "endnotes",
        "glossary",
        "acknowledgements",
        "bibliography",
        "about this report",
    }
)
_KEYWORD_PREFIX = ("annex ", "appendix ", "summary of findings", "summary of main findings")


@dataclass
class _Open:
    section: int
    rank: int
    absolute: bool
    hint: int | None
    headline: bool
    key: str
    # An "Area: Part" heading: the side shared with its parent or siblings, and the side
    # that names what it introduces (a later "Part: Detail" heading goes under it).
    area: str = ""
    part: str = ""


@dataclass
class Structure:
    """What the builder found: sections, blocks, footnotes, title and TOC."""

    sections: list[Section] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    footnotes: list[Footnote] = field(default_factory=list)
    front_matter: list[str] = field(default_factory=list)
    toc: list[L.TocEntry] = field(default_factory=list)


def classify(items: list[RawItem]) -> None:
    """Assign each item a role: heading, para, list, table, caption, footnote, toc, furniture."""
    in_toc = False
    for i, it in enumerate(items):
        text, src = it.text, it.source
        nxt = items[i + 1] if i + 1 < len(items) else None
        if L.title_key(text) in ("contents", "table of contents"):
            it.role, in_toc = "toc", True
        elif (toc := L.toc_entry(src)) is not None and (in_toc or toc.leaders):
            it.role = "toc"
        elif L.is_furniture(text):
            it.role = "furniture"
        elif it.kind in ("footnote", "table") or (it.kind == "list" and not L.is_caption(text)):
            it.role = it.kind
        elif L.footnote_marker(src) is not None:
            it.role = "footnote"
        elif it.hint is not None:
            it.role = "heading"
        elif L.is_caption(text):
            it.role = "caption"
        elif L.is_table_row(src):
            it.role = "table"
        elif L.is_list_item(src):
            it.role = "list"
        elif L.is_case_label(text):
            it.role = "case"
        elif it.plain and nxt is not None and L.looks_like_heading(text):
            it.role = "heading"
        else:
            it.role = "para"
        if it.role != "toc":
            in_toc = False
    # A short line between two table rows is a row whose cells lost their separators.
    for i in range(1, len(items) - 1):
        between_rows = items[i - 1].role == "table" and items[i + 1].role == "table"
        if between_rows and items[i].role in ("heading", "para") and len(items[i].text) < 120:
            items[i].role = "table"


def _is_substantial(it: RawItem) -> bool:
    return it.role in ("para", "list") and len(it.text.split()) >= 12


def mark_front_matter(items: list[RawItem]) -> list[str]:
    """Mark the title page: the first line and everything up to the last imprint, TOC or
    navigation line before the first real paragraph. Returns the title page's lines."""
    first = next((i for i, it in enumerate(items) if _is_substantial(it)), len(items))
    end = 1 if items and items[0].role == "heading" else 0  # the first line is the title
    for i in range(first):
        it = items[i]
        if (
            it.role == "toc"
            or (it.role == "furniture" and not L.is_page_number(it.text))
            or L.is_front_matter_line(it.text)
            or L.is_date_line(it.text)
        ):
            end = i + 1
    front = []
    for it in items[:end]:
        if it.role != "toc":
            if it.role != "furniture" and not L.is_front_matter_line(it.text):
                front.append(it.text)
            it.role = "furniture"
    # Repeated titles (web pages print the title again at the foot) are furniture too.
    if front:
        title_key = L.title_key(front[0])
        for it in items[end:]:
            if it.role in ("heading", "para") and L.title_key(it.text) == title_key:
                it.role = "furniture"
    return front


def _toc_levels(entries: list[L.TocEntry]) -> dict[str, int]:
    levels: dict[str, int] = {}
    any_bold = any(e.bold for e in entries)
    any_num = any(L.numbering(e.title) for e in entries)
    for e in entries:
        num = L.numbering(e.title)
        if any_bold:
            level = 1 if e.bold else 2
        elif any_num:
            level = num.count(".") + 1 if num else 2
        else:
            level = 1
        levels.setdefault(L.title_key(e.title), level)
    return levels


def _keyword_rank(key: str) -> int | None:
    if key in _KEYWORD_SINGLE or key.startswith(_KEYWORD_PREFIX):
        return 1
    return None


def _split_colon(title: str) -> tuple[str, str] | None:
    if ": " not in title or L.numbering(title):
        return None
    left, right = (s.strip() for s in title.split(": ", 1))
    if not left or not right or len(left.split()) > 8 or len(right.split()) > 15:
        return None
    return left, right


class _TreeBuilder:
    def __init__(self, toc_levels: dict[str, int]) -> None:
        self.toc_levels = toc_levels
        self.stack: list[_Open] = []
        self.sections: list[Section] = []
        self.opens: list[_Open] = []  # the _Open record of every section, by index

    def _pop_to(self, pred: object) -> None:
        while self.stack and pred(self.stack[-1]):  # type: ignore[operator]
            self.stack.pop()

    def _push(
        self,
        title: str,
        span: tuple[int, int],
        rank: int,
        absolute: bool,
        hint: int | None,
        headline: bool,
        sides: tuple[str, str] = ("", ""),
    ) -> None:
        parent = self.stack[-1].section if self.stack else None
        path = (*self.sections[parent].path, title) if parent is not None else (title,)
        index = len(self.sections)
        self.sections.append(
            Section(
                index=index,
                title=title,
                level=len(path),
                parent=parent,
                path=path,
                start=span[0],
                end=span[1],
                heading_end=span[1],
            )
        )
        self.opens.append(_Open(index, rank, absolute, hint, headline, L.title_key(title), *sides))
        self.stack.append(self.opens[-1])

    def _place_absolute(
        self,
        title: str,
        span: tuple[int, int],
        rank: int,
        hint: int | None,
        sides: tuple[str, str] = ("", ""),
    ) -> None:
        self._pop_to(lambda o: o.rank >= rank)
        self._push(title, span, rank, True, hint, False, sides)

    def _find_open(self, key: str) -> int | None:
        """Position in the stack of the nearest open section titled ``key``."""
        for k in range(len(self.stack) - 1, -1, -1):
            if key in (self.stack[k].key, self.stack[k].part):
                return k
        return None

    def _find_area(self, key: str) -> int | None:
        """Position in the stack of the nearest open "Area: Part" section of area ``key``."""
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k].area == key:
                return k
        return None

    def _reopen(self, key: str) -> int | None:
        """Reopen the latest closed section titled ``key`` (closed early by a misread heading)."""
        for o in reversed(self.opens):
            if key in (o.key, o.part) and not o.headline:
                chain: list[_Open] = []
                i: int | None = o.section
                while i is not None:
                    chain.append(self.opens[i])
                    i = self.sections[i].parent
                self.stack = chain[::-1]
                return len(self.stack) - 1
        return None

    def _child_of(
        self,
        k: int,
        title: str,
        span: tuple[int, int],
        hint: int | None,
        sides: tuple[str, str] = ("", ""),
    ) -> None:
        del self.stack[k + 1 :]
        self._push(title, span, self.stack[k].rank + 1, False, hint, False, sides)

    def _sibling_of(
        self, k: int, title: str, span: tuple[int, int], hint: int | None, sides: tuple[str, str]
    ) -> None:
        o = self.stack[k]
        del self.stack[k:]
        self._push(title, span, o.rank, o.absolute, hint, False, sides)

    def add(self, title: str, span: tuple[int, int], hint: int | None, after_heading: bool) -> None:
        key = L.title_key(title)
        if key in self.toc_levels:
            self._place_absolute(title, span, self.toc_levels[key], hint)
            return
        num = L.numbering(title)
        if num:
            self._place_absolute(title, span, num.count(".") + 1, hint)
            return
        colon = _split_colon(title)
        if colon:
            left, right = colon
            lkey, rkey = L.title_key(left), L.title_key(right)
            for find in (self._find_open, self._reopen):
                k = find(lkey)
                if k is not None:
                    self._child_of(k, title, span, hint, (lkey, rkey))
                    return
                k = find(rkey)
                if k is not None:
                    self._child_of(k, title, span, hint, (rkey, lkey))
                    return
            k = self._find_area(lkey)
            if k is not None:
                self._sibling_of(k, title, span, hint, (lkey, rkey))
                return
            if not self.toc_levels:
                self._place_absolute(title, span, 1, hint, (lkey, rkey))
                return
        if not self.toc_levels:
            rank = _keyword_rank(key)
            if rank is not None:
                self._place_absolute(title, span, rank, hint)
                return
        follows_headline = bool(self.stack) and self.stack[-1].headline and not after_heading
        if hint is None and (L.is_headline(title) or follows_headline):
            self._pop_to(lambda o: o.headline)
            top = self.stack[-1].rank if self.stack else 0
            self._push(title, span, top + 1, False, None, True)
        elif hint is not None:
            # Chapters (rank 1) are never closed by an unnumbered heading; anything deeper
            # is closed by a heading of the same or a higher markup level.
            self._pop_to(
                lambda o: (
                    o.headline
                    or ((not o.absolute or o.rank > 1) and o.hint is not None and o.hint >= hint)
                )
            )
            top = self.stack[-1].rank if self.stack else 0
            self._push(title, span, top + 1, False, hint, False)
        else:
            if not after_heading:
                self._pop_to(lambda o: not o.absolute)
            top = self.stack[-1].rank if self.stack else 0
            self._push(title, span, top + 1, False, None, False)

    def current(self) -> int | None:
        return self.stack[-1].section if self.stack else None


def _section_types(sections: list[Section]) -> list[BlockType]:
    types: list[BlockType] = []
    for s in sections:
        key = L.title_key(s.title)
        colon = _split_colon(s.title)
        sides = [key, *(L.title_key(side) for side in colon)] if colon else [key]
        t: BlockType
        if "recommendation" in key:
            t = "recommendation"
        elif any(side.startswith("summary") for side in sides):
            t = "summary"
        elif "detailed" in key and "finding" in key:
            t = "finding"
        elif s.parent is not None:
            t = types[s.parent]
        else:
            t = "text"
        types.append(t)
    return types


def build(items: list[RawItem], fallback_title: str) -> Structure:
    """Classify items, find front matter and TOC, and build the section tree and blocks."""
    classify(items)
    out = Structure()
    out.front_matter = mark_front_matter(items)
    out.toc = [e for it in items if it.role == "toc" and (e := L.toc_entry(it.source))]
    toc_levels = _toc_levels(out.toc) if len(out.toc) >= 3 else {}
    headings = [it for it in items if it.role == "heading"]
    if (
        toc_levels
        and sum(L.title_key(h.text) in toc_levels for h in headings) < len(toc_levels) / 2
    ):
        toc_levels = {}  # the TOC does not describe these headings: don't trust it

    tree = _TreeBuilder(toc_levels)
    # (section, type override, item) for every content item, in order
    placed: list[tuple[int, str, RawItem]] = []
    after_heading = True
    in_case = False
    for it in items:
        if it.role in ("toc", "furniture"):
            continue
        if it.role == "heading":
            tree.add(it.text, (it.start, it.end), it.hint, after_heading)
            after_heading, in_case = True, False
            continue
        if tree.current() is None:  # content before any heading: give it the report's title
            tree.add(
                out.front_matter[0] if out.front_matter else fallback_title,
                (it.start, it.start),
                None,
                True,
            )
        after_heading = False
        in_case = in_case or it.role == "case"
        section = tree.current()
        assert section is not None
        placed.append((section, "case" if in_case else "", it))

    sections = tree.sections
    types = _section_types(sections)
    blocks, footnotes = make_blocks(placed, types)
    out.blocks, out.footnotes = blocks, footnotes
    out.sections = close_sections(sections, blocks, footnotes)
    return out
