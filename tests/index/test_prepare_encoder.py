"""Model preparation (``qa prepare``, run by the set-up): the ONNX export made once, before
and apart from indexing, and found by ``qa index``; a build without it still makes one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_service.cli import cli
from qa_service.index import onnx_export, store
from qa_service.index.indexer import build_index
from qa_service.index.onnx_export import prepare_encoder
from qa_service.index.onnx_files import encoder_dir, encoder_key, encoders_root, local_model_dir
from qa_service.settings import ADAPTED_MODEL, Settings
from tests.conftest import CORPUS, SEEDS


def _export_of(built_index: Path) -> Path:
    key = encoder_key(ADAPTED_MODEL, local_model_dir(ADAPTED_MODEL))
    return encoder_dir(encoders_root(built_index), key)


@pytest.fixture
def exports(built_index: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Exports made from now on, each a copy of the session index's (exporting is tested
    against torch elsewhere; here what matters is who exports, and when)."""
    made: list[Path] = []
    source = _export_of(built_index)

    def copy(model: str, location: Path, folder: Path, key: str, models_dir: object) -> None:
        for f in source.iterdir():
            shutil.copy(f, folder / f.name)
        made.append(folder)

    monkeypatch.setattr(onnx_export, "_export", copy)
    return made


def _one_report(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / SEEDS["leicestershire"], corpus)
    return corpus


def test_prepare_exports_once_and_the_build_uses_it(tmp_path: Path, exports: list[Path]) -> None:
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=_one_report(tmp_path))
    first = prepare_encoder(settings)
    assert first.made and first.folder is not None and (first.folder / "model.onnx").is_file()
    assert len(exports) == 1
    again = prepare_encoder(settings)  # idempotent: checked, not made again
    assert again.folder == first.folder and not again.made and len(exports) == 1
    build_index(settings)
    assert len(exports) == 1  # `qa index` found the prepared export
    manifest = store.load(settings.index_dir).manifest
    assert manifest["embedding"]["backend"] == "onnx"
    assert manifest["embedding"]["encoder"]["export"].startswith(first.folder.name)


def test_a_build_without_a_prepared_export_still_makes_one(
    tmp_path: Path, exports: list[Path]
) -> None:
    settings = Settings(index_dir=tmp_path / "index", corpus_dir=_one_report(tmp_path))
    build_index(settings)
    assert len(exports) == 1 and exports[0].parent == encoders_root(settings.index_dir)
    assert store.load(settings.index_dir).manifest["embedding"]["backend"] == "onnx"
    assert not prepare_encoder(settings).made


def test_prepare_replaces_a_damaged_export_and_prunes_stale_ones(
    tmp_path: Path, exports: list[Path]
) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    folder = prepare_encoder(settings).folder
    assert folder is not None
    (folder / "model.onnx").write_bytes(b"damaged")
    stale = folder.parent / ("0" * 32)
    stale.mkdir()
    again = prepare_encoder(settings)
    assert again.made and again.folder == folder and len(exports) == 2
    assert not stale.exists()


def test_prepare_with_the_torch_backend_exports_nothing(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index", encoder_backend="torch")
    done = prepare_encoder(settings)
    assert done.folder is None and "PyTorch" in done.reason
    assert not (tmp_path / "index").exists()


def test_qa_prepare_command(tmp_path: Path, exports: list[Path]) -> None:
    runner = CliRunner()
    index = str(tmp_path / "index")
    res = runner.invoke(cli, ["prepare", "--index", index])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("Exported the encoder to ")
    res = runner.invoke(cli, ["prepare", "--index", index])
    assert res.exit_code == 0 and "ready" in res.stdout
    res = runner.invoke(cli, ["prepare", "--index", index, "--quiet"])
    assert res.exit_code == 0 and res.stdout == "" and len(exports) == 1
    res = runner.invoke(cli, ["prepare", "--index", index], env={"QA_ENCODER_BACKEND": "torch"})
    assert res.exit_code == 0 and "PyTorch will encode" in res.stderr
