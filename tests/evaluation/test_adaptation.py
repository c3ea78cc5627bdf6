"""The adapted encoder (index/adaptation.py): what it is a function of, where it lives, and
that an index built with another training of it is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qa_service.cli import cli
from qa_service.evaluation import adaptation
from qa_service.evaluation.adaptation import Triplet, ensure_adapted, recipe
from qa_service.index.adapted import (
    WEIGHTS_FILE,
    AdaptationError,
    adapted_dir,
    base_of,
    fingerprint,
    is_adapted,
    read_recipe,
)
from qa_service.index.embedding import ModelError, SentenceTransformerEmbedder, resolve_model
from qa_service.index.search_index import check_model
from qa_service.index.store import IndexStoreError
from qa_service.settings import ADAPTED_MODEL, BUNDLED_MODEL, Settings

ROOT = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path, **kw: object) -> Settings:
    questions = tmp_path / "questions.jsonl"
    if not questions.exists():
        shutil.copyfile(ROOT / "eval" / "questions.jsonl", questions)
    corpus = tmp_path / "corpus"
    if not corpus.exists():
        shutil.copytree(ROOT / "corpus", corpus)
    values = {
        "adapt_questions": questions,
        "corpus_dir": corpus,
        "models_dir": tmp_path / "models",
        **kw,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_names() -> None:
    assert Settings().model == ADAPTED_MODEL
    assert is_adapted(ADAPTED_MODEL) and not is_adapted(BUNDLED_MODEL)
    assert base_of(ADAPTED_MODEL) == BUNDLED_MODEL
    with pytest.raises(AdaptationError, match="only the bundled model"):
        base_of("adapted:some-other-model")
    assert adapted_dir(ADAPTED_MODEL, Path("m")) == Path("m/all-MiniLM-L6-v2-adapted")


def test_recipe_follows_dev_questions_only(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    first = recipe(s)
    assert first["base"] == BUNDLED_MODEL and first["epochs"] == adaptation.EPOCHS
    # A new or edited report in the corpus does not retrain the encoder ...
    (s.corpus_dir / "another-report.txt").write_text("Another force's report.\n", encoding="utf-8")
    with (s.corpus_dir / "kent-2021-post-inspection-review.txt").open("a") as f:
        f.write("\nAn added line.\n")
    assert recipe(s) == first
    # ... nor a changed test or val question; a changed dev question does.
    lines = s.adapt_questions.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    for held_out in ("test", "val"):
        row = next(i for i, r in enumerate(rows) if r["split"] == held_out and r["evidence"])
        rows[row]["question"] += " really?"
    s.adapt_questions.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert recipe(s) == first
    dev_row = next(i for i, r in enumerate(rows) if r["split"] == "dev" and r["evidence"])
    rows[dev_row]["question"] += " really?"
    s.adapt_questions.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert recipe(s)["questions"] != first["questions"]


def test_missing_training_data_is_a_clear_error(tmp_path: Path) -> None:
    s = _settings(tmp_path, adapt_questions=tmp_path / "nope.jsonl")
    with pytest.raises(AdaptationError, match=r"nope\.jsonl are missing"):
        recipe(s)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AdaptationError, match="none of the reports"):
        ensure_adapted(_settings(tmp_path, corpus_dir=empty))


def test_unbuilt_adapted_model_names_the_command(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="qa prepare"):
        resolve_model(ADAPTED_MODEL, tmp_path)
    # A folder without its recipe (an interrupted copy) is not a model either.
    folder = adapted_dir(ADAPTED_MODEL, tmp_path)
    folder.mkdir(parents=True)
    (folder / WEIGHTS_FILE).write_bytes(b"")
    assert read_recipe(folder) is None
    with pytest.raises(ModelError, match="not built"):
        resolve_model(ADAPTED_MODEL, tmp_path)


def test_cli_prepare_without_training_questions_exits_2(tmp_path: Path) -> None:
    env = {
        "QA_MODELS_DIR": str(tmp_path / "models"),
        "QA_ADAPT_QUESTIONS": str(tmp_path / "missing.jsonl"),
        "QA_INDEX_DIR": str(tmp_path / "index"),
    }
    result = CliRunner().invoke(cli, ["prepare", "--quiet"], env=env)
    assert result.exit_code == 2
    assert "missing.jsonl are missing" in result.output


def test_index_built_with_another_training_is_refused(tmp_path: Path) -> None:
    s = Settings()
    weights = fingerprint(s.model, s.models_dir)
    assert weights, "the set-up (qa prepare) builds the adapted model"
    manifest = {"model": s.model, "embedder": {"model": s.model, "model_weights": weights}}
    check_model(manifest, s)  # the shipped training: accepted
    manifest["embedder"]["model_weights"] = "0" * 16
    with pytest.raises(IndexStoreError, match="another training"):
        check_model(manifest, s)


def test_training_moves_the_answer_towards_the_question(tmp_path: Path) -> None:
    base = resolve_model(BUNDLED_MODEL)
    question = "are the kids who keep running off flagged to social services?"
    answer = (
        "They prompt a referral to children's social care when a child has been missing"
        " three times in 90 days."
    )
    other = (
        "The force has set up a quarterly oversight meeting with agencies responsible for"
        " detained children."
    )
    triplets = [Triplet(question, answer, other)] * 8
    adaptation.train(base, triplets, tmp_path / "m")

    def margin(model: str) -> float:
        v = SentenceTransformerEmbedder(model).load().encode([question, answer, other])
        return float(v[0] @ v[1] - v[0] @ v[2])

    assert margin(str(tmp_path / "m")) > margin(BUNDLED_MODEL)
    assert np.isfinite(margin(str(tmp_path / "m")))
