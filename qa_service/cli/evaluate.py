"""``qa eval`` and ``qa tune``: offline evaluation of retrievers on a question set."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from ..answer.service import open_retriever
from ..evaluation.answers import (
    answer_report,
    answer_table,
    none_type_table,
    plot_reliability,
    run_answers,
)
from ..evaluation.retrieval import (
    EvalError,
    Question,
    RunReport,
    kind_table,
    load_questions,
    markdown_table,
    plot_recall,
    report,
    report_to_json,
    run_questions,
)
from ..evaluation.tuning import ladder, tune
from . import _settings, clean_errors, cli, fail, index_option

GATE_METRICS = ("recall@5", "mrr@10")
ANSWER_GATE_METRICS = ("answer@1",)

questions_option = click.option(
    "--questions",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("eval/questions.jsonl"),
    show_default=True,
)


def _questions(path: Path, split: str | None) -> list[Question]:
    """The question file's questions of one split, or a clean CLI error."""
    try:
        return load_questions(path, split)
    except EvalError as exc:
        fail(str(exc))


GATE_TOLERANCE = 0.02
# Splits nothing is fitted or tuned on: test (the reported figures) and val (a check, for
# changes chosen on dev, on questions that neither the encoder nor the answer models saw).
HELD_OUT = ("test", "val")
BASELINE = Path("eval/results")  # committed figures: written only when asked for


def results_folder(output: Path | None, update_baseline: bool) -> Path:
    """Where a run writes: the folder named, the committed baseline with --update-baseline,
    else a new eval/runs/<UTC time>/ (a run never overwrites committed results by default)."""
    if output is not None and update_baseline and output != BASELINE:
        fail(f"--update-baseline writes to {BASELINE}; drop --output {output} or the flag")
    if update_baseline:
        return BASELINE
    if output is not None:
        return output
    from datetime import UTC, datetime

    return Path("eval/runs") / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


output_option = click.option(
    "--output",
    "--out",
    "out",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Results folder (default: a new eval/runs/<UTC time>/).",
)
baseline_option = click.option(
    "--update-baseline",
    is_flag=True,
    help=f"Write to the committed results in {BASELINE}/ (what --gate compares against).",
)


@cli.command(
    "eval",
    epilog="Exit codes: 0 done, 1 --gate regression or internal error, 2 bad input or index.",
)
@questions_option
@click.option("--split", default=None, help="Only questions of this split (dev, val or test).")
@click.option("--top-k", type=click.IntRange(1, 50), default=10, show_default=True)
@output_option
@baseline_option
@click.option("--json", "as_json", is_flag=True, help="Print the results JSON on stdout.")
@click.option("--only-final", is_flag=True, help="Evaluate only the configured retriever.")
@click.option(
    "--gate",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Committed results JSON: exit 1 if Recall@5 or MRR@10 drops > 0.02 below it.",
)
@click.option(
    "--cross-fit",
    "cross_fit",
    type=click.IntRange(2, 20),
    default=None,
    metavar="FOLDS",
    help="Answer each question with answer models fitted without it (FOLDS folds): honest"
    " answer figures for the split the shipped models are fitted on (dev).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@index_option
def eval_cmd(
    questions: Path,
    split: str | None,
    top_k: int,
    out: Path | None,
    update_baseline: bool,
    as_json: bool,
    only_final: bool,
    gate: Path | None,
    cross_fit: int | None,
    quiet: bool,
    index_dir: Path | None,
) -> None:
    """Compare retrievers on a question set; write JSON, markdown and a Recall@k plot.

    Results go to a new eval/runs/<UTC time>/ folder; the committed eval/results/ is written
    only with --update-baseline (or --output eval/results).

    \b
    Examples:
      qa eval --split test --only-final
      qa eval --split test --only-final -q --gate eval/results/test.json
      qa eval --split dev --update-baseline
      qa eval --split dev --only-final --cross-fit 5
      qa eval --split test --only-final -q --json | jq .retrievers[0].overall
    """
    from tqdm import tqdm

    if cross_fit and (update_baseline or gate is not None):
        # the committed figures are the shipped models', not models fitted per fold
        fail("--cross-fit measures fitting, not the shipped models: drop --update-baseline/--gate")
    out = results_folder(out, update_baseline)  # bad options fail before any work
    settings = _settings(index_dir=index_dir)
    with clean_errors():
        qs = _questions(questions, split)
        retriever = open_retriever(settings)
        configs = ladder(retriever.config)
        if only_final:
            configs = configs[-1:]
        reports: list[RunReport] = []
        with tqdm(
            total=len(qs) * len(configs), disable=quiet, file=sys.stderr, unit="question"
        ) as bar:
            for name, cfg in configs:
                bar.set_description(name)
                outcomes = run_questions(retriever, qs, cfg, top_k, lambda _: bar.update(1))
                reports.append(report(name, outcomes))
        with tqdm(total=len(qs), disable=quiet, file=sys.stderr, unit="question") as bar:
            bar.set_description("chat answers" + (" (cross-fitted)" if cross_fit else ""))
            if cross_fit:
                from ..evaluation.fit import cross_fitted_answers

                answered = cross_fitted_answers(retriever, qs, cross_fit, lambda _: bar.update(1))
            else:
                answered = run_answers(retriever, qs, progress=lambda _: bar.update(1))
        answers = answer_report(answered)
        if cross_fit:
            answers["cross_fitted_folds"] = cross_fit
    label = split or "all"
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "questions_file": str(questions),
        "split": label,
        "index_version": retriever.index.version,
        "config": asdict(retriever.config),
        "retrievers": [report_to_json(r) for r in reports],
        "final": reports[-1].name,
        "answers": answers,
    }
    (out / f"{label}.json").write_text(json.dumps(data, indent=2) + "\n")
    final = reports[-1]
    md = [
        f"# Retrieval evaluation: {label} split ({len(qs)} questions)",
        "",
        markdown_table(reports),
        "",
        f"## Per kind: {final.name}",
        "",
        kind_table(final),
        "",
        "## Answers (the chat answer's sentences and state"
        + (
            f"; cross-fitted, {cross_fit} folds: each question answered by answer models"
            " fitted without it)"
            if cross_fit
            else ")"
        ),
        "",
        answer_table(answers),
        "",
        "Unanswerable questions by why the reports do not answer them:",
        "",
        none_type_table(answers),
        "",
    ]
    (out / f"{label}.md").write_text("\n".join(md))
    plot_recall(reports, out / f"{label}-recall.png", f"Recall@k, {label} split")
    plot_reliability(
        answered, out / f"{label}-reliability.png", f"Answerable probability, {label} split"
    )
    if as_json:  # the JSON on stdout, the tables for a person on stderr
        click.echo(json.dumps(data, indent=2))
    click.echo(markdown_table(reports), err=as_json)
    click.echo("\n" + answer_table(answers), err=as_json)
    click.echo(
        f"\nWrote {out / (label + '.json')}, {label}.md, {label}-recall.png"
        f" and {label}-reliability.png",
        err=as_json,
    )
    if gate is not None:
        _check_gate(gate, final, answers)


def _check_gate(gate: Path, final: RunReport, answers: dict[str, Any]) -> None:
    try:
        committed = json.loads(gate.read_text())
        base = next(r for r in committed["retrievers"] if r["name"] == committed["final"])
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        fail(f"cannot read the gate figures from {gate}: {exc}")
    drops = []
    for metric in GATE_METRICS:
        now, before = final.overall.get(metric, 0.0), base["overall"][metric]
        status = "ok" if now >= before - GATE_TOLERANCE else "REGRESSION"
        click.echo(f"gate {metric}: {now:.4f} vs committed {before:.4f} ({status})")
        if status != "ok":
            drops.append(metric)
    before_answers = committed.get("answers", {}).get("overall", {})
    for metric in ANSWER_GATE_METRICS:
        if before_answers.get(metric) is None:
            continue
        now, before = answers["overall"].get(metric) or 0.0, before_answers[metric]
        status = "ok" if now >= before - GATE_TOLERANCE else "REGRESSION"
        click.echo(f"gate {metric}: {now:.4f} vs committed {before:.4f} ({status})")
        if status != "ok":
            drops.append(metric)
    if drops:
        click.echo(f"Error: {', '.join(drops)} dropped more than {GATE_TOLERANCE}", err=True)
        sys.exit(1)


@cli.command("tune")
@questions_option
@click.option("--split", default="dev", show_default=True)
@output_option
@baseline_option
@index_option
def tune_cmd(
    questions: Path, split: str, out: Path | None, update_baseline: bool, index_dir: Path | None
) -> None:
    """Tune fusion and the answerable threshold on the dev split (never on test).

    Prints the chosen settings as JSON; writes tuning.json to a new eval/runs/<UTC time>/
    (eval/results/ with --update-baseline).

    \b
    Examples:
      qa tune
      qa tune --update-baseline
    """
    if split in HELD_OUT:
        fail(f"tuning on the {split} split would make its figures meaningless; use dev")
    out = results_folder(out, update_baseline)
    settings = _settings(index_dir=index_dir)
    with clean_errors():
        qs = _questions(questions, split)
        retriever = open_retriever(settings)
        best, trials = tune(retriever, qs, retriever.config, lambda m: click.echo(m, err=True))
    out.mkdir(parents=True, exist_ok=True)
    (out / "tuning.json").write_text(
        json.dumps({"split": split, "chosen": asdict(best), "trials": trials}, indent=2) + "\n"
    )
    click.echo(json.dumps(asdict(best), indent=2))


@cli.command("fit-answers")
@questions_option
@click.option("--split", default="dev", show_default=True)
@click.option(
    "--ranker-only",
    is_flag=True,
    help="Refit the answer-sentence ranker and keep the answerability model (the shipped "
    "models are fitted so: docs/evaluation.md says why).",
)
@index_option
def fit_answers_cmd(questions: Path, split: str, ranker_only: bool, index_dir: Path | None) -> None:
    """Refit the answer-sentence ranker (linear model and trees) and the answerability model
    on the dev split and write them to qa_service/answer/models/ (JSON, and LightGBM's text
    model for the trees).

    Example: qa fit-answers --ranker-only && qa eval --split dev --only-final
    """
    from ..evaluation.fit import fit

    if split in HELD_OUT:
        fail(f"fitting on the {split} split would make its figures meaningless; use dev")
    settings = _settings(index_dir=index_dir)
    with clean_errors():
        qs = _questions(questions, split)
        retriever = open_retriever(settings)
        rep = fit(
            retriever, qs, progress=lambda m: click.echo(m, err=True), ranker_only=ranker_only
        )
    click.echo(json.dumps(asdict(rep), indent=2))
