"""The encoder side of an incremental build: the remembered export key, unused exports pruned,
the background open of the export."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from qa_service.index import onnx_files, store
from qa_service.index.indexer import build_index
from qa_service.index.onnx_export import IndexEncoder, prune_exports
from qa_service.index.onnx_files import KEY_CACHE, encoder_key, encoders_root
from qa_service.settings import Settings
from tests.conftest import CORPUS, SEEDS


def _small_model(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "weights.bin").write_bytes(b"w" * 1000)
    return folder


def test_a_remembered_key_is_used_while_the_files_are_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, cache = _small_model(tmp_path), tmp_path / "encoders"
    cache.mkdir()
    key = encoder_key("m", model, cache, remember=True)
    assert (cache / KEY_CACHE).is_file()
    monkeypatch.setattr(onnx_files, "_KEYS", {})  # as in a new process
    hashed: list[Path] = []
    real = onnx_files.sha256_file
    monkeypatch.setattr(onnx_files, "sha256_file", lambda p: hashed.append(p) or real(p))
    assert encoder_key("m", model, cache) == key and not hashed  # read, not hashed again
    # A file rewritten (new mtime, here also new content): hashed again, another key.
    weights = model / "weights.bin"
    weights.write_bytes(b"x" * 1000)
    os.utime(weights, ns=(1, 1))
    monkeypatch.setattr(onnx_files, "_KEYS", {})
    changed = encoder_key("m", model, cache)
    assert hashed and changed != key
    # A damaged cache file is ignored, never trusted.
    (cache / KEY_CACHE).write_text("not json")
    monkeypatch.setattr(onnx_files, "_KEYS", {})
    assert encoder_key("m", model, cache) == changed


def test_a_server_does_not_write_the_key_cache(tmp_path: Path) -> None:
    model, cache = _small_model(tmp_path), tmp_path / "encoders"
    cache.mkdir()
    encoder_key("m", model, cache)  # remember defaults to False (OnnxEmbedder for queries)
    assert not (cache / KEY_CACHE).exists()


def test_prune_keeps_the_current_export_only(tmp_path: Path) -> None:
    root = tmp_path / "encoders"
    current, old = root / ("a" * 32), root / ("b" * 32)
    for folder in (current, old, root / "not-an-export"):
        folder.mkdir(parents=True)
        (folder / "model.onnx").write_bytes(b"x")
    (root / KEY_CACHE).write_text("{}")
    assert prune_exports(current) == [old.name]
    assert sorted(p.name for p in root.iterdir()) == sorted(
        [current.name, "not-an-export", KEY_CACHE]
    )


def test_a_build_prunes_stale_exports_and_opens_the_export_in_the_background(
    tmp_path: Path, built_index: Path
) -> None:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    shutil.copy(CORPUS / SEEDS["leicestershire"], corpus)
    shutil.copytree(encoders_root(built_index), encoders_root(index))
    stale = encoders_root(index) / ("0" * 32)
    stale.mkdir()
    (stale / "model.onnx").write_bytes(b"an export of another model")
    settings = Settings(corpus_dir=corpus, index_dir=index)
    report = build_index(settings, vectors_from=[store.current_generation(built_index)])
    assert not stale.exists()
    kept = [p for p in encoders_root(index).iterdir() if p.is_dir()]
    assert len(kept) == 1 and (kept[0] / "model.onnx").is_file()
    assert report.reused["passages_embedded"] == 0  # nothing to embed: encoder never waited
    # A second report: the encoder opened while it was parsed, and embedded it.
    shutil.copy(CORPUS / SEEDS["kent"], corpus)
    report = build_index(settings)
    assert report.reused["passages_embedded"] > 0
    assert store.load(index).manifest["embedding"]["backend"] == "onnx"


def test_a_background_open_that_fails_falls_back_to_the_usual_path(tmp_path: Path) -> None:
    encoder = IndexEncoder(Settings(index_dir=tmp_path / "index", encoder_backend="onnx"))
    encoder.open_in_background()  # no export there: the thread gives up quietly
    assert encoder._opening is not None
    encoder._opening.join()
    assert encoder._opened is None and not encoder.loaded
