"""The index directory: round trip, atomic publish, refusal of damaged generations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_service.cli import cli
from qa_service.index import store
from qa_service.index.indexer import build_index
from qa_service.settings import Settings
from tests.conftest import CORPUS, SEEDS


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("index")
    build_index(Settings(corpus_dir=CORPUS, index_dir=index))
    return index


def _copy(built: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "index"
    shutil.copytree(built, dest)
    return dest


def test_round_trip(built: Path, corpus_docs, corpus_chunks) -> None:
    idx = store.load(built)
    assert set(idx.documents) == {d.doc_id for d in corpus_docs.values()}
    for doc in corpus_docs.values():
        assert idx.documents[doc.doc_id] == doc
    key = lambda c: (c.doc_id, c.ordinal)  # noqa: E731
    assert sorted(idx.chunks, key=key) == sorted(corpus_chunks, key=key)
    m = idx.manifest
    assert m["counts"] == {"documents": 4, "chunks": len(corpus_chunks)}
    assert m["model"] == "bundled:all-MiniLM-L6-v2" and m["model_max_tokens"] == 256
    assert m["chunker"]["target_tokens"] == 200 and len(m["corpus_hash"]) == 64
    assert set(m["files"]) >= {"documents.jsonl", "chunks.jsonl"}
    assert not list(built.rglob("*.pkl")) and not list(built.rglob("*.pickle"))


def test_missing_index_message(tmp_path: Path) -> None:
    with pytest.raises(store.IndexStoreError, match=r"no index at .*qa index"):
        store.load(tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_damaged_generation_is_refused(built: Path, tmp_path: Path, damage: str) -> None:
    index = _copy(built, tmp_path)
    gen = store.current_generation(index)
    target = gen / ("manifest.json" if damage == "manifest" else "chunks.jsonl")
    data = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        target.write_bytes(data[:100] + bytes([data[100] ^ 0x01]) + data[101:])
    elif damage == "delete":
        target.unlink()
    else:
        target.write_text("{not json")
    with pytest.raises(store.IndexStoreError):
        store.load(index)
    result = CliRunner().invoke(cli, ["documents", "--index", str(index)])
    assert result.exit_code == 2 and result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output


def test_counts_must_match_manifest(built: Path, tmp_path: Path) -> None:
    index = _copy(built, tmp_path)
    gen = store.current_generation(index)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["counts"]["chunks"] += 1
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(store.IndexStoreError, match="counts do not match"):
        store.load(index)


def test_rebuild_publishes_new_generation_and_cleans_old(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / SEEDS["kent"], corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", keep_generations=2)
    gens = [build_index(settings).generation for _ in range(3)]
    assert store.current_generation(settings.index_dir) == gens[-1]
    left = sorted(p.name for p in settings.index_dir.glob("gen-*"))
    assert left == sorted(g.name for g in gens[-2:])
    # an abandoned temporary build (e.g. after kill -9) is never loaded and gets cleaned
    (settings.index_dir / ".building-gen-x").mkdir()
    assert store.load(settings.index_dir).path == gens[-1]
    build_index(settings)
    assert not list(settings.index_dir.glob(".building-*"))


def test_documents_command(built: Path) -> None:
    result = CliRunner().invoke(cli, ["documents", "--index", str(built), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    kent = next(r for r in rows if r["doc_id"] == "kent-2021-post-inspection-review")
    assert kent["force"] == "Kent Police" and kent["sections"] > 20 and kent["passages"] > 20
    text = CliRunner().invoke(cli, ["documents", "--index", str(built)]).stdout
    assert "Lancashire Constabulary" in text and "sections" in text
