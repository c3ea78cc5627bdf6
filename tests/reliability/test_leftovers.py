"""Temporary folders of interrupted builds and exports are removed by the next run, never
while a running build or export still uses them; a build that would not fit is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_service.cli import cli
from qa_service.index import onnx_export, store
from qa_service.index.indexer import sweep_leftovers
from qa_service.index.onnx_files import OnnxUnavailable, encoders_root
from qa_service.settings import BUNDLED_MODEL
from tests.conftest import CORPUS

HOLD_BUILD_LOCK = """
import sys, time
from pathlib import Path
from qa_service.index import store
with store.build_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""
HOLD_EXPORT_LOCK = """
import sys, time
from pathlib import Path
from qa_service.index import onnx_export
with onnx_export._export_lock(Path(sys.argv[1]), wait=True):
    print("locked", flush=True)
    time.sleep(60)
"""


@contextmanager
def holder(script: str, path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding a lock on ``path`` until the block ends (then it is killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def leftovers(index: Path) -> list[str]:
    """Every temporary entry an index folder can hold."""
    names = [p.name for p in index.glob(".building-*")] + [p.name for p in index.glob(".CURRENT.*")]
    root = encoders_root(index)
    if root.is_dir():
        names += [
            f"encoders/{p.name}" for p in root.iterdir() if p.name.startswith((".tmp-", ".trash-"))
        ]
    return sorted(names)


def plant(index: Path) -> None:
    """What killed builds and exports leave behind."""
    (index / ".building-gen-20260101T000000.000000000-abcdef" / "dense").mkdir(parents=True)
    (index / ".CURRENT.abcdef").write_text("gen-x\n")
    root = encoders_root(index)
    (root / f".tmp-0123456789ab-{dead_pid()}-0badf00d").mkdir(parents=True)
    (root / ".tmp-0123456789ab-1-0badf00d" / "model.onnx").parent.mkdir()
    (root / ".trash-0123-89abcdef").mkdir()
    (root / f".tmp-keys.json-{dead_pid()}-0badf00d").write_text("{}")


def test_the_next_run_removes_every_leftover(tmp_path: Path) -> None:
    index = tmp_path / "index"
    plant(index)
    removed = sweep_leftovers(index)
    assert leftovers(index) == []
    assert len(removed) == 6


def test_a_running_builds_folders_are_kept_until_it_dies(tmp_path: Path) -> None:
    index = tmp_path / "index"
    plant(index)
    with holder(HOLD_BUILD_LOCK, index), holder(HOLD_EXPORT_LOCK, encoders_root(index)):
        sweep_leftovers(index)
        # Kept: the generation being written, its pointer, the export being made. Garbage
        # (.trash-*, a dead process's key cache file) goes at once.
        assert leftovers(index) == sorted(
            [
                ".building-gen-20260101T000000.000000000-abcdef",
                ".CURRENT.abcdef",
                *(f"encoders/{p.name}" for p in encoders_root(index).glob(".tmp-0123*")),
            ]
        )
    sweep_leftovers(index)  # the holders were killed: their locks died with them
    assert leftovers(index) == []


def test_a_key_cache_file_of_a_live_process_is_kept(tmp_path: Path) -> None:
    index = tmp_path / "index"
    root = encoders_root(index)
    root.mkdir(parents=True)
    mine = root / f".tmp-keys.json-{os.getpid()}-0badf00d"
    mine.write_text("{}")
    sweep_leftovers(index)
    assert mine.exists()


def test_a_sweep_never_makes_a_build_fail_on_the_lock(tmp_path: Path) -> None:
    index = tmp_path / "index"
    with holder(HOLD_BUILD_LOCK, index) as proc:
        with (
            pytest.raises(store.IndexStoreError, match="another build"),
            store.build_lock(index, wait_s=0.2),
        ):
            pass
        proc.kill()
        with store.build_lock(index, wait_s=5):  # a brief holder is waited out
            pass


def test_an_export_that_would_not_fit_is_not_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_export, "free_bytes", lambda path: 10 * 2**20)  # the model: 90 MB
    root = tmp_path / "encoders"
    with pytest.raises(OnnxUnavailable, match="not enough disk space"):
        onnx_export.export_encoder(BUNDLED_MODEL, root)
    assert list(root.iterdir()) == []


def test_a_build_that_would_not_fit_is_refused(tmp_path: Path, small_index: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(small_index, index)
    before = store.current_name(index)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    manifest = store.load(index).manifest
    for source in manifest["sources"]:
        shutil.copy(CORPUS / source, corpus)
    result = CliRunner().invoke(
        cli,
        ["index", "--quiet", "--corpus", str(corpus), "--index", str(index)],
        env={"QA_MIN_FREE_MB": str(10**9)},
    )
    assert result.exit_code == 2, result.output
    assert "not enough disk space" in result.output and "QA_MIN_FREE_MB" in result.output
    assert store.current_name(index) == before
    assert leftovers(index) == []


def _disk_bytes(folder: Path) -> int:
    """Bytes on disk, as ``du`` counts them (whole 4 KiB blocks)."""
    return sum(-(-p.stat().st_size // 4096) * 4096 for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("which", ["small_index", "built_index"])
def test_the_size_estimate_covers_real_generations(
    which: str, request: pytest.FixtureRequest
) -> None:
    index: Path = request.getfixturevalue(which)
    loaded = store.load(index)
    m = loaded.manifest
    docs = list(loaded.documents.values())
    estimate = store.estimate_generation_bytes(
        docs, loaded.chunks, m["sentences"], m["dense"]["dimension"], m["dense"]["kind"] != "flat"
    )
    actual = _disk_bytes(loaded.path)
    print(f"\n{which}: estimate {estimate / 2**20:.2f} MB, on disk {actual / 2**20:.2f} MB")
    assert actual <= estimate <= 3 * actual
