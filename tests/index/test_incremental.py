"""Incremental indexing: unchanged reports and embedded texts are reused, nothing stale is kept.

Real corpus, real model: the vectors of a report embedded in an incremental build are compared
with those of the from-scratch session index.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qa_service.index import reuse, store
from qa_service.index.current import load_search_index
from qa_service.index.indexer import build_index
from qa_service.index.search_index import SearchIndex
from qa_service.settings import Settings
from tests.conftest import CORPUS, SEEDS


def _vectors_by_id(index: SearchIndex) -> dict[str, np.ndarray]:
    return {c.chunk_id: index.dense.vectors[i] for i, c in enumerate(index.chunks)}


@pytest.fixture(scope="module")
def full(built_index: Path) -> SearchIndex:
    return load_search_index(Settings(index_dir=built_index))


def test_add_edit_remove_reports(tmp_path: Path, built_index: Path, full: SearchIndex) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name in ("kent", "leicestershire"):
        shutil.copy(CORPUS / SEEDS[name], corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index)
    full_vectors = _vectors_by_id(full)
    full_gen = store.current_generation(built_index)

    # 1. Vectors come from another generation by content hash: nothing is embedded.
    first = build_index(settings, vectors_from=[full_gen])
    assert first.reused["passages_embedded"] == 0
    assert first.reused["sentences_embedded"] == 0
    assert first.reused["passages_reused"] == len(first.chunks) > 0
    idx = load_search_index(settings)
    for cid, vec in _vectors_by_id(idx).items():
        assert np.array_equal(vec, full_vectors[cid])

    # 2. Adding a report parses and embeds only that report.
    shutil.copy(CORPUS / SEEDS["lincolnshire"], corpus)
    added = build_index(settings)
    assert added.reused["documents"] == 2
    lincs = [c for c in added.chunks if c.source == SEEDS["lincolnshire"]]
    assert added.reused["passages_embedded"] == len({c.embed_text for c in lincs})
    assert added.reused["passages_reused"] == len(added.chunks) - len(lincs)
    idx = load_search_index(settings)
    assert [c for c in idx.chunks if c.source == SEEDS["lincolnshire"]] == [
        c for c in full.chunks if c.source == SEEDS["lincolnshire"]
    ]  # same passages, ids and offsets as a from-scratch build
    vectors = _vectors_by_id(idx)
    for c in lincs:  # freshly embedded, equal to the from-scratch vectors
        np.testing.assert_allclose(vectors[c.chunk_id], full_vectors[c.chunk_id], atol=2e-5)

    # 3. Editing one paragraph re-embeds only the passages that changed; no stale text stays.
    kent = corpus / SEEDS["kent"]
    text = kent.read_text(encoding="utf-8")
    old_chunk = next(c for c in idx.chunks if c.source == SEEDS["kent"] and len(c.text) > 400)
    old_sentence = old_chunk.text[:120]
    assert text.count(old_sentence) == 1
    kent.write_text(
        text.replace(old_sentence, "The force has replaced this finding entirely."),
        encoding="utf-8",
    )
    edited = build_index(settings)
    assert edited.reused["documents"] == 2  # Kent is parsed again, the others are not
    assert 1 <= edited.reused["passages_embedded"] <= 3
    idx = load_search_index(settings)
    assert old_chunk.chunk_id not in idx.row_of
    assert not any(old_sentence in c.text for c in idx.chunks)
    assert any("replaced this finding entirely" in c.text for c in idx.chunks)
    assert not any(old_sentence in d.text for d in idx.documents.values())

    # 4. Removing a report leaves none of its passages, documents or BM25 entries.
    (corpus / SEEDS["leicestershire"]).unlink()
    removed = build_index(settings)
    assert removed.reused["passages_embedded"] == 0
    idx = load_search_index(settings)  # checks vectors = BM25 documents = passages
    assert {c.source for c in idx.chunks} == {SEEDS["kent"], SEEDS["lincolnshire"]}
    assert {d.source for d in idx.documents.values()} == {SEEDS["kent"], SEEDS["lincolnshire"]}
    assert idx.lexical.size == len(idx.chunks)


def test_full_rebuild_reuses_nothing(tmp_path: Path, built_index: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / SEEDS["leicestershire"], corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, vectors_from=[store.current_generation(built_index)])
    again = build_index(settings, full=True)
    assert again.reused["from"] is None
    assert again.reused["documents"] == 0
    assert again.reused["passages_reused"] == 0
    assert again.reused["passages_embedded"] == len({c.embed_text for c in again.chunks})


def test_previous_generation_is_reused_only_when_sound(tmp_path: Path, built_index: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    settings = Settings(index_dir=index)
    previous = reuse.load_previous(settings)
    assert previous is not None and previous.passages is not None
    assert len(previous.passages) == sum(len(c) for c in previous.chunks.values())

    # Another model: parsed reports may be reused, vectors never.
    other = reuse.load_previous(Settings(index_dir=index, model="some/other-model"))
    assert other is not None and other.passages is None and other.sentences is None

    # A damaged generation is not reused at all (the build embeds from scratch).
    vectors = store.current_generation(index) / "dense" / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-5] ^= 0xFF
    vectors.write_bytes(bytes(data))
    assert reuse.load_previous(settings) is None


def test_pipeline_change_invalidates_parsed_reports(tmp_path: Path, built_index: Path) -> None:
    settings = Settings(index_dir=built_index)
    previous = reuse.load_previous(settings)
    assert previous is not None
    doc = next(iter(previous.documents.values()))
    assert doc.fingerprint
    assert previous.pipeline is not None
    assert previous.document(doc.source, doc.fingerprint, previous.pipeline) is doc
    assert previous.document(doc.source, doc.fingerprint, "another pipeline") is None
    assert previous.document(doc.source, "0" * 64, previous.pipeline) is None
    chunker = store.load(built_index).manifest["chunker"]
    assert reuse.pipeline_fingerprint(settings, chunker) == previous.pipeline
    bigger = {**chunker, "target_tokens": chunker["target_tokens"] + 10}
    assert reuse.pipeline_fingerprint(settings, bigger) != previous.pipeline


_ADD_ONE = """
import json, sys
from pathlib import Path
from qa_service.index.indexer import build_index
from qa_service.settings import Settings
report = build_index(Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2])))
print(json.dumps({"torch": "torch" in sys.modules, "reused": report.reused,
                  "timings": report.timings}))
"""


def test_adding_a_report_embeds_with_onnx_without_torch(tmp_path: Path, built_index: Path) -> None:
    import json
    import subprocess
    import sys

    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    shutil.copy(CORPUS / SEEDS["kent"], corpus)
    settings = Settings(corpus_dir=corpus, index_dir=index)
    shutil.copytree(built_index / "encoders", index / "encoders")  # saves exporting again
    build_index(settings, vectors_from=[store.current_generation(built_index)])
    shutil.copy(CORPUS / SEEDS["leicestershire"], corpus)
    run = subprocess.run(
        [sys.executable, "-c", _ADD_ONE, str(corpus), str(index)],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["torch"] is False  # ONNX Runtime embedded the new report
    assert out["reused"]["passages_embedded"] > 0 and out["reused"]["documents"] == 1
    assert {"load_previous", "embed_passages", "embed_sentences", "write"} <= set(out["timings"])
    manifest = store.load(index).manifest
    assert manifest["embedding"]["backend"] == "onnx"
    # The stored vectors came from this very export (recorded by the builds that made them),
    # so they were not re-embedded to check it.
    assert manifest["embedding"]["same_encoder_as_stored"] is True
    assert manifest["embedding"]["agreement_min_cosine"] is None
    assert manifest["embedding"]["encoder"]["export"]
    assert set(manifest["build_seconds"]) <= set(out["timings"])


def _two_reports(
    tmp_path: Path, built_index: Path, approx_threshold: int | None = None
) -> Settings:
    """Leicestershire built, Kent added to the corpus folder (not yet indexed)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / SEEDS["leicestershire"], corpus)
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    if approx_threshold is not None:
        settings = settings.model_copy(update={"approx_threshold": approx_threshold})
    shutil.copytree(built_index / "encoders", settings.index_dir / "encoders")
    build_index(settings, vectors_from=[store.current_generation(built_index)])
    shutil.copy(CORPUS / SEEDS["kent"], corpus)
    return settings


def _stored_by_unknown_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the stored vectors came from PyTorch, another export or an older build that did
    not record its encoder: the build must then check the encoder against them."""
    monkeypatch.setattr(reuse, "common_encoder", lambda sources: None)


def _noisy(encode):  # type: ignore[no-untyped-def]
    """An encoder whose vectors are a little off (cosine about 0.999 to the true ones)."""

    def wrong(self, texts, batch_size=32, progress=False):  # type: ignore[no-untyped-def]
        v = encode(self, texts, batch_size=batch_size, progress=progress)
        v = v + np.random.default_rng(0).normal(scale=0.002, size=v.shape).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    return wrong


def test_an_encoder_that_disagrees_with_stored_vectors_is_not_mixed_in(
    tmp_path: Path, built_index: Path, full: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa_service.index.onnx_encoder import OnnxEmbedder

    settings = _two_reports(tmp_path, built_index)
    _stored_by_unknown_encoder(monkeypatch)
    monkeypatch.setattr(OnnxEmbedder, "encode", _noisy(OnnxEmbedder.encode))
    report = build_index(settings)
    manifest = store.load(settings.index_dir).manifest
    assert manifest["embedding"]["backend"] == "torch"  # PyTorch took over
    assert manifest["embedding"]["same_encoder_as_stored"] is False
    assert manifest["embedding"]["encoder"] is None  # PyTorch made the new vectors
    assert manifest["embedding"]["agreement_min_cosine"] >= 0.99999
    assert report.reused["passages_reused"] > 0  # Leicestershire's vectors were kept
    vectors = _vectors_by_id(load_search_index(settings))
    full_vectors = _vectors_by_id(full)
    for c in report.chunks:
        np.testing.assert_allclose(vectors[c.chunk_id], full_vectors[c.chunk_id], atol=2e-5)


def test_stored_vectors_no_encoder_reproduces_are_embedded_again(
    tmp_path: Path, built_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa_service.index.embedding import SentenceTransformerEmbedder
    from qa_service.index.onnx_encoder import OnnxEmbedder

    settings = _two_reports(tmp_path, built_index)
    _stored_by_unknown_encoder(monkeypatch)
    monkeypatch.setattr(OnnxEmbedder, "encode", _noisy(OnnxEmbedder.encode))
    monkeypatch.setattr(
        SentenceTransformerEmbedder, "encode", _noisy(SentenceTransformerEmbedder.encode)
    )
    report = build_index(settings)
    assert report.reused["documents"] == 1  # the parse is reused, the vectors are not
    assert report.reused["passages_reused"] == 0
    assert report.reused["passages_embedded"] == len({c.embed_text for c in report.chunks})
    assert store.load(settings.index_dir).manifest["embedding"]["agreement_min_cosine"] < 0.9999


def test_known_sentence_spans_equal_a_fresh_split(built_index: Path) -> None:
    previous = reuse.load_previous(Settings(index_dir=built_index))
    assert previous is not None and previous.pipeline is not None
    chunks = [c for cs in previous.chunks.values() for c in cs]
    chunks = chunks + chunks[:5]  # repeated passages keep one copy of their spans
    fresh = reuse.sentence_texts(chunks)
    known = reuse.known_spans([previous], previous.pipeline)
    assert known and set(known) <= {c.text for c in chunks}
    assert reuse.sentence_texts(chunks, known) == fresh
    assert reuse.known_spans([previous], "another pipeline") == {}


def test_an_approximate_index_reuses_its_8bit_codes(
    tmp_path: Path, built_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An HNSW passage index stores its vectors only as 8-bit codes: a build checks the encoder
    against them as those codes store them, and keeps their ranges, so a reused vector keeps
    its very codes from one generation to the next."""
    settings = _two_reports(tmp_path, built_index, approx_threshold=10)
    assert store.load(settings.index_dir).manifest["dense"]["kind"] == "hnsw-sq8"
    _stored_by_unknown_encoder(monkeypatch)
    added = build_index(settings)
    manifest = store.load(settings.index_dir).manifest
    assert manifest["dense"]["kind"] == "hnsw-sq8"
    assert manifest["embedding"]["agreement_min_cosine"] >= 0.99999
    assert added.reused["passages_reused"] > 0 and added.reused["passages_embedded"] > 0
    before = load_search_index(settings)
    codes = {c.chunk_id: before.dense.vectors[i].copy() for i, c in enumerate(before.chunks)}
    ranges = before.dense.ranges
    for path in settings.corpus_dir.iterdir():
        if path.name == SEEDS["kent"]:
            path.unlink()
    kept = build_index(settings)
    assert kept.reused["passages_embedded"] == 0
    after = load_search_index(settings)
    assert after.dense.kind == "hnsw-sq8" and np.array_equal(after.dense.ranges, ranges)
    for i, c in enumerate(after.chunks):
        assert np.array_equal(after.dense.vectors[i], codes[c.chunk_id])
