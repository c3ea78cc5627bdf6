"""How a report and a passage are written as JSON records, and the store's error type.

Shared by the generation store (store.py) and its columnar parts (passage_store.py,
document_store.py), which import this module rather than each other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from ..types import Block, Chunk, Document, Footnote, FootnoteRef, Metadata, Section


class IndexStoreError(Exception):
    """The index is missing, incomplete, corrupt or does not match the settings."""


def document_to_json(doc: Document) -> dict[str, Any]:
    """A document as JSON (its text is stored separately)."""
    d = asdict(doc)
    d.pop("text")
    d["text_sha256"] = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
    return d


def metadata_from_json(d: dict[str, Any]) -> Metadata:
    """A report's metadata from its JSON object."""
    return Metadata(**d)


def document_from_json(d: dict[str, Any], text: str) -> Document:
    """Inverse of ``document_to_json``."""
    return Document(
        doc_id=d["doc_id"],
        source=d["source"],
        format=d["format"],
        text=text,
        metadata=metadata_from_json(d["metadata"]),
        sections=tuple(Section(**{**s, "path": tuple(s["path"])}) for s in d["sections"]),
        blocks=tuple(
            Block(**{**b, "gaps": tuple(tuple(g) for g in b["gaps"])}) for b in d["blocks"]
        ),
        footnotes=tuple(Footnote(**f) for f in d["footnotes"]),
        references=tuple(FootnoteRef(**r) for r in d.get("references", ())),
        warnings=tuple(d.get("warnings", ())),
        fingerprint=str(d.get("fingerprint", "")),
    )


_CHUNK_FIELDS = tuple(f.name for f in fields(Chunk))


def chunk_to_json(chunk: Chunk) -> dict[str, Any]:
    """A chunk as JSON (the same dict as ``asdict``, without its deep copies: a chunk's
    fields are strings, numbers, a tuple of strings and a flat dict)."""
    return {name: getattr(chunk, name) for name in _CHUNK_FIELDS}


def chunk_from_json(d: dict[str, Any]) -> Chunk:
    """Inverse of ``chunk_to_json``."""
    return Chunk(**{**d, "section": tuple(d["section"])})


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except (json.JSONDecodeError, RecursionError) as exc:
                        raise IndexStoreError(f"{path}:{n} is corrupt ({exc})") from None
                    if not isinstance(row, dict):
                        raise IndexStoreError(f"{path}:{n} is corrupt (not an object)")
                    rows.append(row)
    except UnicodeDecodeError as exc:
        raise IndexStoreError(f"{path} is corrupt ({exc}); rebuild the index") from None
    return rows


def read_jsonl_generation(gen: Path) -> tuple[dict[str, Document], list[Chunk]]:
    """The reports and passages of a generation of formats 1-3 (documents.jsonl, texts/ and
    chunks.jsonl), parsed whole; its files already checked against the manifest."""
    docs: dict[str, Document] = {}
    try:
        for d in _read_jsonl(gen / "documents.jsonl"):
            text = (gen / "texts" / f"{d['doc_id']}.txt").read_text(encoding="utf-8")
            docs[d["doc_id"]] = document_from_json(d, text)
        chunks = [chunk_from_json(c) for c in _read_jsonl(gen / "chunks.jsonl")]
    except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
        # ValueError covers UnicodeDecodeError of a text file
        raise IndexStoreError(f"{gen.name} is not a valid index ({exc}); rebuild") from None
    return docs, chunks
