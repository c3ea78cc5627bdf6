"""Indexing: how long ``qa index`` takes on the four reports, and its peak memory.

Each figure is ``qa index`` in a fresh process (wall time, peak RSS from ``/usr/bin/time -v``):
- the four reports built in an empty folder (including the one-time ONNX export);
- the smallest report (as a new post-inspection review would be) added to an index of the
  other three, which ``qa index`` reuses; then ``qa index`` again with nothing changed; then
  ``qa index --full`` of the same corpus with the export present.
Adding one report at larger corpora, stage by stage: ``bench/incremental.py``; embedding speed
per encoder setting: ``bench/index_speed.py``. Writes indexing.{json,md}.

Run: .venv/bin/python bench/indexing.py [--smoke | --quick] [--out DIR]
  (full)   3 repeats of each; ~4 min.  --quick  1 repeat.
  --smoke  CI check: one report built, one added to one other.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import harness as h

MODES = {
    "full": {"builds": 3, "idle_wait_s": 120},
    "quick": {"builds": 1, "idle_wait_s": 60},
    "smoke": {"builds": 1, "idle_wait_s": 0},
}


def build(n: int, smoke: bool, tmp: Path) -> dict[str, Any]:
    """The corpus (in smoke mode its smallest report) built ``n`` times in empty folders."""
    reports = h.reports_by_size()[:1] if smoke else h.reports_by_size()
    corpus = h.corpus_of(tmp / "corpus", reports)
    runs = []
    for i in range(n):
        runs.append(h.qa_index(corpus, tmp / f"index-{i}"))
        h.log(f"build {i + 1}/{n}: {runs[-1]['wall_s']:.1f} s, {runs[-1]['peak_rss_mb']:.0f} MB")
    return {
        "corpus": [p.name for p in reports],
        "wall_s": h.stats([r["wall_s"] for r in runs]),
        "peak_rss_mb": h.stats([r["peak_rss_mb"] for r in runs], digits=1),
    }


def add_report(n: int, smoke: bool, tmp: Path) -> dict[str, Any]:
    """The smallest report added to a built index of the others; a rebuild with nothing
    changed; ``qa index --full`` of the same corpus (the encoder export present)."""
    added, *rest = h.reports_by_size()
    rest = rest[:1] if smoke else rest
    add_s, unchanged_s, full_s = [], [], []
    for i in range(n):
        corpus, index = h.corpus_of(tmp / f"add-corpus-{i}", rest), tmp / f"add-index-{i}"
        h.qa_index(corpus, index)
        h.corpus_of(corpus, [added])
        add_s.append(h.qa_index(corpus, index)["wall_s"])
        unchanged_s.append(h.qa_index(corpus, index)["wall_s"])
        full_s.append(h.qa_index(corpus, index, "--full")["wall_s"])
        h.log(
            f"add one report {i + 1}/{n}: {add_s[-1]:.1f} s; unchanged {unchanged_s[-1]:.1f} s;"
            f" --full {full_s[-1]:.1f} s"
        )
    return {
        "added": added.name,
        "to": [p.name for p in rest],
        "wall_s": h.stats(add_s),
        "unchanged_wall_s": h.stats(unchanged_s),
        "full_rebuild_wall_s": h.stats(full_s),
    }


def main() -> None:
    args, cfg, out, res = h.begin(__doc__, "indexing", MODES)
    with tempfile.TemporaryDirectory(prefix="qa-indexing-") as tmp:
        res["index_build"] = build(cfg["builds"], args.smoke, Path(tmp))
        ad = add_report(cfg["builds"], args.smoke, Path(tmp))
    # against the empty-folder build (which includes the one-time encoder export) and against
    # `qa index --full` of the same corpus with the export present
    ad["vs_full_build"] = round(ad["wall_s"]["p50"] / res["index_build"]["wall_s"]["p50"], 3)
    ad["vs_full_rebuild"] = round(ad["wall_s"]["p50"] / ad["full_rebuild_wall_s"]["p50"], 3)
    res["add_report"] = ad
    print("\n".join(write_md(res, out)))


def write_md(res: dict[str, Any], out: Path) -> list[str]:
    """indexing.{json,md}; the markdown lines."""
    b, ad, m = res["index_build"], res["add_report"], res["machine"]
    rows = [
        (
            f"build {len(b['corpus'])} report(s) in an empty folder (s; includes the one-time ONNX"
            " export)",
            b["wall_s"],
        ),
        ("  peak RSS (MB)", b["peak_rss_mb"]),
        (
            f"add one report ({ad['added']}) to an index of {len(ad['to'])} (s); "
            f"{ad['vs_full_build']}x the empty-folder build, {ad['vs_full_rebuild']}x "
            "`qa index --full`",
            ad["wall_s"],
        ),
        ("rebuild with no report changed (s)", ad["unchanged_wall_s"]),
        ("`qa index --full` of the same corpus, export present (s)", ad["full_rebuild_wall_s"]),
    ]
    lines = [
        f"# Indexing ({res['mode']} mode, {m['cpus']} CPUs, {res['generated']})",
        "",
        "`qa index` in a fresh process each time; p50 / p95 / p99 over n runs.",
        "",
        "| figure | n | p50 | p95 | p99 |",
        "|---|---|---|---|---|",
        *[
            f"| {name} | {st['n']} | {st['p50']:g} | {st['p95']:g} | {st['p99']:g} |"
            for name, st in rows
        ],
        "",
        f"Corpus: {', '.join(b['corpus'])}. Machine before the run: {m.get('before')}.",
    ]
    h.write_results(out, "indexing", res, lines)
    return lines


if __name__ == "__main__":
    main()
