"""``qa recommendations``: the recommendation tracker."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..answer.recommendations import AREAS
from ..answer.tracker import VERDICTS, build_tracker, counts, csv_text, filter_rows, row_dict
from ..search.inputs import InputError, forces_of
from . import _settings, clean_errors, cli, fail, index_option

EXITS = "Exit codes: 0 done, 1 internal error, 2 bad input or index."


def _choice(field: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    wanted = " ".join(value.replace("-", " ").replace("_", " ").split()).lower()
    if wanted not in allowed:
        fail(f"{field}: {value!r} is not one of: {', '.join(allowed)}")
    return wanted


@cli.command("recommendations", epilog=EXITS)
@click.option("--force", help="Only this force's (official or short name, any case).")
@click.option("--area", help=f"Only this area of practice: {', '.join(AREAS)}.")
@click.option("--verdict", help=f"Only this verdict: {', '.join(VERDICTS)}.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (the HTTP reply).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (the HTTP .csv download).")
@index_option
def recommendations_cmd(
    force: str | None,
    area: str | None,
    verdict: str | None,
    as_json: bool,
    as_csv: bool,
    index_dir: Path | None,
) -> None:
    """Recommendation tracker: each recommendation an inspection made and the
    post-inspection review's verdict on it (met, partly met, not met, or not reviewed
    when the corpus has no review), read from the review's summary of findings.

    \b
    Examples:
      qa recommendations
      qa recommendations --force Kent
      qa recommendations --area "police detention" --verdict "not met"
      qa recommendations --csv > recommendations.csv
      qa recommendations --force Lincolnshire --json
    """
    from ..index.current import load_search_index

    if as_json and as_csv:
        fail("--json and --csv: choose one")
    try:
        official = forces_of([force], "--force")[0] if force is not None else None
    except InputError as exc:
        fail(str(exc))
    wanted_area = _choice("--area", area, AREAS)
    wanted_verdict = _choice("--verdict", verdict, VERDICTS)
    settings = _settings(index_dir=index_dir)
    with clean_errors():
        index = load_search_index(settings)
        rows = filter_rows(
            build_tracker(index.documents.values()), official, wanted_area, wanted_verdict
        )
    if as_csv:
        click.echo(csv_text(rows), nl=False)
        return
    if as_json:
        body = {
            "recommendations": [row_dict(r) for r in rows],
            "areas": list(AREAS),
            "verdicts": list(VERDICTS),
            "counts": counts(rows),
        }
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No recommendation matches.", err=True)
        return
    for r in rows:
        rec = r.recommendation
        click.echo(f"{r.force} #{r.number} [{r.area}] {r.verdict.upper()}")
        click.echo(f"  Recommendation ({rec.source}): {' '.join(rec.clean_text.split())}")
        if r.summary_text:
            click.echo(f"  Review finding: {' '.join(r.summary_text.split())}")
            cues = "; ".join(f"{f.cls}: {f.cue}" for f in r.findings if f.cue)
            click.echo(f"  Deciding words: {cues}")
        click.echo()
    c = counts(rows)
    click.echo(", ".join(f"{n} {v}" for v, n in c.items()))
