"""Plots of the benchmark results, drawn from the JSON files the runners write.

Each benchmark draws its own after writing its JSON (``bench/query_latency.py`` ->
``query-latency.png``, ``bench/load.py`` -> ``load.png``, ``bench/scale.py`` -> ``scale.png``,
``bench/incremental.py`` -> ``incremental.png``, ``bench/scale.py --store milvus`` ->
``scale-stores-p50-load-disk.png``); this script redraws every plot whose JSON is
in a results folder:

    .venv/bin/python bench/plots.py [bench/results]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

STAGES = ("understand", "encode", "dense", "lexical", "fusion", "answerable", "highlight")
OUTSIDE = "outside"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_query_latency(res: dict[str, Any], folder: Path) -> list[Path]:
    """Where a lone question's time goes: stacked stages of the HTTP figure and of the
    in-process search, beside the raw encoders (the yardsticks) and the 1.5x line."""
    plt = _pyplot()
    single = res["http_single"]
    http = single["server_stages_ms"]
    inproc = res["search_inprocess"]["uncached_ms"]
    raw = res["raw_encode_ms"]["p50"]
    # label, stage p50s, the measured total p50
    rows: list[tuple[str, dict[str, float], float]] = []
    for key, label in (
        ("raw_encode_torch_ms", "raw encode, PyTorch"),
        ("raw_encode_paced_ms", "raw encode, service's\nencoder, paced"),
        ("raw_encode_ms", "raw encode, service's\nencoder, back to back"),
    ):
        if key in res:
            rows.append((label, {"encode": res[key]["p50"]}, res[key]["p50"]))
    rows.append(
        (
            "search in-process",
            {s: inproc[s]["p50"] for s in STAGES if s in inproc},
            inproc["total"]["p50"] if "total" in inproc else 0.0,
        )
    )
    rows.append(
        (
            "search over HTTP,\n1 client",
            {**{s: http[s]["p50"] for s in STAGES if s in http}, OUTSIDE: http[OUTSIDE]["p50"]},
            single["latency_ms"]["p50"],
        )
    )
    colours = dict(zip([*STAGES, OUTSIDE], plt.get_cmap("tab10").colors, strict=False))
    fig, ax = plt.subplots(figsize=(9, 5), dpi=120)
    seen: set[str] = set()
    for y, (_label, parts, total) in enumerate(rows):
        left = 0.0
        for stage in [*STAGES, OUTSIDE]:
            width = parts.get(stage, 0.0)
            if width <= 0:
                continue
            name = "HTTP, framework, thread hop, client" if stage == OUTSIDE else stage
            ax.barh(
                y, width, left=left, color=colours[stage], label=None if stage in seen else name
            )
            seen.add(stage)
            left += width
        ax.text(left + 0.05, y, f"p50 {total or left:.2f} ms", va="center", fontsize=8)
    ax.axvline(1.5 * raw, color="black", linestyle="--", linewidth=1)
    ax.text(1.5 * raw, len(rows) - 0.45, " 1.5x back-to-back encode", fontsize=8)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in rows], fontsize=8)
    ax.set_xlim(0, max(1.5 * raw, max(sum(p.values()) for _, p, _ in rows)) * 1.2)
    ax.set_xlabel("milliseconds: each stage's p50 (so the stages sum only roughly to the total)")
    ax.set_title(f"One question, by stage ({res['generated']}, {res['machine']['cpus']} CPUs)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4)
    ax.grid(axis="x", alpha=0.3)
    return [_save(plt, fig, folder / "query-latency.png")]


def plot_load(res: dict[str, Any], folder: Path) -> list[Path]:
    """Throughput and latency by concurrent clients."""
    plt = _pyplot()
    written = []
    load = res.get("http_load") or []
    if load:
        clients = [r["clients"] for r in load]
        fig, (left_ax, right_ax) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=120)
        left_ax.plot(clients, [r["rps"] for r in load], marker="o", label="requests/s")
        left_ax.axhline(60, color="black", linestyle="--", linewidth=1)
        left_ax.text(clients[0], 62, "60 req/s target at 8 clients", fontsize=8)
        for r in load:
            if r["errors"]:
                left_ax.annotate(f"{r['errors']} errors", (r["clients"], r["rps"]), fontsize=8)
        left_ax.set_xlabel("concurrent clients")
        left_ax.set_ylabel("requests/s (0 errors unless marked)")
        left_ax.set_xticks(clients)
        left_ax.set_ylim(bottom=0)
        left_ax.grid(alpha=0.3)
        for q in ("p50", "p95", "p99"):
            right_ax.plot(clients, [r["latency_ms"][q] for r in load], marker="o", label=q)
        right_ax.set_xlabel("concurrent clients")
        right_ax.set_ylabel("latency, ms")
        right_ax.set_xticks(clients)
        right_ax.set_ylim(bottom=0)
        right_ax.grid(alpha=0.3)
        right_ax.legend(fontsize=8)
        fig.suptitle(
            f"HTTP /v1/search under load, {load[0]['seconds']:.0f} s per level", fontsize=10
        )
        written.append(_save(plt, fig, folder / "load.png"))
    return written


def plot_scale(res: dict[str, Any], folder: Path) -> list[Path]:
    """Search latency, memory and disk by corpus size (log scale)."""
    plt = _pyplot()
    sizes = res["sizes"]
    reports = [s["reports"] for s in sizes]
    fig, (lat, mem) = plt.subplots(1, 2, figsize=(9.5, 3.8), dpi=120)
    for q, style in (("p50", "o-"), ("p95", "s--"), ("p99", "^:")):
        lat.plot(reports, [s["search_ms"][q] for s in sizes], style, label=f"search {q}")
    base = sizes[0]["search_ms"]["p50"]
    lat.axhline(2 * base, color="black", linestyle="--", linewidth=1)
    lat.text(reports[0], 2 * base * 1.03, "2x the four-report p50", fontsize=8)
    for s in sizes:
        lat.annotate(
            s.get("dense_kind", ""),
            (s["reports"], s["search_ms"]["p50"]),
            textcoords="offset points",
            xytext=(0, -12),
            fontsize=7,
            ha="center",
        )
    lat.set_xscale("log")
    lat.set_xlabel("reports (synthetic above 4)")
    lat.set_ylabel("search, ms (in-process)")
    lat.set_ylim(bottom=0)
    lat.grid(alpha=0.3)
    lat.legend(fontsize=8)
    mem.plot(reports, [s["peak_rss_mb"] for s in sizes], "o-", label="search process peak RSS")
    mem.plot(reports, [s["index_bytes"] / 2**20 for s in sizes], "s--", label="index on disk")
    builds = [(s["reports"], s["build_peak_rss_mb"]) for s in sizes if "build_peak_rss_mb" in s]
    if builds:
        mem.plot(*zip(*builds, strict=True), "^:", label="build peak RSS")
    mem.set_xscale("log")
    mem.set_yscale("log")
    mem.set_xlabel("reports (synthetic above 4)")
    mem.set_ylabel("MB")
    mem.grid(alpha=0.3, which="both")
    mem.legend(fontsize=8)
    fig.suptitle(f"Scale ({res['when']}; vectors reused by content hash)", fontsize=10)
    return [_save(plt, fig, folder / "scale.png")]


def plot_scale_stores(res: dict[str, Any], folder: Path) -> list[Path]:
    """The Milvus store's scale run against the committed embedded ones, by number of
    reports: search p50, load time and disk (scale-stores-p50-load-disk.png)."""
    plt = _pyplot()
    committed = Path(__file__).resolve().parent / "results"
    series = [
        (f"embedded, float32 vectors (scale.json, {when})", rows, "o-")
        for when, rows in _scale_rows(committed / "scale.json")
    ]
    series += [
        (f"embedded, int8 vectors (scale-int8-vectors.json, {when})", rows, "s--")
        for when, rows in _scale_rows(committed / "scale-int8-vectors.json")
    ]
    series.append((f"Milvus Lite ({res['when']})", res["sizes"], "^-"))
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 3.8), dpi=120)
    panels = (
        ("search p50, ms (in-process)", lambda s: s["search_ms"]["p50"], False),
        ("load, s (fresh process)", lambda s: s["load_s"], True),
        ("index on disk, MB (Milvus: Lite folder)", lambda s: s["index_bytes"] / 2**20, True),
    )
    for ax, (label, value, log_y) in zip(axes, panels, strict=True):
        for name, rows, style in series:
            ax.plot([s["reports"] for s in rows], [value(s) for s in rows], style, label=name)
        ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.set_xlabel("reports (synthetic above 4)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3, which="both")
    top = max(s["search_ms"]["p50"] for _, rows, _ in series for s in rows)
    axes[0].set_ylim(0, top * 1.6)  # room for the legend above the lines
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Embedded store against Milvus Lite by number of reports", fontsize=10)
    return [_save(plt, fig, folder / "scale-stores-p50-load-disk.png")]


def _scale_rows(path: Path) -> list[tuple[str, list[dict[str, Any]]]]:
    """A committed scale run's (date, rows), if the file is there."""
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    return [(str(data["when"]).split(" ")[0], data["sizes"])]


def plot_incremental(res: dict[str, Any], folder: Path) -> list[Path]:
    """Adding one report against a full rebuild, at each corpus the run measured."""
    plt = _pyplot()
    embed = ("embed_passages", "embed_sentences")
    bars: list[tuple[str, float, float, float, str]] = []  # label, add, of which embed, full, how
    four = res["four"]
    full4 = four["full"].get("p50_s") or res["estimate_4"]["total_s"]
    how4 = "measured" if four["full"].get("runs") else "estimated"
    for row in four["rows"]:
        bars.append(
            (
                f"{row['added'].split('-')[0]}\nto the other 3",
                row["add_p50_s"],
                sum(row["stages_p50_s"].get(k, 0.0) for k in embed),
                full4,
                how4,
            )
        )
    if res.get("copies"):
        c = res["copies"]
        bars.append(
            (
                f"{c['added'].split('-')[0]}\nto {c['reports']} distinct",
                c["add_p50_s"],
                sum(c["stages_p50_s"].get(k, 0.0) for k in embed),
                c["full_p50_s"],
                "measured",
            )
        )
    big, est = res["synthetic"], res["estimate_n"]
    bars.append(
        (
            f"{big['added'].split('-')[0]}\nto {big['reports']} synthetic",
            big["add_p50_s"],
            sum(big["stages_p50_s"].get(k, 0.0) for k in embed),
            est["total_s"],
            "estimated",
        )
    )
    fig, ax = plt.subplots(figsize=(9, 4), dpi=120)
    xs = range(len(bars))
    ratios = [add / full for _, add, _, full, _ in bars]
    ax.bar(xs, ratios, color="tab:blue", label="add one report (whole run)")
    ax.bar(
        xs,
        [e / full for _, _, e, full, _ in bars],
        color="tab:orange",
        label="of which embedding the new report",
    )
    ax.axhline(0.1, color="black", linestyle="--", linewidth=1)
    # labelled outside the axes, right of the line, clear of the bars and their labels
    ax.text(1.005, 0.1, "1/10", transform=ax.get_yaxis_transform(), va="center", fontsize=8)
    for x, (_, add, _, full, how) in zip(xs, bars, strict=True):
        ax.text(
            x,
            add / full + 0.005,
            f"{add:.1f} s / {full:.0f} s\n({how} rebuild)",
            ha="center",
            fontsize=7,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
    ax.set_xticks(list(xs), [b[0] for b in bars], fontsize=8)
    ax.set_ylabel("time / full rebuild of the same corpus\n(dashed: a tenth)")
    ax.set_ylim(0, max(ratios) * 1.3)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"Adding one report to a built index ({res['when']})", fontsize=10)
    return [_save(plt, fig, folder / "incremental.png")]


PLOTTERS = {
    "query-latency.json": plot_query_latency,
    "load.json": plot_load,
    "scale.json": plot_scale,
    "scale-milvus.json": plot_scale_stores,
    "incremental.json": plot_incremental,
}


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parent / "results"
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 2
    drawn = 0
    for name, plot in PLOTTERS.items():
        if (folder / name).is_file():
            for path in plot(json.loads((folder / name).read_text()), folder):
                print(f"wrote {path}")
                drawn += 1
    if not drawn:
        print(f"error: no benchmark results ({', '.join(PLOTTERS)}) in {folder}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
