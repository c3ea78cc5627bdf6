"""Dense index scale: exact scan, FAISS flat and HNSW search by number of passages, and HNSW's
recall@10 against flat: where the switch to an approximate index pays.

Vectors are the real corpus's passage vectors, tiled with Gaussian noise and re-normalised, so
the distribution stays that of report passages. Writes dense_scale.{json,md}.

Run: .venv/bin/python bench/dense_scale.py [--smoke | --quick] [--out DIR]
  (full)   10,000 to 400,000 passages; ~5 minutes.  --quick  2,000 and 10,000.
  --smoke  CI check: 2,000 passages.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import harness as h
import numpy as np

from qa_service.index.current import load_search_index
from qa_service.index.dense import DenseIndex
from qa_service.settings import Settings

SIZES = {
    "full": [10_000, 50_000, 100_000, 200_000, 400_000],
    "quick": [2_000, 10_000],
    "smoke": [2_000],
}


def synthetic(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors near the real ones."""
    reps = -(-n // len(base))
    v = np.tile(base, (reps, 1))[:n] + rng.normal(0, 0.05, (n, base.shape[1])).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def main() -> None:
    args = h.arguments(__doc__, quick=True).parse_args()
    out, sizes = h.out_dir(args), SIZES[h.mode_of(args)]
    rng = np.random.default_rng(0)
    base = load_search_index(Settings(index_dir=h.require_index())).dense.vectors
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
        flat_ms = [x for q in queries for x in h.time_ms(lambda q=q, f=flat: f.search(q, 100))]
        # The retriever's exact path scores every passage with one matrix product (it needs all
        # scores for filtering and fusion), so that is the figure the switch is judged on.
        scan_ms = [x for q in queries for x in h.time_ms(lambda q=q, f=flat: f.all_scores(q))]
        hnsw_ms = [x for q in queries for x in h.time_ms(lambda q=q, h=hnsw: h.search(q, 100))]
        recall = statistics.mean(
            len(set(flat.search(q, 10)[1]) & set(hnsw.search(q, 10)[1])) / 10 for q in queries
        )
        rows.append(
            {
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
            }
        )
        h.log(str(rows[-1]))
    res = {"mode": h.mode_of(args), "when": time.strftime("%Y-%m-%d %H:%M"), "sizes": rows}
    write_md(res, out)


def write_md(res: dict[str, Any], out: Path) -> list[str]:
    """dense_scale.{json,md}; the markdown lines."""
    lines = [
        f"# Dense index by number of passages ({res['mode']} mode, {res['when']})",
        "",
        "Exact scan (every passage scored: the retriever's exact path), FAISS flat and HNSW top"
        " 100, 50 queries; HNSW recall@10 against flat.",
        "",
        "| passages | exact scan p50 ms | scan p95 ms | FAISS flat p50 ms | flat p95 ms "
        "| HNSW p50 ms | HNSW p95 ms | HNSW recall@10 | flat build s | HNSW build s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['passages']} | {r['scan_p50_ms']} | {r['scan_p95_ms']} "
        f"| {r['flat_p50_ms']} | {r['flat_p95_ms']} | {r['hnsw_p50_ms']} "
        f"| {r['hnsw_p95_ms']} | {r['hnsw_recall@10']} | {r['flat_build_s']} "
        f"| {r['hnsw_build_s']} |"
        for r in res["sizes"]
    ]
    h.write_results(out, "dense_scale", res, lines)
    return lines


if __name__ == "__main__":
    main()
