"""Encoder backends: ONNX Runtime against PyTorch for the embedding model.

Measures, on the built index (``index/``) and the eval questions:
- single-question encode latency p50/p95/p99 and CPU per question, per encoder, in interleaved
  rounds (a shared machine skews any one round; the table gives the medians);
- questions/s with 4 client threads encoding at once, as server threads do;
- passages/s at batch 32 over the index's passage texts;
- a cold open (fresh process to the first query vector) per backend, with peak memory;
- cosine between torch and each ONNX variant over every passage and every question;
- retrieval on the dev split: ``qa eval --split dev`` with QA_ENCODER_BACKEND=torch and =onnx,
  and the ladder in-process for every variant including int8 (no setting selects it).
Encoders: torch (2 and 1 threads), ONNX fp32 (1 and 2 intra-op threads), ONNX dynamic int8.
The defaults the figures support are computed too. Writes encoder-backends.{json,md}.
(Not bench/onnx.py: a script's folder is first on sys.path, and it would shadow onnx.)

Run: .venv/bin/python bench/encoder_backends.py [--smoke | --quick] [--out DIR]
  (full)   5 latency rounds, 3 throughput repeats over all passages; ~10 minutes on 2 cores.
  --quick  2 rounds, 1 repeat over 128 passages.
  --smoke  CI check: 1 round over 10 questions, 16 passages, fp32 only, no evaluation.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import harness as h
import numpy as np

MIN_COSINE = 0.9999
MODES = {
    "full": dict(rounds=5, repeats=3, passages=None, questions=None, int8=True, evals=True),
    "quick": dict(rounds=2, repeats=1, passages=128, questions=None, int8=True, evals=True),
    "smoke": dict(rounds=1, repeats=1, passages=16, questions=10, int8=False, evals=False),
}
TORCH2, TORCH1 = "torch, 2 threads", "torch, 1 thread"
ONNX1, ONNX2, INT8 = "onnx fp32, 1 thread", "onnx fp32, 2 threads", "onnx int8, 1 thread"


class Encoder:
    """One variant under test; torch variants set the process's torch threads before use."""

    def __init__(self, name: str, embedder: Any, torch_threads: int | None = None) -> None:
        self.name, self.embedder, self.torch_threads = name, embedder, torch_threads

    def __enter__(self) -> Any:
        if self.torch_threads is not None:
            import torch

            torch.set_num_threads(self.torch_threads)
        return self.embedder

    def __exit__(self, *exc: object) -> None:
        return None


def latency(encoders: list[Encoder], questions: list[str], rounds: int) -> dict[str, Any]:
    """Each round runs every encoder over every question (encoders interleaved per round)."""
    per: dict[str, list[dict[str, float]]] = {e.name: [] for e in encoders}
    loads = []
    for r in range(rounds):
        loads.append(h.loadavg())
        for enc in encoders:
            with enc as emb:
                for q in questions[:10]:  # warm-up
                    emb.encode([q])
                ms = []
                with h.OtherLoad() as other:
                    cpu = time.process_time()
                    for q in questions:
                        t = time.perf_counter()
                        emb.encode([q])
                        ms.append((time.perf_counter() - t) * 1000)
                    cpu_ms = (time.process_time() - cpu) * 1000 / len(questions)
            p = h.stats(ms)
            per[enc.name].append(
                {k: p[k] for k in ("p50", "p95", "p99")}
                | {"cpu_ms": round(cpu_ms, 3), "other_cpu_share": other.share}
            )
        h.log(
            f"latency round {r + 1}/{rounds}: "
            + ", ".join(f"{n} {v[-1]['p50']:.2f}" for n, v in per.items())
            + " ms p50"
        )
    out: dict[str, Any] = {"rounds": rounds, "questions": len(questions), "loadavg_1m": loads}
    for name, rows in per.items():
        out[name] = {p: h.median([row[p] for row in rows]) for p in rows[0]} | {"per_round": rows}
    return out


def concurrent(
    encoders: list[Encoder], questions: list[str], rounds: int, clients: int = 4
) -> dict[str, Any]:
    """Queries/s and p50 with ``clients`` threads encoding at once, as server threads do."""
    runs: dict[str, list[tuple[float, float]]] = {e.name: [] for e in encoders}
    for _ in range(rounds):
        for enc in encoders:
            with enc as emb:
                lat: list[float] = []

                def one(q: str, emb: Any = emb, lat: list[float] = lat) -> None:
                    t = time.perf_counter()
                    emb.encode([q])
                    lat.append((time.perf_counter() - t) * 1000)

                t0 = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    list(pool.map(one, questions))
                runs[enc.name].append((len(questions) / (time.perf_counter() - t0), h.median(lat)))
    return {"clients": clients} | {
        n: {
            "queries_per_s": h.median([r[0] for r in v], 1),
            "p50_ms": h.median([r[1] for r in v], 2),
        }
        for n, v in runs.items()
    }


def throughput(encoders: list[Encoder], texts: list[str], repeats: int) -> dict[str, Any]:
    """Passages/s at batch 32, the median of repeats (encoders interleaved per repeat)."""
    rates: dict[str, list[tuple[float, float, float]]] = {e.name: [] for e in encoders}
    for r in range(repeats):
        for enc in encoders:
            with enc as emb, h.OtherLoad() as other:
                emb.encode(texts[:8], batch_size=8)  # warm-up
                t, cpu = time.perf_counter(), time.process_time()
                emb.encode(texts, batch_size=32)
                wall, cpu = time.perf_counter() - t, time.process_time() - cpu
            rates[enc.name].append((len(texts) / wall, len(texts) / cpu, other.share))
        h.log(
            f"throughput repeat {r + 1}/{repeats}: "
            + ", ".join(f"{n} {v[-1][0]:.1f}" for n, v in rates.items())
            + " passages/s"
        )
    return {"batch_size": 32, "passages": len(texts)} | {
        n: {
            "passages_per_s": h.median([x[0] for x in v], 2),
            "passages_per_cpu_s": h.median([x[1] for x in v], 2),
            "runs": [round(x[0], 2) for x in v],
            "other_cpu_share": [x[2] for x in v],
        }
        for n, v in rates.items()
    }


def agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Min and mean cosine of paired unit vectors."""
    cos = (reference * other).sum(axis=1)
    return {"min": round(float(cos.min()), 7), "mean": round(float(cos.mean()), 7), "n": len(cos)}


def eval_in_process(index: Any, embedder: Any, settings: Any) -> dict[str, Any]:
    """Three rungs of the ``qa eval`` ladder on the dev split with this encoder for queries."""
    from qa_service.answer.retriever import Retriever
    from qa_service.answer.service import retrieval_config
    from qa_service.evaluation.retrieval import load_questions as eval_questions
    from qa_service.evaluation.retrieval import report, run_questions
    from qa_service.evaluation.tuning import ladder

    questions = eval_questions(h.QUESTIONS, "dev")
    retriever = Retriever(index, embedder, retrieval_config(settings))
    rows = {}
    for name, cfg in ladder(retriever.config):
        if name in ("dense", "hybrid", "+ query expansion (full)"):
            r = report(name, run_questions(retriever, questions, cfg))
            rows[name] = {m: r.overall[m] for m in ("recall@5", "mrr@10", "ndcg@10")}
            # the no-answer check compares similarities with a tuned threshold
            rows[name].update(none_flagged=r.none_flagged, answerable_flagged=r.answerable_flagged)
    return rows


def eval_cli(backend: str, index_dir: Path, tmp: Path) -> dict[str, Any]:
    """``qa eval --split dev --only-final`` in a fresh process with QA_ENCODER_BACKEND set."""
    out = tmp / f"eval-{backend}"
    t = time.perf_counter()
    args = ["eval", *"--split dev --only-final --quiet".split(), "--out", str(out)]
    proc = h.run_qa([*args, "--index", str(index_dir)], h.qa_env(QA_ENCODER_BACKEND=backend))
    data = json.loads((out / "dev.json").read_text())
    final = next(r for r in data["retrievers"] if r["name"] == data["final"])
    return {m: final["overall"][m] for m in ("recall@5", "mrr@10", "ndcg@10")} | {
        "seconds": round(time.perf_counter() - t, 1),
        "fell_back_to_torch": "ONNX encoder not used" in proc.stderr,
    }


# Peak RSS from VmHWM: ru_maxrss would carry over the (large) parent's through fork + exec.
OPEN_SNIPPET = """
import re, sys, time
from pathlib import Path
t = time.perf_counter()
from qa_service.answer.service import open_retriever
from qa_service.settings import Settings
r = open_retriever(Settings(index_dir=sys.argv[1]))
r.encode("first question")
seconds = time.perf_counter() - t
hwm = int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))
print(seconds, hwm / 1024, "torch" in sys.modules, getattr(r.embedder, "backend", "torch"))
"""


def cold_open(index_dir: Path, repeats: int) -> dict[str, Any]:
    """A fresh process: import, ``open_retriever`` and the first query encode, per backend."""
    runs: dict[str, list[list[str]]] = {"torch": [], "onnx": []}
    for _ in range(repeats):
        for backend, rows in runs.items():
            env = h.qa_env(QA_ENCODER_BACKEND=backend)
            cmd = [sys.executable, "-c", OPEN_SNIPPET, str(index_dir)]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
            proc.check_returncode()
            rows.append(proc.stdout.split())
    return {
        b: {
            "seconds": h.median([float(r[0]) for r in rows], 2),
            "peak_rss_mb": h.median([float(r[1]) for r in rows], 1),
            "torch_imported": rows[0][2] == "True",
            "backend_used": rows[0][3],
            "runs": [round(float(r[0]), 2) for r in rows],
        }
        for b, rows in runs.items()
    }


def decide(res: dict[str, Any]) -> dict[str, Any]:
    """The defaults these figures support, with the reasons.

    fp32 ONNX for queries if its p50 beats torch's faster thread setting, its min cosine is
    >= 0.9999 and dev R@5/MRR@10 do not drop; two ONNX threads unless measurably worse (a lone
    query more than 10% slower, or 15% fewer queries/s with concurrent clients); int8 only if
    no dev row drops and its cosine meets the same bar.
    """
    lat, thr, cos = res["latency_ms"], res["throughput"], res["cosine_vs_torch"]
    ev, cli, conc = res["eval_dev_in_process"], res["eval_dev_cli"], res["concurrent"]
    metrics = ("recall@5", "mrr@10")
    torch_name = min((TORCH2, TORCH1), key=lambda n: lat[n]["p50"])
    one, two = lat[ONNX1], lat[ONNX2]
    qps1, qps2 = conc[ONNX1]["queries_per_s"], conc[ONNX2]["queries_per_s"]
    threads = 2 if two["p50"] <= 1.1 * one["p50"] and qps2 >= 0.85 * qps1 else 1
    fp32, tl = (one if threads == 1 else two), lat[torch_name]
    fp32_cos = min(cos["onnx fp32"]["passages"]["min"], cos["onnx fp32"]["questions"]["min"])
    same_eval = all(cli["onnx"][m] >= cli["torch"][m] for m in metrics) and not any(
        v["fell_back_to_torch"] for v in cli.values()
    )
    fp32_ok = fp32["p50"] < tl["p50"] and fp32_cos >= MIN_COSINE and same_eval
    reasons = [
        f"fp32 ONNX ({threads} thread{'s' * (threads > 1)}): p50 {fp32['p50']} ms, p99"
        f" {fp32['p99']} ms, CPU {fp32['cpu_ms']} ms per query, against the faster torch setting"
        f" ({torch_name}): p50 {tl['p50']} ms, p99 {tl['p99']} ms, CPU {tl['cpu_ms']} ms; min"
        f" cosine to torch {fp32_cos}; dev R@5/MRR@10 {cli['onnx']['recall@5']}/"
        f"{cli['onnx']['mrr@10']} vs torch {cli['torch']['recall@5']}/{cli['torch']['mrr@10']}.",
        f"Threads: alone, 1 thread p50 {one['p50']} ms, 2 threads {two['p50']} ms; with"
        f" {conc['clients']} concurrent clients, 1 thread {qps1} queries/s, 2 threads {qps2}"
        f" (torch, 2 threads: {conc[TORCH2]['queries_per_s']}).",
    ]
    int8_ok = False
    if "onnx int8" in ev:
        drops = [
            f"{row} {m} {ev['onnx int8'][row][m]} < {ev['torch'][row][m]}"
            for row in ev["torch"]
            for m in metrics
            if ev["onnx int8"][row][m] < ev["torch"][row][m]
        ]
        i8 = cos["onnx int8"]["passages"]
        int8_ok = not drops and i8["min"] >= MIN_COSINE
        reasons.append(
            f"int8: p50 {lat[INT8]['p50']} ms, but min cosine to"
            f" torch {i8['min']} (mean {i8['mean']}) and on dev: "
            + ("; ".join(drops) or "no drop")
            + (" -> kept." if int8_ok else " -> not used.")
        )
    t_onnx = max(thr[n]["passages_per_s"] for n in (ONNX1, ONNX2))
    t_torch = max(thr[n]["passages_per_s"] for n in (TORCH2, TORCH1))
    return {
        "encoder_backend": "onnx" if fp32_ok else "torch",
        "onnx_threads": threads,
        "index_backend": "torch" if t_torch >= t_onnx else "onnx",
        "fp32_faster_and_equal": fp32_ok,
        "int8": int8_ok,
        "reasons": reasons,
    }


def main() -> None:
    ap = h.arguments(__doc__, quick=True)
    ap.add_argument("--index", type=Path, default=h.ROOT / "index")
    args = ap.parse_args()
    mode, out = h.mode_of(args), h.out_dir(args)
    cfg = MODES[mode]
    from qa_service.index.current import load_search_index
    from qa_service.index.embedding import SentenceTransformerEmbedder as Torch
    from qa_service.index.onnx_encoder import OnnxEmbedder
    from qa_service.index.onnx_export import export_encoder
    from qa_service.index.onnx_files import MODEL_FILE, SIDECAR, encoders_root
    from qa_service.settings import Settings

    settings = Settings(index_dir=h.require_index(args.index), corpus_dir=h.ROOT / "corpus")
    started, load0 = time.strftime("%Y-%m-%d %H:%M:%S"), h.loadavg()
    res: dict[str, Any] = {
        "mode": mode,
        "started": started,
        "cpus": os.cpu_count(),
        "loadavg_1m_start": load0,
    }
    index = load_search_index(settings)
    passages = [c.embed_text for c in index.chunks]
    questions = h.load_questions(cfg["questions"])
    res["index"] = {"version": index.version, "passages": len(index.chunks)}
    t = time.perf_counter()
    fp32 = export_encoder(settings.model, encoders_root(settings.index_dir))
    versions = json.loads((fp32 / SIDECAR).read_text()).get("versions", {})
    mb = round((fp32 / MODEL_FILE).stat().st_size / 2**20, 1)
    res["export"] = {"seconds": round(time.perf_counter() - t, 1), "folder": fp32.name}
    res["export"].update(model_mb=mb, **versions)
    tmp = Path(tempfile.mkdtemp(prefix="qa-encoders-"))
    try:
        name, where = settings.model, settings.models_dir
        encoders = [
            Encoder(TORCH2, Torch(name, models_dir=where).load(), 2),
            Encoder(TORCH1, Torch(name, models_dir=where).load(), 1),
            Encoder(ONNX1, OnnxEmbedder(name, folder=fp32, threads=1, models_dir=where).load()),
            Encoder(ONNX2, OnnxEmbedder(name, folder=fp32, threads=2, models_dir=where).load()),
        ]
        if cfg["int8"]:
            int8 = h.int8_folder(fp32, tmp / "int8")
            onnx8 = OnnxEmbedder(name, folder=int8, threads=1, models_dir=where)
            encoders.append(Encoder(INT8, onnx8.load()))
            res["int8"] = {"model_mb": round((int8 / MODEL_FILE).stat().st_size / 2**20, 1)}
        by_name = {e.name: e.embedder for e in encoders}
        res["latency_ms"] = latency(encoders, questions, cfg["rounds"])
        some = [e for e in encoders if e.name in (TORCH2, ONNX1, ONNX2)]
        res["concurrent"] = concurrent(some, questions, cfg["repeats"])
        res["throughput"] = throughput(encoders, passages[: cfg["passages"]], cfg["repeats"])
        smoke_cut = cfg["passages"] if mode == "smoke" else None
        res["cosine_vs_torch"] = cosines(by_name, passages[:smoke_cut], questions)
        res["cold_open"] = cold_open(settings.index_dir, cfg["repeats"])
        if cfg["evals"]:
            h.log("retrieval on dev, in-process and with the qa eval CLI")
            labels = {TORCH2: "torch", ONNX1: "onnx fp32", INT8: "onnx int8"}
            res["eval_dev_in_process"] = {
                label: eval_in_process(index, by_name[name], settings)
                for name, label in labels.items()
                if name in by_name
            }
            res["eval_dev_cli"] = {
                b: eval_cli(b, settings.index_dir, tmp) for b in ("torch", "onnx")
            }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["loadavg_1m_end"] = h.loadavg()
    if cfg["evals"]:
        res["decision"] = decide(res)
    write_md(res, out)


def cosines(by_name: dict[str, Any], passages: list[str], questions: list[str]) -> dict[str, Any]:
    """Agreement of each ONNX variant's vectors with torch's, over passages and questions."""

    def vectors(embedder: Any) -> tuple[np.ndarray, np.ndarray]:
        return embedder.encode(passages), np.vstack([embedder.encode([q]) for q in questions])

    ref_p, ref_q = vectors(by_name[TORCH2])
    out = {}
    for name, label in ((ONNX1, "onnx fp32"), (INT8, "onnx int8")):
        if name in by_name:
            p, q = vectors(by_name[name])
            out[label] = {"passages": agreement(ref_p, p), "questions": agreement(ref_q, q)}
    return out


def _speed_md(res: dict[str, Any]) -> list[str]:
    """The latency, throughput, concurrency and cold-open tables."""
    lat, thr, conc = res["latency_ms"], res["throughput"], res["concurrent"]
    share = "{:.0%}".format

    def rounds(v: dict[str, Any], key: str) -> str:
        if key == "p50":
            return ", ".join(f"{r['p50']:.1f}" for r in v["per_round"])
        return ", ".join(share(r["other_cpu_share"]) for r in v["per_round"])

    lat_rows = [
        (n, v["p50"], v["p95"], v["p99"], v["cpu_ms"], rounds(v, "p50"), rounds(v, "other"))
        for n, v in lat.items()
        if isinstance(v, dict) and "p50" in v
    ]

    def others(v: dict[str, Any]) -> str:
        return ", ".join(share(x) for x in v["other_cpu_share"])

    thr_rows = [
        (n, v["passages_per_s"], v["passages_per_cpu_s"], v["runs"], others(v))
        for n, v in thr.items()
        if isinstance(v, dict)
    ]
    keys = ("seconds", "peak_rss_mb", "torch_imported", "runs")
    cold = [
        (f"{b} ({v['backend_used']})", *(v[k] for k in keys)) for b, v in res["cold_open"].items()
    ]
    return [
        f"## Single-query encode latency ({lat['questions']} eval questions, ms)",
        "",
        *h.md_table(LAT_HEADER, lat_rows),
        "",
        f"## Throughput (batch {thr['batch_size']}, {thr['passages']} real passages)",
        "",
        *h.md_table(THR_HEADER, thr_rows),
        "",
        f"## {conc['clients']} concurrent clients (threads of one process, every eval question"
        " once)",
        "",
        *h.md_table(
            ["encoder", "queries/s", "p50 ms"],
            [(n, v["queries_per_s"], v["p50_ms"]) for n, v in conc.items() if isinstance(v, dict)],
        ),
        "",
        "## Cold open (fresh process: imports, `open_retriever`, first query vector)",
        "",
        *h.md_table(["backend", "seconds", "peak RSS MB", "torch imported", "runs (s)"], cold),
    ]


LAT_HEADER = ["encoder", "p50", "p95", "p99", "CPU ms per query", "p50 per round"]
LAT_HEADER.append("other load per round")
THR_HEADER = ["encoder", "passages/s", "passages per CPU-second", "runs (passages/s)"]
THR_HEADER.append("other load")
LADDER_KEYS = ("recall@5", "mrr@10", "ndcg@10", "none_flagged", "answerable_flagged")
EVAL_HEADER = ["query encoder", "retriever", "R@5", "MRR@10", "nDCG@10", "none flagged"]
EVAL_HEADER.append("answerable flagged")


def _agreement_md(res: dict[str, Any]) -> list[str]:
    """The cosine table and, when evaluated, the dev-split retrieval tables."""
    cos = [
        (n, *(v[k][s] for k in ("passages", "questions") for s in ("min", "mean")))
        for n, v in res["cosine_vs_torch"].items()
    ]
    lines = [
        "## Agreement with torch (cosine per vector)",
        "",
        *h.md_table(
            ["encoder", "passages min", "passages mean", "questions min", "questions mean"], cos
        ),
    ]
    if "eval_dev_cli" not in res:
        return lines
    cli = [
        (n, v["recall@5"], v["mrr@10"], v["ndcg@10"], v["fell_back_to_torch"])
        for n, v in res["eval_dev_cli"].items()
    ]
    ladder = [
        (enc, name, *(m[k] for k in LADDER_KEYS))
        for enc, rows in res["eval_dev_in_process"].items()
        for name, m in rows.items()
    ]
    return [
        *lines,
        "",
        "## Retrieval, dev split",
        "",
        "`qa eval --split dev --only-final` (CLI, QA_ENCODER_BACKEND):",
        "",
        *h.md_table(["backend", "R@5", "MRR@10", "nDCG@10", "fell back to torch"], cli),
        "",
        "In-process, same ladder as `qa eval` (query encoder varies, index as built):",
        "",
        *h.md_table(EVAL_HEADER, ladder),
    ]


def _decision_md(res: dict[str, Any]) -> list[str]:
    """The decision computed from the figures."""
    lines = []
    if d := res.get("decision"):
        lines += [
            "",
            "## Decision (computed from the figures above)",
            "",
            "The batch figure below is for fixed batches of 32 texts, as this benchmark measures"
            " them; `qa index` embeds with ONNX in batches cut by a token budget, which is faster"
            " ([index-speed.md](index-speed.md)).",
            "",
            f"- `encoder_backend` default: **{d['encoder_backend']}** (fp32 ONNX faster than"
            f" torch at p50, min cosine >= {MIN_COSINE} and dev R@5/MRR@10 not lower:"
            f" {d['fp32_faster_and_equal']}).",
            f"- `onnx_threads` default: **{d['onnx_threads']}**.",
            f"- Faster at fixed batches of 32 texts: **{d['index_backend']}**.",
            f"- int8 dynamic quantisation: {'used' if d['int8'] else 'not used'}.",
            "",
            *[f"- {r}" for r in d["reasons"]],
        ]
    return lines


def write_md(res: dict[str, Any], out: Path) -> list[str]:
    """encoder-backends.{json,md}; the markdown lines."""
    ex, loads = res["export"], res["latency_ms"]["loadavg_1m"]
    lines = [
        f"# Encoder backends: ONNX Runtime against PyTorch ({res['mode']} mode, {res['cpus']}"
        f" CPUs, {res['started']})",
        "",
        f"Index {res['index']['version']} ({res['index']['passages']} passages); export"
        f" {ex['model_mb']} MB fp32 (torch {ex.get('torch')}, onnx {ex.get('onnx')}, onnxscript"
        f" {ex.get('onnxscript')}).",
        f"1-minute load average per latency round: {loads} (shared machine: every figure is the"
        " median over rounds; encoders interleaved within each round).",
        "",
        *_speed_md(res),
        "",
        *_agreement_md(res),
        *_decision_md(res),
        *(["", "Notes:", "", *[f"- {n}" for n in res["notes"]]] if res.get("notes") else []),
    ]
    h.write_results(out, "encoder-backends", res, lines)
    return lines


if __name__ == "__main__":
    sys.exit(main())
