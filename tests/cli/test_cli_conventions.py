"""CLI conventions: the HTTP limits with exit 2 naming them, piped chat, --json, results
folders that never overwrite the committed baseline, progress units, examples in --help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa_service.cli import _stage_unit, cli
from qa_service.cli.evaluate import BASELINE, results_folder
from qa_service.settings import LIMITS

OWN_COMMANDS = ["prepare", "index", "search", "chat", "compare", "cite", "eval", "tune"]


@pytest.mark.parametrize("command", OWN_COMMANDS)
def test_every_command_has_examples_and_exit_codes(command: str) -> None:
    res = CliRunner().invoke(cli, [command, "--help"])
    assert res.exit_code == 0 and "Examples:" in res.stdout, res.stdout
    assert "qa " + command in res.stdout.split("Examples:", 1)[1]
    top = CliRunner().invoke(cli, ["--help"]).stdout
    assert "Exit codes:" in top and "Examples:" in top


def test_limits_and_blank_input_exit_2_naming_the_limit(built_index: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    index = ["--index", str(built_index)]
    cases = [
        (["search", "   ", *index], "empty or only spaces"),
        (["search", "x" * (LIMITS.question_chars + 1), *index], "question_chars"),
        (["compare", " ", *index], "empty or only spaces"),
        (["compare", "x" * (LIMITS.question_chars + 1), *index], "question_chars"),
        (["cite", "x" * (LIMITS.quote_chars + 1), *index], "quote_chars"),
        (["search", "custody", "--force", "Narnia", *index], "police force"),
        (["search", "custody", "--top-k", str(LIMITS.top_k + 1), *index], "top-k"),
    ]
    for args, words in cases:
        res = runner.invoke(cli, args)
        assert res.exit_code == 2 and words in res.stderr, (args[:2], res.stderr)
        assert "Traceback" not in res.output
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": 1, "question": "custody"}\n{"id": 2, "question": "  "}\n')
    res = runner.invoke(cli, ["search", "--batch", str(batch), *index])
    assert res.exit_code == 2 and ":2: question: is empty" in res.stderr
    # the same 1,500-character question is accepted, as it is over HTTP
    res = runner.invoke(cli, ["search", ("custody of children " * 100)[:1500], "--json", *index])
    assert res.exit_code == 0 and json.loads(res.stdout)["results"]


def test_search_notes_for_conflicting_and_missing_filters(built_index: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "search",
            "appropriate adults for children in Lancashire custody",
            "--force",
            "Kent",
            "--json",
            "--index",
            str(built_index),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["filters"]["forces"] == ["Lancashire Constabulary"]
    assert any("filter set aside" in n for n in data["notes"])
    res = CliRunner().invoke(
        cli, ["search", "custody", "--force", "Norfolk", "--index", str(built_index)]
    )
    assert res.exit_code == 0 and "no report on Norfolk" in res.stderr


def test_piped_chat_prints_each_answer_under_its_question(built_index: Path) -> None:
    questions = [
        "Does Kent still hold under-18s at the station after charge?",
        "and Leicestershire?",
    ]
    res = CliRunner().invoke(
        cli, ["chat", "--index", str(built_index)], input="\n".join(questions) + "\n"
    )
    assert res.exit_code == 0, res.output
    out = res.stdout
    first, second = out.index(f"Q: {questions[0]}"), out.index(f"Q: {questions[1]}")
    assert first < second
    assert "[1]" in out[first:second] and "[1]" in out[second:]
    assert "Ask a question" not in out  # no prompt when piped
    res = CliRunner().invoke(
        cli, ["chat", "--json", "--index", str(built_index)], input="\n".join(questions) + "\n"
    )
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["question"] for r in lines] == questions
    assert lines[1]["rewritten_question"].startswith("Does Leicestershire")
    assert all("notes" in r and "state" in r for r in lines)


def test_eval_writes_a_fresh_folder_unless_told(tmp_path: Path) -> None:
    fresh = results_folder(None, update_baseline=False)
    assert fresh.parent == Path("eval/runs") and fresh != BASELINE
    assert results_folder(None, update_baseline=True) == BASELINE
    assert results_folder(tmp_path, update_baseline=False) == tmp_path
    assert results_folder(BASELINE, update_baseline=True) == BASELINE
    res = CliRunner().invoke(cli, ["eval", "--update-baseline", "--output", str(tmp_path)])
    assert res.exit_code == 2 and "--update-baseline" in res.stderr
    # cross-fitted figures are not the shipped models': never the baseline, nor gated on it
    for extra in (["--update-baseline"], ["--gate", "eval/results/test.json"]):
        res = CliRunner().invoke(cli, ["eval", "--cross-fit", "5", *extra])
        assert res.exit_code == 2 and "--cross-fit" in res.stderr, res.output


def test_progress_bars_count_what_each_stage_counts() -> None:
    assert _stage_unit("reading kent.txt") == ("reading", "report")
    assert _stage_unit("chunking kent.txt") == ("chunking", "report")
    assert _stage_unit("embedding passages") == ("embedding passages", "passage")
    assert _stage_unit("embedding sentences") == ("embedding sentences", "sentence")
