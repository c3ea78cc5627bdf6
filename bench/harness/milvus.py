"""The Milvus store (QA_STORE=milvus) for a benchmark: settings pointing at a Milvus Lite
folder, publishing a built generation into it as `qa index` does, and what it holds on disk.

A Milvus Lite folder is opened by one process at a time and stays locked until that process
exits, so a benchmark publishes in one process and opens the index to search in another.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.corpus import folder_bytes


def milvus_settings(index_dir: Path, db: Path, **overrides: Any) -> Any:
    """Settings for the Milvus store in the Lite folder ``db``, ``index_dir`` being the
    staging area (generations built there, and the ONNX export a reader encodes with)."""
    from qa_service.settings import Settings

    return Settings(index_dir=index_dir, store="milvus", milvus_uri=str(db), **overrides)


def publish_generation(index_dir: Path, generation: Path, db: Path) -> float:
    """Publish a built local generation into the Lite folder ``db``; wall seconds.

    ``indexer.index_documents`` does exactly this after its local publication when
    QA_STORE=milvus: copy into three new collections, flush, index, load, switch the alias.
    """
    from qa_service.index import milvus_store

    t = time.perf_counter()
    milvus_store.publish(milvus_settings(index_dir, db), generation)
    return time.perf_counter() - t


def lite_bytes(db: Path) -> int:
    """Bytes of a Milvus Lite folder (its segments, write-ahead log and index files)."""
    return folder_bytes(db) if db.exists() else 0


def extrapolated(rows: list[dict[str, Any]], reports: int, key: str) -> float | None:
    """``key`` at ``reports``, on the line through the two largest measured synthetic sizes
    (None with fewer than two)."""
    done = sorted((r for r in rows if not r.get("real") and key in r), key=lambda r: r["reports"])
    if len(done) < 2:
        return None
    a, b = done[-2], done[-1]
    slope = (b[key] - a[key]) / (b["reports"] - a["reports"])
    return float(b[key] + slope * (reports - b["reports"]))


def scale_md(res: dict[str, Any], stages: list[str]) -> list[str]:
    """The markdown of bench/scale.py --store milvus (scale-milvus.md)."""
    lines = [
        "# Scale benchmark on the Milvus store (Milvus Lite, synthetic corpora)",
        "",
        f"Run {res['when']} on {res['machine']} (shared with other work), `bench/scale.py"
        " --store milvus`. The synthetic corpora are those of scale.md (same recombination"
        " and seed); each generation is built locally with vectors reused by content hash"
        " (build s), then published into a fresh Milvus Lite folder by `milvus_store.publish`,"
        " which is what `qa index` does with QA_STORE=milvus after building (publish s: three"
        " collections written, flushed, indexed and loaded, the alias switched). In a fresh"
        " process the index is then opened through the normal loader with QA_STORE=milvus"
        " (load s: Milvus Lite started in-process, collections loaded, every passage, vector"
        " and sentence read back and checked, BM25 built, the encoder opened), warmed as the"
        " server warms, and searched in-process with the same questions as scale.md. Peak RSS"
        " of that search process includes Milvus Lite, which runs in it. Every size encodes"
        " questions with the real index's ONNX export (linked into each staging folder, as a"
        " replica is given `<index>/encoders/`); scale.md's synthetic sizes have no export in"
        " their folders and encode with PyTorch, so compare the stages other than encode"
        " between the two.",
        "",
        "| reports | passages | sentences | index | build s | publish s | build+publish peak"
        " RSS MB | Milvus Lite folder MB | staging generation MB | load s | search process"
        " peak RSS MB | search p50 ms | p95 ms | p99 ms | p50 vs four reports |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["sizes"]:
        name = f"{r['reports']} (the real corpus)" if r.get("real") else str(r["reports"])
        lines.append(
            f"| {name} | {r['passages']} | {r['sentences']} | {r['dense_kind']} |"
            f" {r.get('build_s', '-')} | {r['publish_s']} | {r['build_peak_rss_mb']} |"
            f" {r['index_bytes'] / 1e6:.0f} | {r['staging_bytes'] / 1e6:.0f} | {r['load_s']} |"
            f" {r['peak_rss_mb']} | {r['search_ms']['p50']} | {r['search_ms']['p95']} |"
            f" {r['search_ms']['p99']} | {r.get('search_p50_vs_real', '1.0')} |"
        )
    lines += [
        "",
        "The Milvus Lite folder is what the store holds; the staging generation is the local"
        " build `qa index` keeps beside it (the builder's cache for the next incremental build,"
        " not needed by a replica, which needs only `<index>/encoders/`, the ONNX export).",
        "",
        "Search p50 by stage (ms):",
        "",
        "| reports | " + " | ".join(stages) + " |",
        "|---|" + "---|" * len(stages),
    ]
    for r in res["sizes"]:
        cells = [str(r["stages_ms"].get(s, {}).get("p50", "")) for s in stages]
        lines.append(f"| {r['reports']} | " + " | ".join(cells) + " |")
    lines += ["", *res.get("notes", [])]
    return lines


def not_run_note(
    rows: list[dict[str, Any]], reports: int, max_minutes: float, max_gb: float
) -> list[str]:
    """Why a size was not run on Milvus Lite: the measured growth between the two largest
    sizes, and its time and memory extrapolated from them against the run's limits."""
    keys = ("build_s", "publish_s", "load_s", "build_peak_rss_mb", "peak_rss_mb")
    done = sorted((r for r in rows if not r.get("real")), key=lambda r: r["reports"])
    est = {k: extrapolated(rows, reports, k) for k in keys}
    if len(done) < 2 or any(v is None for v in est.values()):
        return []
    a, b = done[-2], done[-1]
    grew = ", ".join(
        f"{k} {a[k]:g} -> {b[k]:g} ({b[k] / a[k]:.1f}x)" for k in keys if a.get(k) and b.get(k)
    )
    minutes = sum(est[k] or 0.0 for k in keys[:3]) / 60
    gb = max(est[k] or 0.0 for k in keys[3:]) / 1024
    over = minutes > max_minutes or gb > max_gb
    return [
        f"**{reports:,} reports were not run on Milvus Lite.** Measured from"
        f" {a['reports']:,} to {b['reports']:,} reports ({b['reports'] / a['reports']:g}x):"
        f" {grew}. Extrapolated linearly from those two runs (**not measured**; a lower bound"
        " where the growth is faster than linear, as the load's is): build"
        f" {est['build_s'] or 0:.0f} s + publish {est['publish_s'] or 0:.0f} s + load"
        f" {est['load_s'] or 0:.0f} s = {minutes:.0f} min, build peak RSS"
        f" {(est['build_peak_rss_mb'] or 0) / 1024:.0f} GB, search process peak RSS"
        f" {(est['peak_rss_mb'] or 0) / 1024:.0f} GB, against the {max_minutes:.0f} min and"
        f" {max_gb:.0f} GB this run was held to on 2 shared cores"
        f" ({'over' if over else 'within'} them).",
        "",
        "Why Lite grows this way (milvus-lite 3.2.2, a pure-Python engine running inside the"
        " reading process): it answers each query by assembling every row and vector of the"
        " collection before applying the filter (`milvus_lite/search/assembler.py`), so reading"
        " a generation back in pages of 4,096 rows by primary-key range costs about the square"
        " of its size in time and holds a full copy of the vectors per page in memory; and its"
        " HNSW search (the dense stage above 50,000 passages) runs in Python in the same"
        " process. A Milvus server or cluster answers range queries and searches from its own"
        " indexes, out of the reader's process; these figures do not describe it.",
    ]
