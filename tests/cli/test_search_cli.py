"""``qa search`` (single, --json, --batch), ``qa eval`` and its regression gate."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from qa_service.cli import cli

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "eval" / "questions.jsonl"


def test_search_human_and_json(built_index: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "search",
            "what happens when a teenager goes AWOL in Lincolnshire?",
            "--index",
            str(built_index),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Lincolnshire Police" in res.stdout and "»" in res.stdout
    res = runner.invoke(
        cli,
        [
            "search",
            "missing children",
            "--json",
            "--top-k",
            "3",
            "--force",
            "Lancs",
            "--index",
            str(built_index),
        ],
    )
    data = json.loads(res.stdout)
    assert len(data["results"]) == 3 and data["filters"]["forces"] == ["Lancashire Constabulary"]


def test_batch_of_100_in_one_process(built_index: Path, tmp_path: Path, monkeypatch) -> None:
    import qa_service.index.embedding as emb
    import qa_service.index.onnx_encoder as onnx

    loads = []
    original = emb.SentenceTransformerEmbedder.load
    original_open = onnx.OnnxEmbedder._open

    def counting_load(self):  # type: ignore[no-untyped-def]
        if self._model is None:
            loads.append(1)
        return original(self)

    def counting_open(self):  # type: ignore[no-untyped-def]
        loads.append(1)
        return original_open(self)

    monkeypatch.setattr(emb.SentenceTransformerEmbedder, "load", counting_load)
    monkeypatch.setattr(onnx.OnnxEmbedder, "_open", counting_open)  # QA_ENCODER_BACKEND=onnx
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines()][:100]
    batch = tmp_path / "batch.jsonl"
    batch.write_text(
        "".join(json.dumps({"id": r["id"], "question": r["question"], "x": 1}) + "\n" for r in rows)
    )
    res = CliRunner().invoke(
        cli, ["search", "--batch", str(batch), "--top-k", "3", "--index", str(built_index)]
    )
    assert res.exit_code == 0, res.output
    out = [json.loads(line) for line in res.stdout.splitlines()]
    assert [o["id"] for o in out] == [r["id"] for r in rows]
    assert all(set(o) >= {"id", "question", "answerable", "results"} for o in out)
    assert loads == [1]  # the model was loaded once for all 100 questions


def test_search_errors(built_index: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["search", "x", "--index", str(tmp_path / "none")])
    assert res.exit_code == 2 and "no index" in res.stderr and "Traceback" not in res.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "question": "ok"}\n{"question": "no id"}\n')
    res = runner.invoke(cli, ["search", "--batch", str(bad), "--index", str(built_index)])
    assert res.exit_code == 2 and "bad.jsonl:2" in res.stderr
    res = runner.invoke(cli, ["search", "  ", "--index", str(built_index)])
    assert res.exit_code == 2 and "empty" in res.stderr
    res = runner.invoke(cli, ["search", "x", "--force", "Narnia", "--index", str(built_index)])
    assert res.exit_code == 2 and "Narnia" in res.stderr
    res = runner.invoke(cli, ["search", "x", "--top-k", "500", "--index", str(built_index)])
    assert res.exit_code == 2


def test_eval_gate_on_test_split(built_index: Path, tmp_path: Path) -> None:
    """CI's regression gate: Recall@5 and MRR@10 on test may not drop > 0.02 below the
    committed figures in eval/results/test.json."""
    res = CliRunner().invoke(
        cli,
        [
            "eval",
            "--split",
            "test",
            "--only-final",
            "-q",
            "--out",
            str(tmp_path),
            "--gate",
            str(ROOT / "eval" / "results" / "test.json"),
            "--index",
            str(built_index),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "gate recall@5" in res.stdout and "REGRESSION" not in res.stdout
    assert (tmp_path / "test.json").is_file() and (tmp_path / "test-recall.png").is_file()


def test_cite_compare_chat_commands(built_index: Path) -> None:
    runner = CliRunner()
    quote = "Fewer children are arrested and detained in custody"
    res = runner.invoke(cli, ["cite", quote, "--json", "--index", str(built_index)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["status"] == "exact"
    assert data["matches"][0]["source"] == "kent-2021-post-inspection-review.txt"
    res = runner.invoke(
        cli, ["cite", "Quantum computing transforms police rotas.", "--index", str(built_index)]
    )
    assert res.exit_code == 0 and res.stdout.startswith("Not found")
    res = runner.invoke(
        cli, ["compare", "appropriate adults in custody", "--json", "--index", str(built_index)]
    )
    assert res.exit_code == 0, res.output
    forces = json.loads(res.stdout)["forces"]
    assert len(forces) == 4 and all(f["status"] in ("cited", "no relevant passage") for f in forces)
    res = runner.invoke(
        cli,
        ["chat", "--index", str(built_index)],
        input="Does Kent still hold under-18s at the station after charge?\n"
        "and Leicestershire?\n\n",
    )
    assert res.exit_code == 0, res.output
    assert "(searched: Does Leicestershire still hold under-18s" in res.stdout
    assert "[1]" in res.stdout
    res = runner.invoke(cli, ["cite", "  ", "--index", str(built_index)])
    assert res.exit_code == 2 and "empty" in res.stderr


def test_cite_marks_the_words_a_near_quote_changes(built_index: Path) -> None:
    runner = CliRunner()
    quote = (
        "Investigators feel their work-\nloads are very high and they don't have\nPage 12\n"
        "enough spare time to commit to their enquiries."
    )
    res = runner.invoke(cli, ["cite", quote, "--index", str(built_index)])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("near (")
    assert "are [-very-]{+too+} high" in res.stdout and "enough [-spare-] time" in res.stdout
    res = runner.invoke(cli, ["cite", quote, "--json", "--index", str(built_index)])
    best = json.loads(res.stdout)["matches"][0]
    assert [quote[a:b] for a, b in best["diff"]["quote"]] == ["very", "spare"]
    assert [best["text"][a:b] for a, b in best["diff"]["text"]] == ["too", ""]
    invented = "The force has introduced a drone unit to search for missing teenagers at night."
    res = runner.invoke(cli, ["cite", invented, "--index", str(built_index)])
    assert res.exit_code == 0 and "Closest passages (not matches):" in res.stdout
    assert "\nclosest (0." in res.stdout


def test_nothing_is_fitted_or_tuned_on_a_held_out_split() -> None:
    """test and val are never fitted or tuned on: exit 2 with a message, before any work."""
    for command in ("fit-answers", "tune"):
        for split in ("test", "val"):
            res = CliRunner().invoke(cli, [command, "--split", split])
            assert res.exit_code == 2, (command, split, res.output)
            assert f"on the {split} split" in res.output
