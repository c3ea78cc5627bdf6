"""Rewrite a generation in the layout of store formats 1-4 (format 4: plain texts and
records; 1-3: documents.jsonl, chunks.jsonl), so tests can check that older indexes still
load."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import zlib
from pathlib import Path

import numpy as np

from qa_service.index import document_store, passage_store, store
from qa_service.types import Document


def as_jsonl_layout(gen: Path, version: int = 3) -> None:
    """Replace a format-4 generation's documents/ and passages/ with the JSON lines of format
    ``version`` (the same reports and passages), and rewrite its manifest to match."""
    loaded = store.load_generation(gen)
    documents = list(loaded.documents.values())
    chunks = list(loaded.chunks)
    manifest = json.loads((gen / store.MANIFEST).read_text())
    files = {
        k: v
        for k, v in manifest["files"].items()
        if not k.startswith(("documents/", f"{passage_store.FOLDER}/"))
    }
    shutil.rmtree(gen / "documents")
    shutil.rmtree(gen / passage_store.FOLDER)
    for rel, rows in (
        ("documents.jsonl", [store.document_to_json(d) for d in documents]),
        ("chunks.jsonl", [store.chunk_to_json(c) for c in chunks]),
    ):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (gen / rel).write_text(text, encoding="utf-8")
        files[rel] = store.sha256_file(gen / rel)
    _plain_texts(gen, documents, files)
    assert all(document_store.text_file(d.doc_id) in files for d in documents)
    manifest.pop("sizes", None)
    manifest["format_version"] = version
    manifest["files"] = dict(sorted(files.items()))
    if version >= 2:
        manifest[store.MANIFEST_SHA] = store.manifest_digest(manifest)
    else:
        manifest.pop(store.MANIFEST_SHA, None)
    (gen / store.MANIFEST).write_text(json.dumps(manifest, indent=2))


def _plain_texts(gen: Path, documents: list[Document], files: dict[str, str]) -> None:
    """Format 5's zlib texts (texts/<id>.txt.z) written back as plain texts/<id>.txt."""
    for d in documents:
        packed = document_store.text_file(d.doc_id, compressed=True)
        files.pop(packed, None)
        (gen / packed).unlink(missing_ok=True)
        rel = document_store.text_file(d.doc_id)
        (gen / rel).write_bytes(d.text.encode("utf-8"))
        files[rel] = store.sha256_file(gen / rel)


def as_format_4(gen: Path) -> None:
    """Rewrite a format-5 generation as format 4 wrote it: plain passage blobs (no blocks),
    plain report records and texts, and a manifest to match."""
    loaded = store.load_generation(gen)
    documents = list(loaded.documents.values())
    manifest = json.loads((gen / store.MANIFEST).read_text())
    files: dict[str, str] = manifest["files"]
    folder = gen / passage_store.FOLDER
    for name in ("text", "embed"):
        blocks = np.load(folder / f"{name}.blocks.npy")
        blob = (folder / f"{name}.bin").read_bytes()
        plain = b"".join(zlib.decompress(blob[a:b]) for a, b in itertools.pairwise(blocks.tolist()))
        (folder / f"{name}.bin").write_bytes(plain)
        (folder / f"{name}.blocks.npy").unlink()
        del files[f"{passage_store.FOLDER}/{name}.blocks.npy"]
        files[f"{passage_store.FOLDER}/{name}.bin"] = store.sha256_file(folder / f"{name}.bin")
    index = json.loads((gen / document_store.INDEX).read_text())
    records = (gen / document_store.RECORDS).read_bytes()
    lines, offset = [], 0
    for entry in index["documents"]:
        a, n = entry["record"]
        line = zlib.decompress(records[a : a + n])
        entry["record"] = [offset, len(line)]
        entry["sha256"] = hashlib.sha256(line).hexdigest()
        lines.append(line)
        offset += len(line)
    (gen / document_store.RECORDS).write_bytes(b"".join(lines))
    (gen / document_store.INDEX).write_text(json.dumps(index, ensure_ascii=False))
    for rel in (document_store.RECORDS, document_store.INDEX):
        files[rel] = store.sha256_file(gen / rel)
    _plain_texts(gen, documents, files)
    manifest["format_version"] = 4
    manifest["files"] = dict(sorted(files.items()))
    manifest["sizes"] = {rel: (gen / rel).stat().st_size for rel in manifest["files"]}
    manifest[store.MANIFEST_SHA] = store.manifest_digest(manifest)
    (gen / store.MANIFEST).write_text(json.dumps(manifest, indent=2))
