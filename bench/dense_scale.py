"""Flat (exact) vs HNSW (approximate) FAISS search as the passage count grows: where the
switch to an approximate index pays. Writes bench/results/dense_scale.{json,md}.

Vectors are the real corpus's passage vectors, tiled with Gaussian noise and re-normalised, so
the distribution stays that of report passages. Run: .venv/bin/python bench/dense_scale.py [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from qa_service.dense import DenseIndex
from qa_service.search_index import load_search_index
from qa_service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors near the real ones."""
    reps = -(-n // len(base))
    v = np.tile(base, (reps, 1))[:n] + rng.normal(0, 0.05, (n, base.shape[1])).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def timed(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Wall times in ms of ``repeats`` calls."""
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    quick = "--quick" in sys.argv
    sizes = [2_000, 10_000] if quick else [10_000, 50_000, 100_000, 200_000, 400_000]
    rng = np.random.default_rng(0)
    base = load_search_index(Settings(index_dir=ROOT / "index")).dense.vectors
    queries = synthetic(base, 50, rng)
    rows = []
    for n in sizes:
        vecs = synthetic(base, n, rng)
        t = time.perf_counter()
        flat = DenseIndex.build(vecs, approx_threshold=n + 1)
        flat_build = time.perf_counter() - t
        t = time.perf_counter()
        hnsw = DenseIndex.build(vecs, approx_threshold=0)
        hnsw_build = time.perf_counter() - t
        flat_ms = [x for q in queries for x in timed(lambda q=q, f=flat: f.search(q, 100), 1)]
        # The retriever's exact path scores every passage with one matrix product (it needs all
        # scores for filtering and fusion), so that is the figure the switch is judged on.
        scan_ms = [x for q in queries for x in timed(lambda q=q, f=flat: f.all_scores(q), 1)]
        hnsw_ms = [x for q in queries for x in timed(lambda q=q, h=hnsw: h.search(q, 100), 1)]
        recall = statistics.mean(
            len(set(flat.search(q, 10)[1]) & set(hnsw.search(q, 10)[1])) / 10 for q in queries
        )
        rows.append({
            "passages": n,
            "scan_p50_ms": round(statistics.median(scan_ms), 3),
            "scan_p95_ms": round(sorted(scan_ms)[int(0.95 * len(scan_ms))], 3),
            "flat_p50_ms": round(statistics.median(flat_ms), 3),
            "flat_p95_ms": round(sorted(flat_ms)[int(0.95 * len(flat_ms))], 3),
            "hnsw_p50_ms": round(statistics.median(hnsw_ms), 3),
            "hnsw_p95_ms": round(sorted(hnsw_ms)[int(0.95 * len(hnsw_ms))], 3),
            "hnsw_recall@10": round(recall, 4),
            "flat_build_s": round(flat_build, 2),
            "hnsw_build_s": round(hnsw_build, 2),
        })
        print(rows[-1], flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    name = "dense_scale_quick" if quick else "dense_scale"
    (out / f"{name}.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["| passages | exact scan p50 ms | scan p95 ms | FAISS flat p50 ms | flat p95 ms "
             "| HNSW p50 ms | HNSW p95 ms | HNSW recall@10 | flat build s | HNSW build s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['passages']} | {r['scan_p50_ms']} | {r['scan_p95_ms']} "
              f"| {r['flat_p50_ms']} | {r['flat_p95_ms']} | {r['hnsw_p50_ms']} "
              f"| {r['hnsw_p95_ms']} | {r['hnsw_recall@10']} | {r['flat_build_s']} "
              f"| {r['hnsw_build_s']} |" for r in rows]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
