"""Typed blocks from the items a section tree has placed: paragraphs, lists, tables,
captions, footnotes and case studies, and each section's extent over them (structure.py
builds the tree and calls these)."""

from __future__ import annotations

import re

from ..types import Block, BlockType, Footnote, Section
from . import lines as L
from .extracted import RawItem
from .textnorm import remove_footnote_marks

_TERMINAL = re.compile(r"[.!?:;’”\"')\]]\s*$")


def make_blocks(
    placed: list[tuple[int, str, RawItem]], types: list[BlockType]
) -> tuple[list[Block], list[Footnote]]:
    """Typed blocks and footnotes from the items placed in sections, in order: a caption
    joins the table or figure it names, and a paragraph continued after footnotes is one
    block with the footnotes as its gaps."""
    blocks: list[Block] = []
    footnotes: list[Footnote] = []
    pending_caption: RawItem | None = None
    last_body: int | None = None  # index in blocks of the last paragraph, for continuations
    gaps: list[tuple[int, int]] = []  # footnotes seen since that paragraph
    for section, flag, it in placed:
        if it.role == "footnote":
            marker = L.footnote_marker(it.source) or ""
            footnotes.append(Footnote(marker, it.start, it.end, section))
            blocks.append(Block("footnote", it.start, it.end, section))
            gaps.append((it.start, it.end))
            continue
        # A paragraph that a footnote interrupted: starts lower-case, previous one unfinished.
        if (
            it.role == "para"
            and gaps
            and last_body is not None
            and it.text[:1].islower()
            and blocks[last_body].section == section
        ):
            prev = blocks[last_body]
            # The footnote stays in ``footnotes``; inside the paragraph it is a gap.
            del blocks[last_body + 1 :]
            blocks[last_body] = Block(prev.type, prev.start, it.end, section, (*prev.gaps, *gaps))
            gaps = []
            continue
        if it.role == "caption":
            pending_caption = it
            continue
        btype: BlockType = types[section]
        if flag == "case":
            btype = "case_study"
        start = it.start
        if it.role == "table":
            btype = "table"
            captioned = pending_caption is not None
            if pending_caption is not None:
                start = pending_caption.start
            pending_caption = None
            last = blocks[-1] if blocks else None
            if (
                not captioned
                and last is not None
                and last.type == "table"
                and last.section == section
            ):
                blocks[-1] = Block("table", last.start, it.end, section)
                continue
        elif pending_caption is not None:  # a caption with no table under it
            blocks.append(Block("caption", pending_caption.start, pending_caption.end, section))
            pending_caption = None
        blocks.append(Block(btype, start, it.end, section))
        gaps = []
        # "children.⁷" ends a sentence: ignore the footnote marker when judging.
        ending = remove_footnote_marks(it.text).rstrip()
        unfinished = it.role == "para" and not _TERMINAL.search(ending)
        last_body = len(blocks) - 1 if unfinished else None
    if pending_caption is not None:
        section = placed[-1][0]
        blocks.append(Block("caption", pending_caption.start, pending_caption.end, section))
    return _fold_case_labels(blocks, placed), footnotes


def _fold_case_labels(blocks: list[Block], placed: list[tuple[int, str, RawItem]]) -> list[Block]:
    """A 'Case study' label joins the block after it, so the label is cited with the case."""
    labels = {it.start for _, _, it in placed if it.role == "case"}
    out: list[Block] = []
    i = 0
    while i < len(blocks):
        b = blocks[i]
        if b.start in labels and i + 1 < len(blocks) and blocks[i + 1].section == b.section:
            n = blocks[i + 1]
            out.append(Block("case_study", b.start, n.end, b.section, n.gaps))
            i += 2
            continue
        out.append(b)
        i += 1
    return out


def close_sections(
    sections: list[Section], blocks: list[Block], footnotes: list[Footnote]
) -> list[Section]:
    """Each section extended to the end of its last block and of its subsections."""
    ends = [s.end for s in sections]
    for b in blocks:
        ends[b.section] = max(ends[b.section], b.end)
    for k in range(len(sections) - 1, -1, -1):
        parent = sections[k].parent
        if parent is not None:
            ends[parent] = max(ends[parent], ends[k])
    return [
        Section(
            s.index, s.title, s.level, s.parent, s.path, s.start, max(ends[k], s.end), s.heading_end
        )
        for k, s in enumerate(sections)
    ]
