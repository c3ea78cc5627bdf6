"""``qa chat``, ``qa compare``, ``qa cite`` and ``qa serve``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..chat import Turn
from ..chat import answer as chat_answer
from ..compare import compare as compare_core
from ..forces import find_forces
from ..passages import cite_result_dict, comparison_dict
from ..service import open_retriever
from . import _settings, clean_errors, cli, fail, index_option


@cli.command("chat")
@click.option("--top-k", type=click.IntRange(1, 20), default=5, show_default=True)
@index_option
def chat_cmd(top_k: int, index_dir: Path | None) -> None:
    """Ask questions in a conversation; follow-ups ("and Kent?") use what came before."""
    settings = _settings(index_dir=index_dir)
    with clean_errors():
        retriever = open_retriever(settings)
    turns: list[Turn] = []
    click.echo("Ask a question (empty line or Ctrl-D to stop).")
    while True:
        try:
            question = click.prompt("you", default="", show_default=False, prompt_suffix="> ")
        except (EOFError, click.Abort):
            break
        if not question.strip():
            break
        turns.append(Turn("user", question))
        with clean_errors():
            reply = chat_answer(retriever, turns, top_k=top_k)
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
        turns.append(Turn("assistant", reply.answer))


@cli.command("compare")
@click.argument("question")
@click.option("--force", multiple=True, help="Only these forces (default: every force).")
@click.option("--per-force", type=click.IntRange(1, 5), default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@index_option
def compare_cmd(
    question: str, force: tuple[str, ...], per_force: int, as_json: bool, index_dir: Path | None
) -> None:
    """Answer one question force by force: a cited passage or "no relevant passage" each."""
    if not question.strip():
        fail("the question is empty")
    forces = []
    for name in force:
        found = find_forces(name)
        if not found:
            fail(f"--force {name!r} is not a police force of England and Wales")
        forces.append(found[0])
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


@cli.command("cite")
@click.argument("quote")
@click.option("--json", "as_json", is_flag=True)
@index_option
def cite_cmd(quote: str, as_json: bool, index_dir: Path | None) -> None:
    """Where a quote (verbatim or nearly) comes from: report, section, exact offsets."""
    from ..cite import QuoteLocator
    from ..search_index import load_search_index

    if not quote.strip():
        fail("the quote is empty")
    settings = _settings(index_dir=index_dir)
    with clean_errors():
        index = load_search_index(settings)
        result = QuoteLocator(index.documents, index.chunks).locate(quote)
    if as_json:
        click.echo(json.dumps(cite_result_dict(result), ensure_ascii=False, indent=2))
        return
    if result.status == "not_found":
        click.echo(f"Not found: {result.message}")
        return
    for m in result.matches:
        click.echo(f"{m.status} ({m.similarity:.2f}): {m.source} chars {m.char_start}-{m.char_end}")
        click.echo(f"  {m.force} – {' > '.join(m.section)}\n  {m.text}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@index_option
def serve_cmd(host: str, port: int, index_dir: Path | None) -> None:
    """Serve the HTTP API and the web page (OpenAPI at /docs).

    SIGTERM or Ctrl-C stops it gracefully: requests in flight finish (up to
    QA_SHUTDOWN_TIMEOUT_S), then it exits 0.
    """
    from ..api import create_app
    from ..api.server import serve

    settings = _settings(index_dir=index_dir)
    app = create_app(settings)
    click.echo(f"Serving on http://{host}:{port}/ (API docs at /docs)", err=True)
    status = serve(app, settings, host, port)
    if status:
        sys.exit(status)
