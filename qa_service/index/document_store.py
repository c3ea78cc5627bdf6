"""Reports read one at a time (store formats 4 and 5): their metadata when the index loads, their
structure and text when a report is first used.

Layout::

    documents/index.json     per report: id, source, format, metadata, fingerprint, the years
                             its text names as an inspection's or review's, and where its
                             record lies in records.jsonl with that record's sha256
    documents/records.jsonl  one JSON record per report (section tree, blocks, footnotes):
                             the lines format 3 kept in documents.jsonl; format 5
                             compresses each on its own (zlib), so the file is a run of
                             zlib streams despite its name
    texts/<doc_id>.txt.z     canonical text of each report, zlib (format 4: texts/<doc_id>.txt)

index.json is checked against the manifest when the index loads. A record and a text are
checked against their sha256 (in index.json and the manifest) when the report is first read,
so a damaged one is refused with IndexStoreError then, before anything uses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..ingest.metadata import report_years
from ..types import Document, Metadata
from .records import IndexStoreError, document_from_json, document_to_json, metadata_from_json

if TYPE_CHECKING:
    from .store import GenerationWriter

INDEX = "documents/index.json"
RECORDS = "documents/records.jsonl"
ZLIB_LEVEL = 6  # store format 5: a report's text takes about a third of its bytes
# Files checked when a report is first read rather than when the index loads.
DEFERRED_PREFIXES = ("texts/", RECORDS)


def text_file(doc_id: str, compressed: bool = False) -> str:
    """Where a report's canonical text is stored, relative to its generation (``compressed``:
    store format 5, zlib)."""
    return f"texts/{doc_id}.txt.z" if compressed else f"texts/{doc_id}.txt"


def deferred(rel: str) -> bool:
    """Whether a generation file is checked on first use, not at load (format 4)."""
    return rel.startswith(DEFERRED_PREFIXES)


def write(writer: GenerationWriter, docs: Sequence[Document]) -> None:
    """Write the reports: the index of metadata, the records and the texts (each record and
    text compressed on its own with zlib: a report is read whole when first used)."""
    entries: list[dict[str, Any]] = []
    lines: list[bytes] = []
    offset = 0
    for d in docs:
        full = document_to_json(d)
        line = zlib.compress(
            (json.dumps(full, ensure_ascii=False) + "\n").encode("utf-8"), ZLIB_LEVEL
        )
        lines.append(line)
        entries.append(
            {
                "doc_id": d.doc_id,
                "source": d.source,
                "format": d.format,
                "metadata": full["metadata"],
                "fingerprint": d.fingerprint,
                "report_years": report_years(d.text),
                "record": [offset, len(line)],
                "sha256": hashlib.sha256(line).hexdigest(),
            }
        )
        offset += len(line)
    writer.write_stream(RECORDS, iter(lines))
    for d in docs:
        writer.write_bytes(
            text_file(d.doc_id, compressed=True), zlib.compress(d.text.encode("utf-8"), ZLIB_LEVEL)
        )
    writer.write_bytes(INDEX, json.dumps({"documents": entries}, ensure_ascii=False).encode())


class LazyDocuments(Mapping[str, Document]):
    """The reports of a format-4 generation by id, in build order: ``metadata`` is read at
    load; a ``Document`` is read, checked and kept when first asked for."""

    def __init__(
        self,
        gen: Path,
        entries: list[dict[str, Any]],
        digests: dict[str, str],
        compressed: bool = True,
    ):
        self._gen = gen
        self._compressed = compressed  # format 5: records and texts are zlib streams
        self._entries = {e["doc_id"]: e for e in entries}
        self._digests = digests
        self.metadata: dict[str, Metadata] = {
            e["doc_id"]: metadata_from_json(e["metadata"]) for e in entries
        }
        self._docs: dict[str, Document] = {}
        self._lock = threading.Lock()

    def report_years(self, doc_id: str) -> list[str]:
        """``ingest.metadata.report_years`` of a report's text, as the build stored it."""
        return list(self._entries[doc_id]["report_years"])

    def source_of(self, doc_id: str) -> str:
        """A report's file name, without reading the report."""
        return str(self._entries[doc_id]["source"])

    def __getitem__(self, doc_id: str) -> Document:
        doc = self._docs.get(doc_id)
        if doc is not None:
            return doc
        entry = self._entries[doc_id]  # KeyError: no such report, as a dict would say
        with self._lock:
            doc = self._docs.get(doc_id)
            if doc is None:
                doc = self._docs[doc_id] = self._read(entry)
        return doc

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._entries

    def _text(self, doc_id: str) -> bytes:
        rel = text_file(doc_id, self._compressed)
        try:
            raw = (self._gen / rel).read_bytes()
        except OSError as exc:
            # Also what a server meets if its generation was deleted before it read a report
            # (two publishes while it still served the older one): refused, never guessed.
            raise IndexStoreError(
                f"cannot read {self._gen.name}/{rel} ({exc}); reload or rebuild the index"
            ) from None
        if hashlib.sha256(raw).hexdigest() != self._digests.get(rel):
            raise IndexStoreError(f"{self._gen.name}/{rel} fails its checksum (corrupt); rebuild")
        return zlib.decompress(raw) if self._compressed else raw

    def _read(self, entry: dict[str, Any]) -> Document:
        name = self._gen.name
        offset, length = entry["record"]
        try:
            fd = os.open(self._gen / RECORDS, os.O_RDONLY)
            try:
                line = os.pread(fd, length, offset)
            finally:
                os.close(fd)
            if hashlib.sha256(line).hexdigest() != entry["sha256"]:
                raise IndexStoreError(
                    f"{name}/{RECORDS}: the record of {entry['doc_id']!r} fails its checksum"
                    " (corrupt); rebuild the index"
                )
            raw = self._text(entry["doc_id"])
            d = json.loads(zlib.decompress(line) if self._compressed else line)
            if d.get("doc_id") != entry["doc_id"]:
                raise ValueError(f"the record at {offset} is not {entry['doc_id']!r}")
            return document_from_json(d, raw.decode("utf-8"))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, zlib.error) as exc:
            raise IndexStoreError(f"{name} is not a valid index ({exc}); rebuild") from None


def load(gen: Path, digests: dict[str, str], compressed: bool = True) -> LazyDocuments:
    """Read a format-4 or 5 generation's report index (already checked against the manifest;
    ``digests``: the manifest's file checksums, for the texts read later; ``compressed``:
    format 5's zlib records and texts)."""
    try:
        data = json.loads((gen / INDEX).read_bytes().decode("utf-8"))
        entries = data["documents"]
        if not isinstance(entries, list):
            raise TypeError("documents is not a list")
        for e in entries:
            offset, length = e["record"]
            if not all(isinstance(v, int) for v in (offset, length)) or not isinstance(
                e["sha256"], str
            ):
                raise TypeError(f"bad record position for {e.get('doc_id')!r}")
            years = e["report_years"]
            if not isinstance(years, list) or not all(isinstance(y, str) for y in years):
                raise TypeError(f"bad report_years for {e.get('doc_id')!r}")
            rel = text_file(e["doc_id"], compressed)
            if rel not in digests:
                raise KeyError(f"{rel} is not in the manifest")
        return LazyDocuments(gen, entries, digests, compressed)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexStoreError(f"{gen.name}/{INDEX} is not valid ({exc}); rebuild") from None
