"""A chunk's JSON row is exactly what ``dataclasses.asdict`` gives (the on-disk format)."""

from __future__ import annotations

import json
from dataclasses import asdict

from qa_service.index.store import chunk_from_json, chunk_to_json
from qa_service.types import Chunk


def test_chunk_rows_are_asdict(corpus_chunks: list[Chunk]) -> None:
    for chunk in corpus_chunks:
        row = json.dumps(chunk_to_json(chunk), ensure_ascii=False)
        assert row == json.dumps(asdict(chunk), ensure_ascii=False)
        assert chunk_from_json(json.loads(row)) == chunk
