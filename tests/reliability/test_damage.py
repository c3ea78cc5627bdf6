"""Damaged indexes are refused, file by file: truncated or one byte flipped, every file the
manifest lists, the manifest itself and CURRENT. Refused means IndexStoreError from the
loaders (nothing else, no crash), exit code 2 from the CLI, and 503 from /readyz.

A report's record and text (``document_store.deferred``) are hashed when the report is first
read, not at load (their sizes are checked at load): a byte flipped in one is refused then,
by IndexStoreError from reading the reports, exit code 2 from ``qa documents`` and 503 from
``/v1/documents``, while the rest of the index serves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from qa_service.api import create_app
from qa_service.cli import cli
from qa_service.index import document_store, store
from qa_service.index.current import load_search_index
from qa_service.settings import Settings

DAMAGE = ["truncate-half", "truncate-last-byte", "empty", "flip-first", "flip-middle", "flip-last"]


def _targets(index: Path) -> list[str]:
    gen = store.current_generation(index)
    manifest = json.loads((gen / store.MANIFEST).read_text())
    rels = [f"{gen.name}/{rel}" for rel in manifest["files"]]
    return [*rels, f"{gen.name}/{store.MANIFEST}", store.CURRENT]


def _damage(path: Path, how: str) -> bool:
    data = path.read_bytes()
    if not data:
        return False
    if how == "truncate-half":
        path.write_bytes(data[: len(data) // 2])
    elif how == "truncate-last-byte":
        path.write_bytes(data[:-1])
    elif how == "empty":
        path.write_bytes(b"")
    else:
        at = {"flip-first": 0, "flip-middle": len(data) // 2, "flip-last": len(data) - 1}[how]
        path.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :])
    return True


def _refused(index: Path) -> list[str]:
    """What failed to refuse the damaged index (empty when everything refused it)."""
    problems = []
    try:
        store.load(index)
        problems.append("store.load accepted it")
    except store.IndexStoreError as exc:
        if not str(exc):
            problems.append("store.load: empty message")
    try:
        load_search_index(Settings(index_dir=index))
        problems.append("load_search_index accepted it")
    except store.IndexStoreError:
        pass
    result = CliRunner().invoke(cli, ["documents", "--index", str(index)])
    if result.exit_code != 2 or not result.stderr.startswith("Error: "):
        problems.append(f"CLI exit {result.exit_code}: {result.output[-200:]!r}")
    if "Traceback" in result.output:
        problems.append("CLI printed a traceback")
    with TestClient(create_app(Settings(index_dir=index))) as client:
        r = client.get("/readyz")
        if r.status_code != 503 or not r.json()["detail"]:
            problems.append(f"/readyz {r.status_code}")
    return problems


def _refused_on_first_use(index: Path) -> list[str]:
    """What failed to refuse a damaged report when it is read (empty when all refused it)."""
    problems = []
    try:
        idx = store.load(index)
    except store.IndexStoreError as exc:
        return [f"store.load refused it at load ({exc})"]
    try:
        [idx.documents[d] for d in idx.documents]
        problems.append("reading every report accepted it")
    except store.IndexStoreError as exc:
        if "fails its checksum" not in str(exc):
            problems.append(f"reading the reports: {exc}")
    result = CliRunner().invoke(cli, ["documents", "--index", str(index)])
    if result.exit_code != 2 or not result.stderr.startswith("Error: "):
        problems.append(f"CLI exit {result.exit_code}: {result.output[-200:]!r}")
    with TestClient(create_app(Settings(index_dir=index))) as client:
        if client.get("/readyz").status_code != 200:
            problems.append("/readyz: the rest of the index should serve")
        r = client.get("/v1/documents")
        if r.status_code != 503 or "fails its checksum" not in r.json()["detail"]:
            problems.append(f"/v1/documents {r.status_code}")
    return problems


def test_the_undamaged_copy_loads(small_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(small_index, index)
    assert load_search_index(Settings(index_dir=index)).documents
    assert len(_targets(index)) >= 10


@pytest.mark.parametrize("how", DAMAGE)
def test_every_file_damaged_is_refused(small_index: Path, tmp_path: Path, how: str) -> None:
    failures = {}
    for n, rel in enumerate(_targets(small_index)):
        index = tmp_path / f"copy{n}"
        shutil.copytree(small_index, index)
        if not _damage(index / rel, how):
            continue  # an empty file cannot be truncated or flipped
        in_gen = rel.split("/", 1)[-1]
        first_use = how.startswith("flip") and "/" in rel and document_store.deferred(in_gen)
        problems = _refused_on_first_use(index) if first_use else _refused(index)
        if problems:
            failures[rel] = problems
        shutil.rmtree(index)
    assert failures == {}


def test_any_flipped_byte_of_the_manifest_is_refused(small_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(small_index, index)
    path = store.current_generation(index) / store.MANIFEST
    data = path.read_bytes()
    accepted = []
    for at in range(len(data)):
        for bit in (0x01, 0x20):
            path.write_bytes(data[:at] + bytes([data[at] ^ bit]) + data[at + 1 :])
            try:
                store.load(index)
                accepted.append((at, bit, data[max(0, at - 20) : at + 20]))
            except store.IndexStoreError:
                pass
    assert accepted == []


def test_any_flipped_byte_of_current_is_refused(small_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(small_index, index)
    path = index / store.CURRENT
    data = path.read_bytes()
    for at in range(len(data)):
        for bit in (0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80):
            path.write_bytes(data[:at] + bytes([data[at] ^ bit]) + data[at + 1 :])
            with pytest.raises(store.IndexStoreError):
                store.load(index)
