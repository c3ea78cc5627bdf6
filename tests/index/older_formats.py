"""Rewrite a generation in the layout of store formats 1-3 (documents.jsonl, chunks.jsonl),
so tests can check that older indexes still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from qa_service.index import document_store, passage_store, store


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
    assert all(document_store.text_file(d.doc_id) in files for d in documents)
    manifest.pop("sizes", None)
    manifest["format_version"] = version
    manifest["files"] = dict(sorted(files.items()))
    if version >= 2:
        manifest[store.MANIFEST_SHA] = store.manifest_digest(manifest)
    else:
        manifest.pop(store.MANIFEST_SHA, None)
    (gen / store.MANIFEST).write_text(json.dumps(manifest, indent=2))
