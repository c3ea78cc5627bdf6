"""Bad report files get one clear message naming the file; the rest are still indexed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_service.cli import cli
from qa_service.ingest import IngestError, read_corpus, read_document
from tests.conftest import CORPUS, SEEDS

BAD_FILES = {
    "empty.txt": (b"", "empty"),
    "binary.txt": (bytes(range(256)) * 64, "binary"),
    "latin1.txt": ("Caf\u00e9 report about children\n".encode("latin-1") * 10, "not valid UTF-8"),
    "notes.docx": (b"PK\x03\x04 not really a docx", "unsupported file type '.docx'"),
    "whitespace.md": (b"   \n\n\t\n", "empty"),
}


def _write_bad(folder: Path) -> None:
    for name, (data, _) in BAD_FILES.items():
        (folder / name).write_bytes(data)
    # a 50 MB file: over the per-report limit, refused before it is read
    with (folder / "huge.txt").open("wb") as f:
        f.truncate(50 * 1024 * 1024)


@pytest.mark.parametrize("name", list(BAD_FILES))
def test_each_bad_file_has_a_clear_message(tmp_path: Path, name: str) -> None:
    data, expected = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(IngestError) as err:
        read_document(path)
    assert str(err.value).startswith(name + ":")
    assert expected in str(err.value)


def test_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    with pytest.raises(IngestError, match=r"huge.txt: 52.4 MB is over the 26 MB limit"):
        read_document(path)


def test_bad_files_do_not_stop_the_others(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    _write_bad(corpus)
    docs, problems = read_corpus(corpus)
    assert sorted(d.source for d in docs) == sorted(SEEDS.values())
    assert len(problems) == len(BAD_FILES) + 1
    for name in [*BAD_FILES, "huge.txt"]:
        assert sum(p.startswith(name + ":") for p in problems) == 1, name


def test_cli_reports_problems_and_still_indexes(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    _write_bad(corpus)
    result = CliRunner().invoke(
        cli, ["index", "-q", "--corpus", str(corpus), "--index", str(tmp_path / "idx")]
    )
    assert result.exit_code == 0, result.output
    assert "Indexed 4 report(s)" in result.stdout
    for name in [*BAD_FILES, "huge.txt"]:
        assert f"Skipped: {name}:" in result.stderr


def test_cli_exit_2_when_nothing_indexable(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    _write_bad(corpus)
    result = CliRunner().invoke(
        cli, ["index", "-q", "--corpus", str(corpus), "--index", str(tmp_path / "idx")]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: nothing could be indexed")
    assert "Traceback" not in result.output
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_cli_missing_corpus_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["index", "-q", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "i")]
    )
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_symlink_out_of_corpus_is_refused(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / SEEDS["kent"], corpus)
    outside = tmp_path / "secret.txt"
    outside.write_text(
        "Introduction\nThis file is outside the corpus folder and must not be read.\n"
    )
    (corpus / "link.txt").symlink_to(outside)
    docs, problems = read_corpus(corpus)
    assert [d.source for d in docs] == [SEEDS["kent"]]
    assert problems == ["link.txt: refused, it links outside the corpus folder"]


def test_readme_and_sidecars_are_not_reports(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / SEEDS["kent"], corpus)
    (corpus / "README.md").write_text("# Corpus\n\nProvenance of the reports in this folder.\n")
    (corpus / (SEEDS["kent"] + ".meta.json")).write_text('{"published": "2021-09"}')
    docs, problems = read_corpus(corpus)
    assert problems == [] and len(docs) == 1
    assert docs[0].metadata.published == "2021-09"  # the sidecar fills what the text lacks
