"""A report removed and put back is taken from an older kept generation, never re-embedded,
and a file restored to an earlier version gets that version's passages, not the current ones."""

from __future__ import annotations

import shutil
from pathlib import Path

from qa_service.index import store
from qa_service.index.indexer import build_index
from qa_service.index.onnx_files import encoders_root
from qa_service.settings import Settings
from tests.conftest import CORPUS, SEEDS


def _setup(tmp_path: Path, built_index: Path) -> tuple[Settings, Path]:
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for name in ("leicestershire", "kent"):
        shutil.copy(CORPUS / SEEDS[name], corpus)
    shutil.copytree(encoders_root(built_index), encoders_root(index))
    settings = Settings(corpus_dir=corpus, index_dir=index)
    build_index(settings, vectors_from=[store.current_generation(built_index)])
    return settings, corpus / SEEDS["kent"]


def _texts(index_dir: Path, source: str) -> list[str]:
    loaded = store.load(index_dir)
    doc_ids = {d.doc_id for d in loaded.documents.values() if d.source == source}
    return [c.text for c in loaded.chunks if c.doc_id in doc_ids]


def test_a_report_put_back_is_reused_from_an_older_generation(
    tmp_path: Path, built_index: Path
) -> None:
    settings, kent = _setup(tmp_path, built_index)
    first = store.current_generation(settings.index_dir).name
    before = _texts(settings.index_dir, kent.name)
    saved = kent.read_bytes()
    kent.unlink()
    build_index(settings)
    assert _texts(settings.index_dir, kent.name) == []
    kent.write_bytes(saved)
    report = build_index(settings)
    assert report.reused["older"] == [first]
    assert report.reused["documents"] == 2
    assert report.reused["passages_embedded"] == 0 and report.reused["sentences_embedded"] == 0
    assert _texts(settings.index_dir, kent.name) == before


def test_a_file_restored_to_an_earlier_version_gets_that_versions_passages(
    tmp_path: Path, built_index: Path
) -> None:
    settings, kent = _setup(tmp_path, built_index)
    original = _texts(settings.index_dir, kent.name)
    saved = kent.read_bytes()
    kent.write_bytes(saved + b"\n\nA closing paragraph that only the edited version has.\n")
    build_index(settings)
    edited = _texts(settings.index_dir, kent.name)
    assert edited != original and any("only the edited version" in t for t in edited)
    kent.write_bytes(saved)
    report = build_index(settings)
    assert report.reused["passages_embedded"] == 0
    restored = _texts(settings.index_dir, kent.name)
    assert restored == original
    assert not any("only the edited version" in t for t in restored)
    # Full rebuilds reuse nothing, older generations included.
    assert build_index(settings, full=True).reused["older"] == []
