"""ONNX Runtime vs PyTorch for the embedding model: latency, throughput, agreement, retrieval.

Measures, on the real index (``index/``) and eval questions:
- single-query encode latency p50/p95/p99 over every eval question, per encoder, in
  interleaved rounds (a shared machine skews any one round; the table gives the medians);
- passages/s at batch 32 over the index's real passage texts (median of repeats);
- a cold open (fresh process to the first query vector) per backend, with peak memory;
- cosine between torch and each ONNX variant over every passage and every question;
- retrieval on the dev split: ``qa eval --split dev`` with QA_ENCODER_BACKEND=torch and =onnx
  (the CLI path, default settings), and the ladder in-process for every variant including the
  int8 one (no setting selects it);
- ``qa index --full`` per backend (the first ONNX build includes the one-time export).
Encoders: torch (2 and 1 threads), ONNX fp32 (1 and 2 intra-op threads), ONNX dynamic int8.
Writes ``<out>/onnx.json`` and ``<out>/onnx.md``. (Not named onnx.py: a script's folder comes
first on sys.path, and bench/onnx.py would shadow the onnx package for every bench script.)

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/encoder_backends.py [--quick] [--out DIR]
  (full) 5 latency rounds, 3 throughput repeats over all passages; ~10 minutes on 2 cores.
  --quick 2 rounds, 1 repeat over 128 passages, no index builds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from qa_service.embedding import SentenceTransformerEmbedder
from qa_service.evaluation import load_questions, report, run_questions
from qa_service.onnx_encoder import (
    MODEL_FILE,
    SIDECAR,
    TOKENIZER_FILE,
    OnnxEmbedder,
    encoders_root,
    sha256_file,
)
from qa_service.onnx_export import export_encoder
from qa_service.retriever import Retriever
from qa_service.search_index import load_search_index
from qa_service.service import retrieval_config
from qa_service.settings import Settings
from qa_service.tuning import ladder

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "questions.jsonl"
QA = ROOT / ".venv" / "bin" / "qa"
MIN_COSINE = 0.9999
NOTES = """Notes:

- The machine is shared: wall times move with other jobs' load (the "other load" columns), so
  every figure is a median over interleaved rounds, and CPU time per query is given too (it
  moves much less with load than wall time does).
- torch with 2 threads degrades badly whenever the other core is busy (its OpenMP threads wait
  for each other); ONNX Runtime does not (its idle threads are set not to spin). With several
  server processes on one machine, set `QA_ONNX_THREADS=1`, as `QA_TORCH_THREADS=1` before.
- On an idle machine (quick run, 2026-11-22 15:27 and 15:31): torch 2 threads p50 8.3 ms,
  ONNX 1 thread 6.3-6.8 ms, 2 threads 5.0-5.5 ms, int8 2.1 ms; 4 concurrent clients: ONNX
  1 thread 327 queries/s, 2 threads 288, torch 107.
- int8: the vectors move away from the torch-built index's (see the cosine) and the no-answer
  threshold was tuned on torch similarities; using it would take an index embedded with int8,
  a re-tuned `answerable_threshold` and a test-split check, so it is measured, not shipped.
- `qa index` embedded passages with ONNX (1 thread) in a first version: a full build took
  43.7 s against 22.7 s with torch (2026-11-22 15:24, nearly idle machine), as the throughput
  table predicts, so batches stay on torch and the index's vectors are unchanged by this work.
  ONNX query vectors meet them at the cosine above.
"""
MODES = {
    "full": {"rounds": 5, "repeats": 3, "passages": None, "index_builds": True},
    "quick": {"rounds": 2, "repeats": 1, "passages": 128, "index_builds": False},
}


def log(msg: str) -> None:
    print(f"[onnx {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg() -> float:
    return os.getloadavg()[0]


def busy_cpu_s() -> float:
    """CPU seconds every process on the machine has used (user + system), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields) - fields[3] - fields[4]  # minus idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


class Other:
    """Share of the machine's CPUs other processes used while a block ran (0..1)."""

    def __enter__(self) -> Other:
        self.wall, self.busy, self.own = time.perf_counter(), busy_cpu_s(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.wall
        other = busy_cpu_s() - self.busy - (time.process_time() - self.own)
        self.share = round(max(0.0, other) / (wall * (os.cpu_count() or 1)), 3)


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {f"p{q}": round(float(np.percentile(a, q)), 3) for q in (50, 95, 99)}


def int8_folder(fp32: Path, dest: Path) -> Path:
    """A copy of the fp32 export whose model is dynamically quantised to int8 weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dest.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(fp32 / MODEL_FILE, dest / MODEL_FILE, weight_type=QuantType.QInt8)
    shutil.copy(fp32 / TOKENIZER_FILE, dest / TOKENIZER_FILE)
    meta = json.loads((fp32 / SIDECAR).read_text())
    meta["files"] = {n: sha256_file(dest / n) for n in (MODEL_FILE, TOKENIZER_FILE)}
    (dest / SIDECAR).write_text(json.dumps(meta, indent=1))
    return dest


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


def bench_latency(encoders: list[Encoder], questions: list[str], rounds: int) -> dict[str, Any]:
    """Each round runs every encoder over every question (encoders interleaved per round)."""
    per: dict[str, list[dict[str, float]]] = {e.name: [] for e in encoders}
    loads = []
    for r in range(rounds):
        loads.append(round(loadavg(), 2))
        for enc in encoders:
            with enc as emb:
                for q in questions[:10]:  # warm-up
                    emb.encode([q])
                ms = []
                with Other() as other:
                    cpu = time.process_time()
                    for q in questions:
                        t = time.perf_counter()
                        emb.encode([q])
                        ms.append((time.perf_counter() - t) * 1000)
                    cpu_ms = (time.process_time() - cpu) * 1000 / len(questions)
            per[enc.name].append(
                {**percentiles(ms), "cpu_ms": round(cpu_ms, 3), "other_cpu_share": other.share}
            )
        log(
            f"latency round {r + 1}/{rounds}: "
            + ", ".join(f"{n} {v[-1]['p50']:.2f}" for n, v in per.items())
            + " ms p50"
        )
    out: dict[str, Any] = {"rounds": rounds, "questions": len(questions), "loadavg_1m": loads}
    for name, rows in per.items():
        out[name] = {
            **{p: round(float(np.median([row[p] for row in rows])), 3) for p in rows[0]},
            "per_round": rows,
        }
    return out


def bench_concurrent(
    encoders: list[Encoder], questions: list[str], rounds: int, clients: int = 4
) -> dict[str, Any]:
    """Queries/s and p50 with ``clients`` threads encoding at once, as server threads do."""
    from concurrent.futures import ThreadPoolExecutor

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
                runs[enc.name].append((len(questions) / (time.perf_counter() - t0), np.median(lat)))
    return {
        "clients": clients,
        **{
            n: {
                "queries_per_s": round(float(np.median([r[0] for r in v])), 1),
                "p50_ms": round(float(np.median([r[1] for r in v])), 2),
            }
            for n, v in runs.items()
        },
    }


def bench_throughput(encoders: list[Encoder], texts: list[str], repeats: int) -> dict[str, Any]:
    """Passages/s at batch 32, the median of repeats (encoders interleaved per repeat)."""
    rates: dict[str, list[float]] = {e.name: [] for e in encoders}
    per_cpu: dict[str, list[float]] = {e.name: [] for e in encoders}
    others: dict[str, list[float]] = {e.name: [] for e in encoders}
    for r in range(repeats):
        for enc in encoders:
            with enc as emb:
                emb.encode(texts[:8], batch_size=8)  # warm-up
                with Other() as other:
                    t, cpu = time.perf_counter(), time.process_time()
                    emb.encode(texts, batch_size=32)
                    rates[enc.name].append(len(texts) / (time.perf_counter() - t))
                    per_cpu[enc.name].append(len(texts) / (time.process_time() - cpu))
                others[enc.name].append(other.share)
        log(
            f"throughput repeat {r + 1}/{repeats}: "
            + ", ".join(f"{n} {v[-1]:.1f}" for n, v in rates.items())
            + " passages/s"
        )
    out = {
        n: {
            "passages_per_s": round(float(np.median(v)), 2),
            "passages_per_cpu_s": round(float(np.median(per_cpu[n])), 2),
            "runs": [round(x, 2) for x in v],
            "other_cpu_share": others[n],
        }
        for n, v in rates.items()
    }
    return {"batch_size": 32, "passages": len(texts), **out}


def agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    cos = (reference * other).sum(axis=1)
    return {"min": round(float(cos.min()), 7), "mean": round(float(cos.mean()), 7), "n": len(cos)}


def eval_in_process(index: Any, embedder: Any, settings: Settings) -> dict[str, Any]:
    """The ``qa eval`` ladder on the dev split with this encoder for the queries."""
    questions = load_questions(QUESTIONS, "dev")
    retriever = Retriever(index, embedder, retrieval_config(settings))
    rows = {}
    for name, cfg in ladder(retriever.config):
        if name in ("dense", "hybrid", "+ query expansion (full)"):
            r = report(name, run_questions(retriever, questions, cfg))
            rows[name] = {m: r.overall[m] for m in ("recall@5", "mrr@10", "ndcg@10")}
            # the no-answer check compares similarities with a tuned threshold
            rows[name]["none_flagged"] = r.none_flagged
            rows[name]["answerable_flagged"] = r.answerable_flagged
    return rows


def eval_cli(backend: str, index_dir: Path, tmp: Path) -> dict[str, Any]:
    """``qa eval --split dev --only-final`` in a subprocess with QA_ENCODER_BACKEND set."""
    out = tmp / f"eval-{backend}"
    t = time.perf_counter()
    proc = run_qa(
        backend,
        900,
        "eval",
        "--split",
        "dev",
        "--only-final",
        "--quiet",
        "--out",
        str(out),
        "--index",
        str(index_dir),
    )
    data = json.loads((out / "dev.json").read_text())
    final = next(r for r in data["retrievers"] if r["name"] == data["final"])
    return {
        "recall@5": final["overall"]["recall@5"],
        "mrr@10": final["overall"]["mrr@10"],
        "ndcg@10": final["overall"]["ndcg@10"],
        "seconds": round(time.perf_counter() - t, 1),
        "fell_back_to_torch": "ONNX encoder not used" in proc.stderr,
    }


# Peak RSS from VmHWM: ru_maxrss would carry over the (large) parent's through fork + exec.
OPEN_SNIPPET = """
import re, sys, time
from pathlib import Path
t = time.perf_counter()
from qa_service.service import open_retriever
from qa_service.settings import Settings
r = open_retriever(Settings(index_dir=sys.argv[1]))
r.encode("first question")
seconds = time.perf_counter() - t
hwm = int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))
print(seconds, hwm / 1024, "torch" in sys.modules, type(r.embedder).__name__,
      getattr(r.embedder, "backend", "torch"))
"""


def bench_open(index_dir: Path, repeats: int) -> dict[str, Any]:
    """A fresh process: import, ``open_retriever`` and the first query encode, per backend."""
    runs: dict[str, list[dict[str, Any]]] = {"torch": [], "onnx": []}
    for _ in range(repeats):
        for backend, rows in runs.items():
            env = {**os.environ, "QA_ENCODER_BACKEND": backend, "HF_HUB_OFFLINE": "1"}
            proc = subprocess.run(
                [sys.executable, "-c", OPEN_SNIPPET, str(index_dir)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            )
            secs, rss, torch_loaded, _, used = proc.stdout.split()
            rows.append(
                {
                    "seconds": float(secs),
                    "peak_rss_mb": float(rss),
                    "torch_imported": torch_loaded == "True",
                    "backend": used,
                }
            )
    return {
        b: {
            "seconds": round(float(np.median([r["seconds"] for r in rows])), 2),
            "peak_rss_mb": round(float(np.median([r["peak_rss_mb"] for r in rows])), 1),
            "torch_imported": rows[0]["torch_imported"],
            "backend_used": rows[0]["backend"],
            "runs": [round(r["seconds"], 2) for r in rows],
        }
        for b, rows in runs.items()
    }


def run_qa(backend: str, timeout: float, *args: str) -> subprocess.CompletedProcess[str]:
    """``qa ARGS`` in a fresh process with QA_ENCODER_BACKEND set; raises when it fails."""
    env = {**os.environ, "QA_ENCODER_BACKEND": backend, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [str(QA), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"qa {args[0]} ({backend}) failed: {proc.stderr[-2000:]}")
    return proc


def qa_index(backend: str, index_dir: Path) -> float:
    """Seconds for ``qa index --full`` in a fresh process with QA_ENCODER_BACKEND set."""
    t = time.perf_counter()
    run_qa(
        backend,
        1800,
        "index",
        "--full",
        "--quiet",
        "--corpus",
        str(ROOT / "corpus"),
        "--index",
        str(index_dir),
    )
    return round(time.perf_counter() - t, 1)


def index_builds(tmp: Path) -> dict[str, Any]:
    """``qa index --full`` with each backend: what the one-time export adds to a build."""
    seconds = {
        "torch": qa_index("torch", tmp / "torch-index"),
        "onnx, first build (exports)": qa_index("onnx", tmp / "onnx-index"),
        "onnx, export reused": qa_index("onnx", tmp / "onnx-index"),
    }
    (sidecar,) = (tmp / "onnx-index" / "encoders").glob(f"*/{SIDECAR}")
    return {"build_seconds": seconds, "export": json.loads(sidecar.read_text())}


def decide(res: dict[str, Any]) -> dict[str, Any]:
    """The defaults these figures support, with the reasons.

    fp32 ONNX for queries if its p50 beats torch's faster thread setting, its min cosine is
    >= 0.9999 and dev R@5/MRR@10 do not drop; two ONNX threads unless measurably worse;
    int8 only if no dev row drops and its cosine meets the same bar; batches on whichever
    runtime embeds more passages per second.
    """
    lat, thr, cos = res["latency_ms"], res["throughput"], res["cosine_vs_torch"]
    ev, cli = res["eval_dev_in_process"], res["eval_dev_cli"]
    metrics = ("recall@5", "mrr@10")
    torch_name = min(("torch, 2 threads", "torch, 1 thread"), key=lambda n: lat[n]["p50"])
    one, two = lat["onnx fp32, 1 thread"], lat["onnx fp32, 2 threads"]
    # Both cores unless that measurably hurts: a lone query more than 10% slower, or under
    # concurrent requests (one thread each lets the other core serve another) 15% fewer/s.
    conc = res["concurrent"]
    qps1, qps2 = (conc[f"onnx fp32, {n}"]["queries_per_s"] for n in ("1 thread", "2 threads"))
    threads = 2 if two["p50"] <= 1.1 * one["p50"] and qps2 >= 0.85 * qps1 else 1
    fp32 = one if threads == 1 else two
    fp32_cos = min(cos["onnx fp32"]["passages"]["min"], cos["onnx fp32"]["questions"]["min"])
    same_eval = all(cli["onnx"][m] >= cli["torch"][m] for m in metrics) and not any(
        v["fell_back_to_torch"] for v in cli.values()
    )
    fp32_ok = fp32["p50"] < lat[torch_name]["p50"] and fp32_cos >= MIN_COSINE and same_eval
    reasons = [
        f"fp32 ONNX ({threads} thread{'s' * (threads > 1)}): p50 {fp32['p50']} ms,"
        f" p99 {fp32['p99']} ms, CPU {fp32['cpu_ms']} ms per query, against the faster torch"
        f" setting ({torch_name}):"
        f" p50 {lat[torch_name]['p50']} ms, p99 {lat[torch_name]['p99']} ms, CPU"
        f" {lat[torch_name]['cpu_ms']} ms; min cosine to torch {fp32_cos}; dev R@5/MRR@10"
        f" {cli['onnx']['recall@5']}/{cli['onnx']['mrr@10']} vs torch"
        f" {cli['torch']['recall@5']}/{cli['torch']['mrr@10']}.",
        f"Threads: alone, 1 thread p50 {one['p50']} ms, 2 threads {two['p50']} ms; with"
        f" {conc['clients']} concurrent clients, 1 thread {qps1} queries/s, 2 threads {qps2}"
        f" (torch, 2 threads: {conc['torch, 2 threads']['queries_per_s']}).",
    ]
    int8_ok = False
    if "onnx int8" in ev:
        drops = [
            f"{row} {m} {ev['onnx int8'][row][m]} < {ev['torch'][row][m]}"
            for row in ev["torch"]
            for m in metrics
            if ev["onnx int8"][row][m] < ev["torch"][row][m]
        ]
        int8_cos = cos["onnx int8"]["passages"]["min"]
        int8_ok = not drops and int8_cos >= MIN_COSINE
        reasons.append(
            f"int8: p50 {lat['onnx int8, 1 thread']['p50']} ms, but min cosine to torch"
            f" {int8_cos} (mean {cos['onnx int8']['passages']['mean']}) and on dev: "
            + ("; ".join(drops) if drops else "no drop")
            + (" -> kept." if int8_ok else " -> not used.")
        )
    t_onnx = max(thr[n]["passages_per_s"] for n in ("onnx fp32, 1 thread", "onnx fp32, 2 threads"))
    t_torch = max(thr[n]["passages_per_s"] for n in ("torch, 2 threads", "torch, 1 thread"))
    index_backend = "torch" if t_torch >= t_onnx else "onnx"
    reasons.append(
        f"Batch 32, faster thread setting of each: ONNX fp32 {t_onnx} passages/s, torch"
        f" {t_torch} passages/s -> `qa index` embeds with {index_backend}."
    )
    if "index_builds" in res:
        builds = res["index_builds"]["build_seconds"]
        reasons.append(
            "`qa index --full`: " + ", ".join(f"{name} {sec} s" for name, sec in builds.items())
        )
    if "cold_open" in res:
        co = res["cold_open"]
        reasons.append(
            f"Cold open to the first query vector: ONNX {co['onnx']['seconds']} s,"
            f" {co['onnx']['peak_rss_mb']} MB peak RSS (torch imported:"
            f" {co['onnx']['torch_imported']}) vs torch {co['torch']['seconds']} s,"
            f" {co['torch']['peak_rss_mb']} MB."
        )
    return {
        "encoder_backend": "onnx" if fp32_ok else "torch",
        "onnx_threads": threads,
        "index_backend": index_backend,
        "fp32_faster_and_equal": fp32_ok,
        "int8": int8_ok,
        "reasons": reasons,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    args = ap.parse_args()
    cfg = MODES["quick" if args.quick else "full"]
    settings = Settings(index_dir=args.index, corpus_dir=ROOT / "corpus")
    res: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "loadavg_1m_start": round(loadavg(), 2),
    }
    index = load_search_index(settings)
    texts = [c.embed_text for c in index.chunks][: cfg["passages"]]
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    res["index"] = {"version": index.version, "passages": len(index.chunks)}

    log("exporting (or reusing) the fp32 ONNX encoder")
    t = time.perf_counter()
    fp32 = export_encoder(settings.model, encoders_root(settings.index_dir))
    res["export"] = {
        "seconds": round(time.perf_counter() - t, 1),
        "folder": fp32.name,
        "model_mb": round((fp32 / MODEL_FILE).stat().st_size / 2**20, 1),
        **json.loads((fp32 / SIDECAR).read_text()).get("versions", {}),
    }
    tmp = Path(tempfile.mkdtemp(prefix="qa-onnx-bench-"))
    try:
        encoders = [
            Encoder("torch, 2 threads", SentenceTransformerEmbedder().load(), 2),
            Encoder("torch, 1 thread", SentenceTransformerEmbedder().load(), 1),
            Encoder("onnx fp32, 1 thread", OnnxEmbedder(folder=fp32, threads=1).load()),
            Encoder("onnx fp32, 2 threads", OnnxEmbedder(folder=fp32, threads=2).load()),
        ]
        try:
            int8 = int8_folder(fp32, tmp / "int8")
            encoders.append(
                Encoder("onnx int8, 1 thread", OnnxEmbedder(folder=int8, threads=1).load())
            )
            res["int8"] = {"model_mb": round((int8 / MODEL_FILE).stat().st_size / 2**20, 1)}
        except Exception as exc:  # report, do not abort the fp32 figures
            res["int8"] = {"error": f"{type(exc).__name__}: {exc}"}
        by_name = {e.name: e for e in encoders}

        log(f"latency: {len(questions)} questions x {cfg['rounds']} rounds")
        res["latency_ms"] = bench_latency(encoders, questions, cfg["rounds"])
        log("4 concurrent clients")
        res["concurrent"] = bench_concurrent(
            [
                by_name[n]
                for n in ("torch, 2 threads", "onnx fp32, 1 thread", "onnx fp32, 2 threads")
            ],
            questions,
            cfg["repeats"],
        )
        log(f"throughput: {len(texts)} passages, batch 32, {cfg['repeats']} repeats")
        res["throughput"] = bench_throughput(encoders, texts, cfg["repeats"])

        log("agreement with torch")
        torch_emb = by_name["torch, 2 threads"].embedder
        all_texts = [c.embed_text for c in index.chunks]
        ref_p = torch_emb.encode(all_texts)
        ref_q = np.vstack([torch_emb.encode([q]) for q in questions])
        res["cosine_vs_torch"] = {}
        for name, label in (
            ("onnx fp32, 1 thread", "onnx fp32"),
            ("onnx int8, 1 thread", "onnx int8"),
        ):
            if name in by_name:
                emb = by_name[name].embedder
                res["cosine_vs_torch"][label] = {
                    "passages": agreement(ref_p, emb.encode(all_texts)),
                    "questions": agreement(ref_q, np.vstack([emb.encode([q]) for q in questions])),
                }

        log("retrieval on dev, in-process")
        res["eval_dev_in_process"] = {
            label: eval_in_process(index, by_name[name].embedder, settings)
            for name, label in (
                ("torch, 2 threads", "torch"),
                ("onnx fp32, 1 thread", "onnx fp32"),
                ("onnx int8, 1 thread", "onnx int8"),
            )
            if name in by_name
        }
        log("cold open: a fresh process to the first query vector")
        res["cold_open"] = bench_open(settings.index_dir, cfg["repeats"])
        log("retrieval on dev, qa eval CLI")
        res["eval_dev_cli"] = {b: eval_cli(b, settings.index_dir, tmp) for b in ("torch", "onnx")}
        if cfg["index_builds"]:
            log("qa index --full with each backend")
            res["index_builds"] = index_builds(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["loadavg_1m_end"] = round(loadavg(), 2)
    res["decision"] = decide(res)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "onnx.json").write_text(json.dumps(res, indent=2) + "\n")
    write_md(res, args.out / "onnx.md")
    log(f"wrote {args.out / 'onnx.json'} and onnx.md")


def write_md(res: dict[str, Any], path: Path) -> None:
    lat, thr, cos = res["latency_ms"], res["throughput"], res["cosine_vs_torch"]
    lines = [
        f"# ONNX Runtime vs PyTorch encoder ({res['mode']} mode, {res['cpus']} CPUs,"
        f" {res['started']})",
        "",
        f"Index {res['index']['version']} ({res['index']['passages']} passages); export"
        f" {res['export']['model_mb']} MB fp32 (torch {res['export'].get('torch')},"
        f" onnx {res['export'].get('onnx')}, onnxscript {res['export'].get('onnxscript')}).",
        f"1-minute load average per latency round: {lat['loadavg_1m']} (shared machine: every"
        " figure is the median over rounds; encoders interleaved within each round).",
        "",
        f"## Single-query encode latency ({lat['questions']} eval questions, ms)",
        "",
        "| encoder | p50 | p95 | p99 | CPU ms per query | p50 per round | other load per round |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, v in lat.items():
        if isinstance(v, dict) and "p50" in v:
            rounds = ", ".join(f"{r['p50']:.1f}" for r in v["per_round"])
            other = ", ".join(f"{r['other_cpu_share']:.0%}" for r in v["per_round"])
            lines.append(
                f"| {name} | {v['p50']} | {v['p95']} | {v['p99']} | {v['cpu_ms']} | {rounds}"
                f" | {other} |"
            )
    lines += [
        "",
        f"## Throughput (batch {thr['batch_size']}, {thr['passages']} real passages)",
        "",
        "| encoder | passages/s | passages per CPU-second | runs (passages/s) | other load |",
        "|---|---|---|---|---|",
    ]
    for name, v in thr.items():
        if isinstance(v, dict):
            other = ", ".join(f"{x:.0%}" for x in v["other_cpu_share"])
            lines.append(
                f"| {name} | {v['passages_per_s']} | {v['passages_per_cpu_s']} | {v['runs']}"
                f" | {other} |"
            )
    lines += [
        "",
        f"## {res['concurrent']['clients']} concurrent clients (threads of one process, every"
        " eval question once)",
        "",
        "| encoder | queries/s | p50 ms |",
        "|---|---|---|",
        *[
            f"| {n} | {v['queries_per_s']} | {v['p50_ms']} |"
            for n, v in res["concurrent"].items()
            if isinstance(v, dict)
        ],
        "",
        "## Cold open (fresh process: imports, `open_retriever`, first query vector)",
        "",
        "| backend | seconds | peak RSS MB | torch imported | runs (s) |",
        "|---|---|---|---|---|",
        *[
            f"| {b} ({v['backend_used']}) | {v['seconds']} | {v['peak_rss_mb']}"
            f" | {v['torch_imported']} | {v['runs']} |"
            for b, v in res["cold_open"].items()
        ],
        "",
        "## Agreement with torch (cosine per vector)",
        "",
        "| encoder | passages min | passages mean | questions min | questions mean |",
        "|---|---|---|---|---|",
    ]
    for name, v in cos.items():
        p, q = v["passages"], v["questions"]
        lines.append(f"| {name} | {p['min']} | {p['mean']} | {q['min']} | {q['mean']} |")
    lines += [
        "",
        "## Retrieval, dev split",
        "",
        "`qa eval --split dev --only-final` (CLI, QA_ENCODER_BACKEND):",
        "",
        "| backend | R@5 | MRR@10 | nDCG@10 | fell back to torch |",
        "|---|---|---|---|---|",
    ]
    for name, v in res["eval_dev_cli"].items():
        lines.append(
            f"| {name} | {v['recall@5']} | {v['mrr@10']} | {v['ndcg@10']} |"
            f" {v['fell_back_to_torch']} |"
        )
    lines += [
        "",
        "In-process, same ladder as `qa eval` (query encoder varies, index as built):",
        "",
        "| query encoder | retriever | R@5 | MRR@10 | nDCG@10 | none flagged"
        " | answerable flagged |",
        "|---|---|---|---|---|---|---|",
    ]
    for enc, rows in res["eval_dev_in_process"].items():
        for name, m in rows.items():
            lines.append(
                f"| {enc} | {name} | {m['recall@5']} | {m['mrr@10']} | {m['ndcg@10']}"
                f" | {m['none_flagged']} | {m['answerable_flagged']} |"
            )
    builds = res.get("index_builds")
    if builds:
        export = builds["export"]
        lines += [
            "",
            "## `qa index --full` (fresh process, 4 reports; passages embedded by torch)",
            "",
            "| backend | seconds |",
            "|---|---|",
            *[f"| {name} | {sec} |" for name, sec in builds["build_seconds"].items()],
            "",
            f"The export inside the first ONNX build took {export.get('export_seconds')} s"
            f" (verified min cosine {export.get('verified_min_cosine')} on sample texts).",
        ]
    d = res["decision"]
    lines += [
        "",
        "## Decision (computed from the figures above)",
        "",
        f"- `encoder_backend` default: **{d['encoder_backend']}** (fp32 ONNX faster than torch"
        f" at p50, min cosine >= {MIN_COSINE} and dev R@5/MRR@10 not lower:"
        f" {d['fp32_faster_and_equal']}).",
        f"- `onnx_threads` default: **{d['onnx_threads']}**.",
        f"- Passages in `qa index` (measured here; `qa index` now embeds with the ONNX"
        f" export when it is valid, see incremental.md): **{d['index_backend']}**.",
        f"- int8 dynamic quantisation: {'used' if d['int8'] else 'not used'}.",
        "",
        *[f"- {r}" for r in d["reasons"]],
        "",
        NOTES,
    ]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
