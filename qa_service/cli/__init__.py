"""The ``qa`` command: parse arguments, make one library call, print.

Library errors become one-line messages on stderr with exit code 2, never tracebacks.
Options can also come from ``QA_*`` environment variables (see ``Settings``). Input limits are
``settings.LIMITS``, checked by ``qa_service.search.inputs`` exactly as the HTTP API checks them.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import click

from ..index.adapted import AdaptationError
from ..index.embedding import ModelError
from ..index.indexer import BuildError, build_index
from ..index.store import IndexStoreError, load
from ..index.tokens import TokenizerError
from ..settings import Settings

_EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    AdaptationError,
    BuildError,
    IndexStoreError,
    ModelError,
    TokenizerError,
    OSError,
)


def fail(message: str) -> NoReturn:
    """Print an error message and exit with status 2."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


@contextmanager
def clean_errors() -> Iterator[None]:
    """Turn the library's expected failures into ``fail`` messages."""
    try:
        yield
    except _EXPECTED_ERRORS as exc:
        fail(str(exc))
    except (KeyboardInterrupt, SystemExit, click.exceptions.Exit, click.ClickException):
        raise
    except Exception as exc:  # a bug: still one line, no traceback unless asked for
        if os.environ.get("QA_DEBUG"):
            raise
        click.echo(
            f"Error: internal error ({type(exc).__name__}: {exc}); set QA_DEBUG=1 for details",
            err=True,
        )
        sys.exit(1)


def _settings(**overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**values)
    except Exception as exc:  # pydantic.ValidationError: bad QA_* value
        fail(f"invalid setting: {exc}")


index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Index directory (default: index/, or $QA_INDEX_DIR).",
)


# Sub-commands defined in sibling modules, imported only when named (or listed by --help):
# `qa index` then never imports the retriever, chat or evaluation code.
_LAZY_COMMANDS = {
    "search": "search",
    "chat": "conversation",
    "compare": "conversation",
    "cite": "conversation",
    "serve": "conversation",
    "eval": "evaluate",
    "tune": "evaluate",
    "fit-answers": "evaluate",
    "recommendations": "tracker",
}


class _LazyGroup(click.Group):
    """A group whose sub-commands in other modules register themselves when first needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, without importing the modules that define them."""
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module first if it has not registered yet."""
        if cmd_name not in self.commands and cmd_name in _LAZY_COMMANDS:
            importlib.import_module(f"{__name__}.{_LAZY_COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)


EXIT_CODES = """\b
Exit codes:
  0  done
  1  internal error (QA_DEBUG=1 shows the traceback), or qa eval --gate found a regression
  2  bad input (a usage error, a question over a limit or blank, a name that is no police
     force) or a missing, corrupt or incompatible index: one line on stderr, no traceback
"""


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_CODES,
)
@click.version_option(package_name="ncpi-qa")
def cli() -> None:
    """Cited-passage search over HMICFRS child protection inspection reports.

    \b
    Examples:
      qa index                                   build index/ from corpus/
      qa search "does Kent hold under-18s overnight after charge?"
      qa search --batch questions.jsonl > answers.jsonl
      printf 'custody in Kent?\\nand Lancashire?\\n' | qa chat
      qa cite "a sentence pasted from a report" --json

    Every command that prints results takes --json; `qa COMMAND --help` has examples.
    """


@cli.command("index")
@click.option(
    "--corpus",
    "corpus_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of reports (default: corpus/, or $QA_CORPUS_DIR).",
)
@index_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option(
    "--full",
    is_flag=True,
    help="Parse and embed every report again instead of reusing the current index's work.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def index_cmd(
    corpus_dir: Path | None, index_dir: Path | None, quiet: bool, full: bool, as_json: bool
) -> None:
    """Build the index from every report in the corpus folder and publish it atomically.

    Reports whose files did not change, and passages already embedded, are reused from the
    current index, so adding, editing or removing a report embeds only what is new.

    \b
    Examples:
      qa index
      qa index --corpus reports/ --index /srv/qa-index --quiet
      qa index --full --json
    """
    settings = _settings(corpus_dir=corpus_dir, index_dir=index_dir)
    with clean_errors(), _progress(quiet) as progress:
        report = build_index(settings, progress, full=full)
    for problem in report.problems:
        click.echo(f"Skipped: {problem}", err=True)
    reused = report.reused
    if as_json:
        summary = {
            "generation": report.generation,
            "reports": len(report.documents),
            "passages": len(report.chunks),
            "seconds": round(report.seconds, 2),
            "reused": reused,
            "skipped": [str(p) for p in report.problems],
        }
        click.echo(json.dumps(summary, indent=2, default=str))
        return
    click.echo(
        f"Indexed {len(report.documents)} report(s), {len(report.chunks)} passages"
        f" in {report.seconds:.1f}s -> {report.generation}"
        f" (reused {reused['documents']} unchanged report(s); embedded"
        f" {reused['passages_embedded']} passages and {reused['sentences_embedded']} sentences)"
    )


@cli.command("prepare")
@index_option
@click.option("--quiet", "-q", is_flag=True, help="Print nothing when the model is ready already.")
def prepare_cmd(index_dir: Path | None, quiet: bool) -> None:
    """Prepare the embedding model: adapt it to the reports' questions (once: the default
    model, "adapted:all-MiniLM-L6-v2", is trained from the bundled one on the dev questions,
    into models/) and export it to ONNX into the index folder's encoders/.

    The README's set-up runs this, so `qa index` and queries find the model ready (a build
    that finds none still makes it). Idempotent: a model adapted from the same questions and
    reports, and a valid export, are checked, not made again. A model that cannot be exported
    is reported, not an error: PyTorch encodes instead.

    \b
    Examples:
      qa prepare
      qa prepare --index /srv/qa-index --quiet
      QA_MODEL=bundled:all-MiniLM-L6-v2 qa prepare   # the bundled model as it is
    """
    from ..evaluation.adaptation import ensure_adapted
    from ..index.adapted import is_adapted
    from ..index.onnx_export import prepare_encoder

    settings = _settings(index_dir=index_dir)
    with clean_errors():
        if is_adapted(settings.model):
            t0 = time.perf_counter()
            with _progress(quiet) as progress:
                folder, trained = ensure_adapted(settings, progress)
            if trained:
                click.echo(f"Adapted the encoder into {folder} in {time.perf_counter() - t0:.1f}s")
        done = prepare_encoder(settings)
    if done.folder is None:
        click.echo(f"No ONNX export, PyTorch will encode: {done.reason}", err=True)
    elif done.made:
        click.echo(f"Exported the encoder to {done.folder} in {done.seconds:.1f}s")
    elif not quiet:
        click.echo(f"The encoder is ready at {done.folder} (checked in {done.seconds:.1f}s)")


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A tqdm bar on stderr per stage, counting what that stage counts (reports read and
    chunked, passages and sentences embedded)."""
    from tqdm import tqdm

    bars: list[Any] = []
    stages: list[str] = []

    def update(stage: str, done: int, total: int) -> None:
        name, unit = _stage_unit(stage)
        if not stages or stages[-1] != name:
            if bars:
                bars[-1].close()
            stages.append(name)
            bars.append(tqdm(total=total, desc=name, unit=unit, disable=quiet, file=sys.stderr))
        if unit == "report":  # the report in hand
            bars[-1].set_postfix_str(stage.split(" ", 1)[-1][:40])
        bars[-1].update(done - bars[-1].n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


def _stage_unit(stage: str) -> tuple[str, str]:
    """(bar name, unit) of a progress stage: "embedding passages" counts passages, "reading
    kent.txt" counts reports."""
    words = stage.split()
    if words and words[0] in ("embedding", "training", "mining") and len(words) > 1:
        return stage, words[1].rstrip("s")
    return (words[0] if words else stage), "report"


@cli.command("documents")
@index_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def documents_cmd(index_dir: Path | None, as_json: bool) -> None:
    """List the indexed reports with their metadata and section counts.

    \b
    Examples:
      qa documents
      qa documents --json
    """
    settings = _settings(index_dir=index_dir)
    with clean_errors():
        if settings.store == "milvus":
            from ..index.current import load_search_index

            idx: Any = load_search_index(settings)
        else:
            idx = load(settings.index_dir)
        # Inside: reports are read (and checked) here, when the store reads them on first use.
        docs = list(idx.documents.values())
        passages = Counter(c.doc_id for c in idx.chunks)
    rows: list[dict[str, Any]] = []
    for doc in docs:
        top = [s.title for s in doc.sections if s.parent is None]
        rows.append(
            {
                "doc_id": doc.doc_id,
                "source": doc.source,
                "title": doc.metadata.title,
                "force": doc.metadata.force,
                "report_type": doc.metadata.report_type,
                "published": doc.metadata.published,
                "published_from": doc.metadata.published_from,
                "inspection_dates": doc.metadata.inspection_dates,
                "inspection_year": doc.metadata.inspection_year,
                "sections": len(doc.sections),
                "top_level_sections": top,
                "passages": passages[doc.doc_id],
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['doc_id']}\n  {r['title']}")
        published = r["published"] or "not stated"
        if r["published_from"] == "review year":
            published += " (year of the review it reports; no date printed)"
        inspected = r["inspection_dates"] or r["inspection_year"] or "not stated"
        click.echo(
            f"  force: {r['force']} | type: {r['report_type']} | published: {published}"
            f" | inspected: {inspected}"
        )
        click.echo(
            f"  {r['sections']} sections ({len(r['top_level_sections'])} top level),"
            f" {r['passages']} passages"
        )


def main() -> None:
    """Entry point of the ``qa`` console script."""
    cli(prog_name="qa")


if __name__ == "__main__":  # pragma: no cover
    main()
