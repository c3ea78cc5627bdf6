"""Plain data types shared by every stage: documents, sections, blocks and chunks.

Offsets (``start``/``end``) always index the document's canonical text (see
``shared/CONTRACT.md``): the file itself for .txt/.md, the extracted text for .html/.pdf.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

BlockType = Literal[
    "text",  # ordinary body text (paragraph or list item)
    "recommendation",  # a recommendation the report makes or reviews
    "summary",  # summary of findings
    "finding",  # detailed findings
    "case_study",
    "table",  # a figure/table together with its caption
    "caption",  # a figure's caption with nothing readable under it (the figure is an image)
    "footnote",
]

BLOCK_TYPES: tuple[BlockType, ...] = (
    "text",
    "recommendation",
    "summary",
    "finding",
    "case_study",
    "table",
    "caption",
    "footnote",
)
# Blocks that are searchable but never returned on their own: they ride along with the
# passage that cites them (a footnote) or that they illustrate (a bare caption).
ATTACHED_TYPES: frozenset[BlockType] = frozenset({"footnote", "caption"})


def content_hash(*parts: str, length: int = 16) -> str:
    """Stable short hex id derived from the given strings."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:length]


@dataclass(frozen=True)
class Section:
    """One node of a report's section tree."""

    index: int  # position in Document.sections (document order)
    title: str
    level: int  # 1 = top level
    parent: int | None
    path: tuple[str, ...]  # outermost .. this section's title
    start: int  # start of the heading in the canonical text
    end: int  # end of the section's content (exclusive), children included
    heading_end: int  # end of the heading line (== start for a section with no heading line)


@dataclass(frozen=True)
class Block:
    """A contiguous piece of content inside exactly one section."""

    type: BlockType
    start: int
    end: int
    section: int  # index into Document.sections
    # Spans inside [start, end) that interrupt the block without belonging to it,
    # e.g. a footnote printed in the middle of a paragraph of PDF-extracted text.
    gaps: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Footnote:
    """A footnote or reference-list entry, attached to the section it appears in."""

    marker: str
    start: int
    end: int
    section: int


@dataclass(frozen=True)
class FootnoteRef:
    """Where the text cites a footnote: the marker's span (``<sup>21</sup>``, ``[^21]``,
    ``²¹``, ``[21]``), kept out of the words around it, and the footnote it points to."""

    marker: str  # the footnote's number as printed, e.g. "21"
    start: int
    end: int
    footnote: int | None  # index into Document.footnotes (None: no such footnote found)


@dataclass(frozen=True)
class Metadata:
    """What a report says about itself (or what its sidecar file adds)."""

    title: str
    force: str | None = None
    report_type: str | None = None  # "inspection" | "post-inspection review" | ...
    published: str | None = None  # ISO 8601 prefix, e.g. "2021-09"
    # Where ``published`` comes from: "title page", "text" (a sentence stating it), or
    # "review year" (the text dates its own review but prints no publication date).
    published_from: str | None = None
    inspection_dates: str | None = None  # as printed, e.g. "9–19 October 2017"
    inspection_year: int | None = None


@dataclass(frozen=True)
class Document:
    """A parsed report: canonical text, metadata, section tree and typed blocks."""

    doc_id: str
    source: str  # file name within the corpus folder
    format: Literal["txt", "md", "html", "pdf"]
    text: str  # canonical text
    metadata: Metadata
    sections: tuple[Section, ...]
    blocks: tuple[Block, ...]
    footnotes: tuple[Footnote, ...] = ()
    references: tuple[FootnoteRef, ...] = ()  # footnote markers in the text, in text order
    warnings: tuple[str, ...] = ()
    # sha256 of the report file's bytes and its metadata sidecar's ("" if not read from a
    # file): an unchanged file keeps its parsed form across builds (see ``reuse``).
    fingerprint: str = ""


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: section-bounded, token-sized, with exact offsets."""

    chunk_id: str
    doc_id: str
    source: str
    section: tuple[str, ...]
    section_index: int
    type: BlockType
    start: int
    end: int
    text: str  # canonical_text[start:end] with markup removed
    embed_text: str  # what the encoder sees: heading context + text without gaps
    n_tokens: int  # tiktoken count of ``text``
    n_model_tokens: int  # embedding model's word pieces in ``embed_text``
    ordinal: int  # position of the chunk within its document
    metadata: dict[str, str | int | None] = field(default_factory=dict)
