"""The index directory: round trip, atomic publish, refusal of damaged generations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qa_service.cli import cli
from qa_service.index import store
from qa_service.index.current import load_search_index
from qa_service.index.document_store import LazyDocuments
from qa_service.index.indexer import build_index
from qa_service.index.passage_store import LazyChunks
from qa_service.settings import ADAPTED_MODEL, Settings
from tests.conftest import CORPUS, SEEDS
from tests.index.older_formats import as_format_4, as_jsonl_layout


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
    assert m["model"] == ADAPTED_MODEL and m["model_max_tokens"] == 256
    assert m["chunker"]["target_tokens"] == 200 and len(m["corpus_hash"]) == 64
    assert m["format_version"] == store.FORMAT_VERSION == 6
    assert set(m["files"]) >= {
        "documents/index.json",
        "documents/records.jsonl",
        "passages/columns.npy",
        "passages/text.bin",
        "passages/text.blocks.npy",
        "texts/kent-2021-post-inspection-review.txt.z",
    }
    assert set(m["sizes"]) == set(m["files"])
    assert not list(built.rglob("*.pkl")) and not list(built.rglob("*.pickle"))


def test_missing_index_message(tmp_path: Path) -> None:
    with pytest.raises(store.IndexStoreError, match=r"no index at .*qa index"):
        store.load(tmp_path)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
@pytest.mark.parametrize(
    "file", ["passages/columns.npy", "passages/text.bin", "passages/text.blocks.npy"]
)
def test_damaged_generation_is_refused(built: Path, tmp_path: Path, damage: str, file: str) -> None:
    index = _copy(built, tmp_path)
    gen = store.current_generation(index)
    target = gen / ("manifest.json" if damage == "manifest" else file)
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


def test_passages_and_reports_are_read_on_first_use(built: Path) -> None:
    idx = store.load(built)
    assert isinstance(idx.chunks, LazyChunks) and isinstance(idx.documents, LazyDocuments)
    assert idx.chunks._built.count(None) == len(idx.chunks)  # nothing built at load
    assert idx.documents._docs == {}
    assert idx.chunks[-1] == idx.chunks[len(idx.chunks) - 1]
    assert idx.chunks[1:3] == [idx.chunks[1], idx.chunks[2]]
    with pytest.raises(IndexError):
        idx.chunks[len(idx.chunks)]
    for row, chunk in enumerate(idx.chunks):
        assert idx.chunks.row_of[chunk.chunk_id] == row
    assert "0" * 16 not in idx.chunks.row_of and idx.chunks.row_of.get("x" * 99) is None
    assert "no-such-report" not in idx.documents
    kent = "kent-2021-post-inspection-review"
    assert idx.documents.metadata[kent] == idx.documents[kent].metadata


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_an_older_format_still_loads_the_same(built: Path, tmp_path: Path, version: int) -> None:
    index = _copy(built, tmp_path)
    if version == 4:
        as_format_4(store.current_generation(index))
    else:
        as_jsonl_layout(store.current_generation(index), version)
    old, new = store.load(index), store.load(built)
    assert old.manifest["format_version"] == version
    assert dict(old.documents) == dict(new.documents)
    assert list(old.chunks) == list(new.chunks)
    search, stored = (load_search_index(Settings(index_dir=i)) for i in (index, built))
    assert search.columns.sections == stored.columns.sections
    for doc_id in old.documents:  # computed from the text, and as formats 4-5 store them
        assert search.report_years(doc_id) == stored.report_years(doc_id)


def test_a_column_file_out_of_range_is_refused(built: Path, tmp_path: Path) -> None:
    """A column file rewritten with a consistent checksum but impossible values."""
    index = _copy(built, tmp_path)
    gen = store.current_generation(index)
    rel = "passages/columns.npy"
    cols = np.load(gen / rel)
    cols[0, 0] = 10_000  # a report position past the end
    np.save(gen / rel, cols, allow_pickle=False)
    manifest = json.loads((gen / store.MANIFEST).read_text())
    manifest["files"][rel] = store.sha256_file(gen / rel)
    manifest[store.MANIFEST_SHA] = store.manifest_digest(manifest)
    (gen / store.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(store.IndexStoreError, match=r"passages is not valid.*out of range"):
        store.load(index)


@pytest.mark.parametrize("file", ["records", "text"])
def test_a_damaged_report_is_refused_when_first_read(
    built: Path, tmp_path: Path, file: str
) -> None:
    """Records and texts are hashed on first use: the index loads, the damaged report is
    refused (sizes are checked at load, so only same-size damage gets this far)."""
    index = _copy(built, tmp_path)
    gen = store.current_generation(index)
    kent = "kent-2021-post-inspection-review"
    target = gen / ("documents/records.jsonl" if file == "records" else f"texts/{kent}.txt.z")
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    idx = store.load(index)
    with pytest.raises(store.IndexStoreError, match="fails its checksum"):
        if file == "records":
            [idx.documents[d] for d in idx.documents]
        else:
            idx.documents[kent]
    result = CliRunner().invoke(cli, ["documents", "--index", str(index)])
    assert result.exit_code == 2 and "fails its checksum" in result.stderr


def test_a_build_over_a_damaged_report_starts_from_scratch(built: Path, tmp_path: Path) -> None:
    """A report found damaged when the next build reads it for reuse is not reused, nor is
    anything else of that generation: the build starts from scratch, as over any damage."""
    index = _copy(built, tmp_path)
    target = store.current_generation(index) / "documents/records.jsonl"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    report = build_index(Settings(corpus_dir=CORPUS, index_dir=index))
    assert report.reused["from"] is None and report.reused["documents"] == 0
    loaded = store.load(index)
    assert len([loaded.documents[d] for d in loaded.documents]) == 4


def test_a_passage_block_that_does_not_inflate_is_refused(built: Path, tmp_path: Path) -> None:
    """text.bin rewritten with a consistent checksum but a damaged zlib block: the index
    loads, and the passages of that block are refused when first read."""
    index = _copy(built, tmp_path)
    gen = store.current_generation(index)
    rel = "passages/text.bin"
    data = bytearray((gen / rel).read_bytes())
    data[2] ^= 0xFF  # inside the first block's deflate stream
    (gen / rel).write_bytes(bytes(data))
    manifest = json.loads((gen / store.MANIFEST).read_text())
    manifest["files"][rel] = store.sha256_file(gen / rel)
    manifest[store.MANIFEST_SHA] = store.manifest_digest(manifest)
    (gen / store.MANIFEST).write_text(json.dumps(manifest))
    idx = store.load(index)
    with pytest.raises(store.IndexStoreError, match="passage row 0 is corrupt"):
        idx.chunks[0]


def test_format_5_compresses_what_format_4_stored_plain(built: Path, tmp_path: Path) -> None:
    index = _copy(built, tmp_path)
    gen = store.current_generation(index)
    before = {
        p.relative_to(gen).as_posix(): p.stat().st_size for p in gen.rglob("*") if p.is_file()
    }
    as_format_4(gen)
    after = {p.relative_to(gen).as_posix(): p.stat().st_size for p in gen.rglob("*") if p.is_file()}
    for part in ("passages/text.bin", "documents/records.jsonl"):
        assert before[part] * 2 < after[part]
    kent = "texts/kent-2021-post-inspection-review"
    assert before[f"{kent}.txt.z"] * 2 < after[f"{kent}.txt"]
