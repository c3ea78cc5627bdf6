"""``qa chat``, ``qa compare``, ``qa cite`` and ``qa serve``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..answer.chat import answer as chat_answer
from ..answer.compare import compare as compare_core
from ..answer.reply import Turn
from ..answer.service import open_retriever
from ..search.inputs import InputError, check_count, check_question, check_text, forces_of
from ..search.passages import chat_dict, cite_result_dict, comparison_dict
from ..search.types import Filters
from ..settings import LIMITS
from . import _settings, clean_errors, cli, fail, index_option
from .search import notes_for

EXITS = "Exit codes: 0 done, 1 internal error, 2 bad input or index."


@cli.command("chat", epilog=EXITS)
@click.option("--top-k", type=click.IntRange(1, LIMITS.top_k), default=5, show_default=True)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON line per question (the HTTP chat reply)."
)
@index_option
def chat_cmd(top_k: int, as_json: bool, index_dir: Path | None) -> None:
    """Ask questions in a conversation; follow-ups ("and Kent?") use what came before.

    At a terminal it prompts; an empty line or Ctrl-D ends. Piped, it reads one question a
    line and prints each answer under its question ("Q: ..."), or with --json one JSON line
    per question. A conversation holds at most 20 messages (the HTTP limit): past that the
    next question starts a new one, and stderr says so. Each question is checked against the
    same limits as qa search.

    \b
    Examples:
      qa chat
      printf 'Does Kent hold children overnight?\\nand Lancashire?\\n' | qa chat
      qa chat --json < questions.txt > answers.jsonl
    """
    settings = _settings(index_dir=index_dir)
    with clean_errors():
        retriever = open_retriever(settings)
    piped = not sys.stdin.isatty()
    turns: list[Turn] = []
    if not piped:
        click.echo("Ask a question (empty line or Ctrl-D to stop).")
    for question in _questions(piped):
        try:
            check_question(question)
        except InputError as exc:
            fail(str(exc))
        if len(turns) + 1 > LIMITS.messages:
            click.echo(
                f"Note: the conversation reached {LIMITS.messages} messages (messages limit);"
                " this question starts a new one.",
                err=True,
            )
            turns = []
        turns.append(Turn("user", question))
        with clean_errors():
            reply = chat_answer(retriever, turns, top_k=top_k)
            _, notes = notes_for(retriever, reply.rewritten, Filters())
        _print_reply(reply, question, notes, piped, as_json)
        turns.append(Turn("assistant", reply.answer))


def _questions(piped: bool) -> Any:
    """Questions from the terminal until an empty line, or every non-empty piped line."""
    if piped:
        for line in sys.stdin:
            if line.strip():
                yield line.rstrip("\n")
        return
    while True:
        try:
            question = click.prompt("you", default="", show_default=False, prompt_suffix="> ")
        except (EOFError, click.Abort):
            return
        if not question.strip():
            return
        yield question


def _print_reply(reply: Any, question: str, notes: list[str], piped: bool, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({**chat_dict(reply), "notes": notes}, ensure_ascii=False))
        return
    if piped:
        click.echo(f"Q: {question}")
    for note in notes:
        click.echo(f"Note: {note}", err=True)
    if reply.rewritten != question:
        click.echo(f"(searched: {reply.rewritten})")
    click.echo(f"\n{reply.answer}\n")
    for n, hit in enumerate(reply.result.hits[: reply.citations], 1):
        c = hit.chunk
        click.echo(
            f"  [{n}] {hit.document.metadata.force} – {' > '.join(c.section)}"
            f" ({c.source}, chars {c.start}-{c.end})"
        )
    click.echo("")


@cli.command("compare", epilog=EXITS)
@click.argument("question")
@click.option("--force", multiple=True, help="Only these forces (default: every force).")
@click.option("--per-force", type=click.IntRange(1, LIMITS.per_force), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the HTTP compare reply).")
@index_option
def compare_cmd(
    question: str, force: tuple[str, ...], per_force: int, as_json: bool, index_dir: Path | None
) -> None:
    """Answer one question force by force: a cited passage or "no relevant passage" each.

    \b
    Examples:
      qa compare "how do forces handle missing children?"
      qa compare "appropriate adults in custody" --force Kent --force Lancs --per-force 2
      qa compare "voice of the child" --json
    """
    try:
        check_question(question, "QUESTION")
        check_count("--force", len(force), LIMITS.filter_values, "filter_values")
        forces = list(forces_of(force, "--force"))
    except InputError as exc:
        fail(str(exc))
    settings = _settings(index_dir=index_dir)
    with clean_errors():
        result = compare_core(open_retriever(settings), question, forces or None, per_force)
    if as_json:
        click.echo(json.dumps(comparison_dict(result), ensure_ascii=False, indent=2))
        return
    for f in result.forces:
        click.echo(f"\n## {f.force}: {f.status}")
        for hit in f.hits:
            c = hit.chunk
            text = c.text
            if hit.highlights:
                a, b = hit.highlights[0]
                text = c.text[a:b]
            click.echo(
                f"   {' > '.join(c.section)}\n   {text}\n   ({c.source}, chars {c.start}-{c.end})"
            )


@cli.command("cite", epilog=EXITS)
@click.argument("quote")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the HTTP cite reply).")
@index_option
def cite_cmd(quote: str, as_json: bool, index_dir: Path | None) -> None:
    """Where a quote (verbatim or nearly) comes from: report, section, exact offsets.

    A QUOTE may be 5,000 characters (the HTTP API's limit too).

    \b
    Examples:
      qa cite "Fewer children are arrested and detained in custody"
      qa cite "$(pbpaste)" --json
    """
    from ..answer.cite import QuoteLocator
    from ..answer.quote_text import render_diff
    from ..index.current import load_search_index

    try:
        check_text("QUOTE", quote, LIMITS.quote_chars, "quote_chars")
    except InputError as exc:
        fail(str(exc))
    settings = _settings(index_dir=index_dir)
    with clean_errors():
        index = load_search_index(settings)
        result = QuoteLocator(index.documents, index.chunks).locate(quote)
    if as_json:
        click.echo(json.dumps(cite_result_dict(result), ensure_ascii=False, indent=2))
        return
    if result.status == "not_found":
        click.echo(f"Not found: {result.message}")
        if result.matches:
            click.echo("Closest passages (not matches):")
    for m in result.matches:
        click.echo(f"{m.status} ({m.similarity:.2f}): {m.source} chars {m.char_start}-{m.char_end}")
        # closest passages show plain: nearly every word differs, so a diff says little
        near = m.diff if m.status == "near" else None
        text = m.text if near is None else render_diff(quote, m.text, near)
        click.echo(f"  {m.force} – {' > '.join(m.section)}\n  {text}")
    if any(m.status == "near" and m.diff for m in result.matches):
        click.echo("[-quote words-]{+report words+} mark where the quote differs.")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@index_option
def serve_cmd(host: str, port: int, index_dir: Path | None) -> None:
    """Serve the HTTP API and the web page (OpenAPI at /docs).

    SIGTERM or Ctrl-C stops it gracefully: requests in flight finish (up to
    QA_SHUTDOWN_TIMEOUT_S), then it exits 0.

    \b
    Examples:
      qa serve
      qa serve --host 127.0.0.1 --port 8080
      QA_REQUEST_READ_TIMEOUT_S=5 qa serve
    """
    from ..api import create_app
    from ..api.server import serve

    settings = _settings(index_dir=index_dir)
    app = create_app(settings)
    click.echo(f"Serving on http://{host}:{port}/ (API docs at /docs)", err=True)
    status = serve(app, settings, host, port)
    if status:
        sys.exit(status)
