"""Evaluation on the embedded store and on the Milvus store (QA_STORE=milvus, Milvus Lite):
the same `qa eval --split test --only-final` on both, and the largest difference of any figure.

The Milvus store is filled from a copy of the embedded index's folder (its generation is
published into a Milvus Lite folder inside the copy by `qa index`, which reuses every vector),
so both evaluations read the same passages and vectors. Also times loading each store (one
`qa search`, model load included) as a rough figure.

Run: .venv/bin/python bench/milvus_vs_embedded.py [--smoke] [--index DIR] [--out DIR]
  --smoke  CI check: the first 10 test questions.
Writes milvus-vs-embedded.{json,md}. Exit status 1 if any figure differs by more than 0.01.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import harness as h

TOLERANCE = 0.01


def qa(args: list[str], **env: str) -> str:
    """Run `qa` with only the given QA_* settings; its stdout."""
    return h.run_qa(args, h.qa_env(clean=True, **env)).stdout


def figures(result: dict[str, Any]) -> dict[str, float]:
    """Every number of the final retriever's overall figures and of the answers' overall row."""
    out: dict[str, float] = {}
    overall = result["retrievers"][-1]["overall"]
    out.update({f"retrieval {k}": float(v) for k, v in overall.items() if k != "questions"})
    answers = result.get("answers", {}).get("overall", {})
    out.update(
        {f"answers {k}": float(v) for k, v in answers.items() if k != "questions" and v is not None}
    )
    return out


def main() -> None:
    """Evaluate both stores on the test split and write the comparison."""
    parser = h.arguments(__doc__)
    parser.add_argument("--index", type=Path, default=h.ROOT / "index")
    args = parser.parse_args()
    out_folder = h.out_dir(args)
    h.require_index(args.index)
    with tempfile.TemporaryDirectory(prefix="qa-milvus-") as tmp:
        some = ["--questions", str(h.questions_file(Path(tmp), 10))] if args.smoke else []
        staging = Path(tmp) / "index"
        shutil.copytree(args.index, staging, ignore=shutil.ignore_patterns("milvus.db", ".lock"))
        milvus = {"QA_STORE": "milvus", "QA_MILVUS_URI": str(Path(tmp) / "milvus.db")}
        t = time.perf_counter()
        qa(["index", "--quiet", "--index", str(staging)], **milvus)
        publish_s = time.perf_counter() - t
        runs: dict[str, dict[str, Any]] = {}
        load_s: dict[str, float] = {}
        for name, env, index in (("embedded", {}, args.index), ("milvus", milvus, staging)):
            t = time.perf_counter()
            qa(["search", "children detained overnight", "--json", "--index", str(index)], **env)
            load_s[name] = time.perf_counter() - t
            out = Path(tmp) / f"eval-{name}"
            text = qa(
                [
                    "eval",
                    "--split",
                    "test",
                    "--only-final",
                    "-q",
                    "--json",
                    "--out",
                    str(out),
                    "--index",
                    str(index),
                    *some,
                ],
                **env,
            )
            runs[name] = json.loads(text)
    a, b = figures(runs["embedded"]), figures(runs["milvus"])
    diffs = {k: abs(a[k] - b[k]) for k in a if k in b}
    worst = max(diffs.values(), default=0.0)
    report = {
        "split": "test",
        "index_version": runs["embedded"].get("index_version"),
        "embedded": a,
        "milvus": b,
        "max_abs_difference": worst,
        "tolerance": TOLERANCE,
        "publish_to_milvus_s": round(publish_s, 2),
        "qa_search_s": {k: round(v, 2) for k, v in load_s.items()},
    }
    lines = [
        "# Evaluation: embedded store vs Milvus store (test split)",
        "",
        "`bench/milvus_vs_embedded.py`: `qa eval --split test --only-final` on the embedded store"
        " and on `QA_STORE=milvus` (Milvus Lite, filled by `qa index` from a copy of the same"
        " index folder).",
        "",
        "| figure | embedded | milvus | difference |",
        "|---|---|---|---|",
        *(f"| {k} | {a[k]:.4f} | {b[k]:.4f} | {diffs[k]:.4f} |" for k in sorted(diffs)),
        "",
        f"Largest difference: {worst:.4f} (tolerance {TOLERANCE}).",
        "",
        f"`qa index` re-publishing the unchanged corpus into Milvus Lite: {publish_s:.1f} s."
        f" One `qa search` (process start, model and index load, one question): embedded"
        f" {load_s['embedded']:.1f} s, Milvus {load_s['milvus']:.1f} s (2 shared cores, rough).",
        "",
    ]
    h.write_results(out_folder, "milvus-vs-embedded", report, lines)
    if worst > TOLERANCE:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
