"""``qa search``: one question, or a batch file of questions, against the index."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..answer.retriever import Retriever
from ..answer.service import open_retriever
from ..search.inputs import (
    InputError,
    check_count,
    check_question,
    filter_notes,
    forces_of,
    resolve_forces,
    window_note,
    year_range,
)
from ..search.passages import result_dict
from ..search.types import Filters, SearchResult
from ..settings import LIMITS
from . import _settings, clean_errors, cli, fail, index_option

MAX_TOP_K = LIMITS.top_k


def _filters(
    force: tuple[str, ...],
    report_type: tuple[str, ...],
    year_from: int | None,
    year_to: int | None,
    section: tuple[str, ...],
) -> tuple[Filters, list[str]]:
    """The filters given, checked as the HTTP API checks them, and a note if reordered."""
    try:
        for name, values in (("--force", force), ("--report-type", report_type)):
            check_count(name, len(values), LIMITS.filter_values, "filter_values")
        check_count("--section", len(section), LIMITS.filter_values, "filter_values")
        forces = forces_of(force, "--force")
    except InputError as exc:
        fail(str(exc))
    first, last, note = year_range(year_from, year_to)
    return Filters(forces, report_type, first, last, section), [note] if note else []


def notes_for(retriever: Retriever, question: str, filters: Filters) -> tuple[Filters, list[str]]:
    """The filters after the question-wins rule, and the notes the HTTP API would give."""
    filters, notes = resolve_forces(question, filters)
    notes += filter_notes(filters, retriever.index.metadata)
    embedder = retriever.embedder
    return filters, notes + window_note(embedder.count_tokens(question), embedder.max_tokens)


def _question(text: str, where: str = "QUESTION") -> str:
    try:
        return check_question(text, where)
    except InputError as exc:
        fail(str(exc))


def print_result(result: SearchResult, out: Any = None) -> None:
    """Human-readable passages with the answer sentence marked » «."""
    echo = click.echo
    if result.filters.forces:
        echo(f"(forces: {', '.join(result.filters.forces)})", file=out)
    if not result.answerable:
        echo(f"Not answerable: {result.message}", file=out)
    for n, hit in enumerate(result.hits, 1):
        c, meta = hit.chunk, hit.document.metadata
        echo(f"\n[{n}] {meta.force} – {' > '.join(c.section)}", file=out)
        echo(f"    {c.source} chars {c.start}-{c.end}  score {hit.score:.3f}", file=out)
        text = c.text
        for a, b in sorted(hit.highlights, reverse=True):
            text = f"{text[:a]}»{text[a:b]}«{text[b:]}"
        for line in text.splitlines():
            echo(f"    {line}", file=out)


YEARS = click.IntRange(LIMITS.year_min, LIMITS.year_max)


@cli.command("search", epilog="Exit codes: 0 done, 1 internal error, 2 bad input or index.")
@click.argument("question", required=False)
@click.option(
    "--batch",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON lines with 'id' and 'question'; prints one JSON line per question"
    f" (at most {LIMITS.batch_questions:,} lines).",
)
@click.option("--top-k", type=click.IntRange(1, MAX_TOP_K), default=5, show_default=True)
@click.option("--force", multiple=True, help="Only this force (repeatable; short names work).")
@click.option("--report-type", multiple=True, help="e.g. 'inspection', 'post-inspection review'.")
@click.option("--year-from", type=YEARS, help="First inspection year.")
@click.option("--year-to", type=YEARS, help="Last inspection year.")
@click.option("--section", multiple=True, help="Heading path prefix, outermost first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (CONTRACT.md passages).")
@index_option
def search_cmd(
    question: str | None,
    batch: Path | None,
    top_k: int,
    force: tuple[str, ...],
    report_type: tuple[str, ...],
    year_from: int | None,
    year_to: int | None,
    section: tuple[str, ...],
    as_json: bool,
    index_dir: Path | None,
) -> None:
    """Find the passages that answer QUESTION (or every question in --batch).

    A QUESTION may be 2,000 characters (the HTTP API's limit too); a longer or blank one is
    refused, never cut. A force the question names wins over a --force that does not include
    it; notes on stderr (and "notes" in --json) say so, and name filter values the corpus
    lacks.

    \b
    Examples:
      qa search "does Kent still hold under-18s at the station after charge?"
      qa search "missing children" --force Lancs --top-k 3 --json
      qa search --batch eval/questions.jsonl > results.jsonl
    """
    if (question is None) == (batch is None):
        fail("give a QUESTION or --batch FILE (not both)")
    filters, notes = _filters(force, report_type, year_from, year_to, section)
    settings = _settings(index_dir=index_dir)
    if batch is not None:
        rows = _read_batch(batch)
        with clean_errors():
            retriever = open_retriever(settings)
            _run_batch(retriever, rows, top_k, filters, notes)
        return
    assert question is not None
    question = _question(question)
    with clean_errors():
        retriever = open_retriever(settings)
        applied, more = notes_for(retriever, question, filters)
        result = retriever.search(question, top_k=top_k, filters=applied)
    notes += more
    if as_json:
        click.echo(
            json.dumps({**result_dict(result), "notes": notes}, ensure_ascii=False, indent=2)
        )
        return
    for note in notes:
        click.echo(f"Note: {note}", err=True)
    print_result(result)


def _read_batch(path: Path) -> list[dict[str, Any]]:
    """Every line must be a JSON object with an id and a non-empty question."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{path}:{n}: not JSON ({exc.msg})")
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("question"), str):
            fail(f"{path}:{n}: each line needs an 'id' and a 'question' string")
        _question(row["question"], f"{path}:{n}: question")
        rows.append(row)
        if len(rows) > LIMITS.batch_questions:
            fail(
                f"{path}: more than {LIMITS.batch_questions:,} questions (batch_questions);"
                " split the file"
            )
    return rows


def _run_batch(
    retriever: Retriever,
    rows: list[dict[str, Any]],
    top_k: int,
    filters: Filters,
    notes: list[str],
) -> None:
    for row in rows:
        applied, more = notes_for(retriever, row["question"], filters)
        result = retriever.search(row["question"], top_k=top_k, filters=applied)
        out = result_dict(result)
        line = {
            "id": row["id"],
            "question": row["question"],
            "answerable": out["answerable"],
            "results": out["results"],
            "message": out["message"],
            "notes": notes + more,
        }
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        sys.stdout.flush()
