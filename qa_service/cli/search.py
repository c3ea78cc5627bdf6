"""``qa search``: one question, or a batch file of questions, against the index."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..forces import find_forces
from ..passages import result_dict
from ..retriever import Retriever
from ..search_types import Filters, SearchResult
from ..service import open_retriever
from . import _settings, clean_errors, cli, fail, index_option

MAX_TOP_K = 50


def _filters(
    force: tuple[str, ...],
    report_type: tuple[str, ...],
    year_from: int | None,
    year_to: int | None,
    section: tuple[str, ...],
) -> Filters:
    forces: list[str] = []
    for name in force:
        found = find_forces(name)
        if not found:
            fail(f"--force {name!r} is not a police force of England and Wales")
        forces.append(found[0])
    return Filters(tuple(forces), report_type, year_from, year_to, section)


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


@cli.command("search")
@click.argument("question", required=False)
@click.option(
    "--batch",
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON lines with 'id' and 'question'; prints one JSON line per question.",
)
@click.option("--top-k", type=click.IntRange(1, MAX_TOP_K), default=5, show_default=True)
@click.option("--force", multiple=True, help="Only this force (repeatable; short names work).")
@click.option("--report-type", multiple=True, help="e.g. 'inspection', 'post-inspection review'.")
@click.option("--year-from", type=int)
@click.option("--year-to", type=int)
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
    """Find the passages that answer QUESTION (or every question in --batch)."""
    if (question is None) == (batch is None):
        fail("give a QUESTION or --batch FILE (not both)")
    filters = _filters(force, report_type, year_from, year_to, section)
    settings = _settings(index_dir=index_dir)
    if batch is not None:
        rows = _read_batch(batch)
        with clean_errors():
            retriever = open_retriever(settings)
            _run_batch(retriever, rows, top_k, filters)
        return
    assert question is not None
    if not question.strip():
        fail("the question is empty")
    with clean_errors():
        retriever = open_retriever(settings)
        result = retriever.search(question, top_k=top_k, filters=filters)
    if as_json:
        click.echo(json.dumps(result_dict(result), ensure_ascii=False, indent=2))
    else:
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
        if not row["question"].strip():
            fail(f"{path}:{n}: the question is empty")
        rows.append(row)
    return rows


def _run_batch(
    retriever: Retriever, rows: list[dict[str, Any]], top_k: int, filters: Filters
) -> None:
    for row in rows:
        result = retriever.search(row["question"], top_k=top_k, filters=filters)
        out = result_dict(result)
        line = {
            "id": row["id"],
            "question": row["question"],
            "answerable": out["answerable"],
            "results": out["results"],
            "message": out["message"],
        }
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        sys.stdout.flush()
