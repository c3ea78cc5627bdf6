"""Indexing speed: how fast the encoder embeds what ``qa index`` embeds (every distinct passage
and sentence of the real index), per encoder setting, and the four-report build end to end.

An indexed passage costs its own vector and those of its sentences, so the figure is passages
per second of embedding both (``passages / (passage seconds + sentence seconds)``), with
passages/s and sentences/s apart. Settings compared: ONNX fp32 with 1 and 2 intra-op threads
and larger token budgets per batch (``batch_tokens``), and ONNX with dynamically quantised int8
weights (cosine to fp32 given: its vectors differ, so it would need the evaluation re-run).
The machine is shared: the 1-minute load average is recorded before each measurement.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/index_speed.py [--smoke] [--build] [--out DIR]
  --build also times ``qa index --full`` in a fresh index folder (export included) and with
  the export already made.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa_service.onnx_encoder import (  # noqa: E402
    MODEL_FILE,
    SIDECAR,
    TOKENIZER_FILE,
    OnnxEmbedder,
    encoder_dir,
    encoder_key,
    encoders_root,
    local_model_dir,
)
from qa_service.search_index import load_search_index  # noqa: E402
from qa_service.settings import Settings  # noqa: E402
from qa_service.store import sha256_file  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def int8_folder(fp32: Path, dest: Path, per_channel: bool) -> Path:
    """A copy of the fp32 export whose weights are dynamically quantised to int8 (one scale
    per weight matrix, or per output channel)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process the graph
    dest.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(
        fp32 / MODEL_FILE, dest / MODEL_FILE, weight_type=QuantType.QInt8, per_channel=per_channel
    )
    shutil.copy(fp32 / TOKENIZER_FILE, dest / TOKENIZER_FILE)
    meta = json.loads((fp32 / SIDECAR).read_text())
    meta["files"] = {n: sha256_file(dest / n) for n in (MODEL_FILE, TOKENIZER_FILE)}
    (dest / SIDECAR).write_text(json.dumps(meta, indent=1))
    return dest


def texts_of(index_dir: Path) -> tuple[list[str], list[str]]:
    """The distinct passage and sentence texts a build of this index embeds."""
    idx = load_search_index(Settings(index_dir=index_dir))
    passages = list(dict.fromkeys(c.embed_text for c in idx.chunks))
    sentences = []
    for row, (a, b) in zip(idx.sentences.owner.tolist(), idx.sentences.spans.tolist(), strict=True):
        sentences.append(idx.chunks[row].text[a:b])
    return passages, list(dict.fromkeys(sentences))


def measure(
    embedder: OnnxEmbedder, passages: list[str], sentences: list[str], batch: int
) -> dict[str, Any]:
    """Seconds to embed the passages and the sentences (as the indexer batches them)."""
    load = os.getloadavg()[0]
    cpu0, t0 = time.process_time(), time.perf_counter()
    pv = embedder.encode(passages, batch_size=batch)
    t1 = time.perf_counter()
    sv = embedder.encode(sentences, batch_size=batch * 2)
    t2, cpu = time.perf_counter(), time.process_time() - cpu0
    return {
        "passage_s": round(t1 - t0, 3),
        "sentence_s": round(t2 - t1, 3),
        "passages_per_s": round(len(passages) / (t1 - t0), 1),
        "sentences_per_s": round(len(sentences) / (t2 - t1), 1),
        "indexed_passages_per_s": round(len(passages) / (t2 - t0), 1),
        "cpu_s": round(cpu, 2),
        "load_avg_1m_before": round(load, 2),
        "_vectors": (pv, sv),
    }


def test_figures(
    index: Any, embedder: OnnxEmbedder, index_dir: Path, corpus: Path
) -> dict[str, Any]:
    """Test-split figures with every vector (index and questions) made by ``embedder``: the
    index is rebuilt from the real index's passages with it, then searched with it."""
    from qa_service.answer_eval import answer_report, run_answers
    from qa_service.evaluation import load_questions, report, run_questions
    from qa_service.indexer import index_documents
    from qa_service.retriever import Retriever
    from qa_service.service import retrieval_config
    from qa_service.tuning import ladder

    settings = Settings(index_dir=index_dir, corpus_dir=corpus)
    shutil.copytree(encoders_root(ROOT / "index"), encoders_root(index_dir))  # no new export
    index_documents(
        settings,
        list(index.documents.values()),
        index.chunks,
        embed=lambda texts, size: embedder.encode(texts, batch_size=size),
    )
    retriever = Retriever(load_search_index(settings), embedder, retrieval_config(settings))
    questions = load_questions(ROOT / "eval" / "questions.jsonl", "test")
    name, cfg = ladder(retriever.config)[-1]
    overall = report(name, run_questions(retriever, questions, cfg, 10)).overall
    answers = answer_report(run_answers(retriever, questions))["overall"]
    return {
        "recall@5": overall["recall@5"],
        "mrr@10": overall["mrr@10"],
        "answer@1": answers["answer@1"],
        "answer@any": answers["answer@any"],
    }


def build_times(repeats: int) -> dict[str, Any]:
    """`qa index --full` wall time in a fresh folder (exporting) and with the export made."""
    out: dict[str, Any] = {"fresh": [], "export_reused": []}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    qa = str(ROOT / ".venv" / "bin" / "qa")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            index = Path(tmp) / f"index-{r}"
            for kind in ("fresh", "export_reused"):
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                subprocess.run(
                    [qa, "index", "--full", "-q", "--index", str(index)],
                    check=True, cwd=ROOT, env=env, capture_output=True,
                )
                out[kind].append({"s": round(time.perf_counter() - t0, 2), "load": round(load, 2)})
            shutil.rmtree(index)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="CI check: 16 passages, 1 setting")
    ap.add_argument("--build", action="store_true", help="also time qa index --full")
    ap.add_argument(
        "--recall", action="store_true", help="test-split figures per encoder (rebuilds)"
    )
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--index", type=Path, default=ROOT / "index")
    args = ap.parse_args()
    args.out = args.out or (ROOT / "bench" / "results" / ("smoke" if args.smoke else ""))
    settings = Settings(index_dir=args.index)
    passages, sentences = texts_of(args.index)
    if args.smoke:
        passages, sentences = passages[:16], sentences[:64]
    location = local_model_dir(settings.model)
    fp32 = encoder_dir(encoders_root(args.index), encoder_key(settings.model, location))
    variants: list[tuple[str, Path, int, int]] = [("onnx fp32, 2 threads", fp32, 2, 256)]
    tmp = Path(tempfile.mkdtemp(prefix="index-speed-"))
    if not args.smoke:
        int8 = int8_folder(fp32, tmp / "int8", per_channel=False)
        int8_pc = int8_folder(fp32, tmp / "int8-per-channel", per_channel=True)
        variants += [
            ("onnx fp32, 1 thread", fp32, 1, 256),
            ("onnx fp32, 2 threads, 1024 tokens a batch", fp32, 2, 1024),
            ("onnx int8, 2 threads", int8, 2, 256),
            ("onnx int8 per channel, 2 threads", int8_pc, 2, 256),
        ]
    results: dict[str, Any] = {}
    reference: tuple[np.ndarray, np.ndarray] | None = None
    for name, folder, threads, tokens in variants:
        emb = OnnxEmbedder(settings.model, folder=folder, threads=threads, batch_tokens=tokens)
        emb.load()
        emb.encode(passages[:8])  # warm-up
        log(f"{name} ...")
        runs = [measure(emb, passages, sentences, settings.embed_batch_size)]
        if not args.smoke:
            runs.append(measure(emb, passages, sentences, settings.embed_batch_size))
        best = max(runs, key=lambda r: r["indexed_passages_per_s"])
        pv, sv = best.pop("_vectors")
        for r in runs:
            r.pop("_vectors", None)
        if reference is None:
            reference = (pv, sv)
        best["min_cosine_to_fp32"] = round(
            float(min((pv * reference[0]).sum(1).min(), (sv * reference[1]).sum(1).min())), 5
        )
        best["runs"] = [r["indexed_passages_per_s"] for r in runs]
        best["loads"] = [r["load_avg_1m_before"] for r in runs]
        if args.recall and "1 thread" not in name and "1024" not in name:
            log(f"{name}: test split with an index embedded by it ...")
            best["test"] = test_figures(
                load_search_index(settings), emb, tmp / f"index-{len(results)}", ROOT / "corpus"
            )
        results[name] = best
        log(f"{name}: {best['indexed_passages_per_s']} passages/s indexed (load {best['loads']})")
    shutil.rmtree(tmp, ignore_errors=True)
    res = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "mode": "smoke" if args.smoke else "full",
        "passages": len(passages),
        "sentences": len(sentences),
        "encoders": results,
        "builds": build_times(1) if args.build and not args.smoke else None,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "index-speed.json").write_text(json.dumps(res, indent=1))
    write_md(res, args.out / "index-speed.md")
    print(json.dumps({k: v for k, v in res.items() if k != "encoders"}))


def write_md(res: dict[str, Any], path: Path) -> None:
    """The results as a markdown table."""
    lines = [
        f"# Indexing speed ({res['mode']} run {res['when']}, {res['cpus']} CPUs, shared)",
        "",
        f"{res['passages']} distinct passages and {res['sentences']} distinct sentences of the"
        " real index, embedded as `qa index` embeds them (longest first, batches capped in"
        " padded tokens). Load average: the machine's 1-minute load before each run (other"
        " agents' jobs included), so figures are pessimistic.",
        "",
        "| encoder | indexed passages/s | passages/s | sentences/s | CPU s | min cosine to fp32"
        " | runs | load | test R@5 | MRR@10 | answer@1 | answer@any |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["encoders"].items():
        t = r.get("test") or {}
        figures = " | ".join(
            str(t.get(m, "-")) for m in ("recall@5", "mrr@10", "answer@1", "answer@any")
        )
        lines.append(
            f"| {name} | {r['indexed_passages_per_s']} | {r['passages_per_s']} |"
            f" {r['sentences_per_s']} | {r['cpu_s']} | {r['min_cosine_to_fp32']} |"
            f" {r['runs']} | {r['loads']} | {figures} |"
        )
    if res.get("builds"):
        lines += ["", "`qa index --full`, 4 reports (seconds, load before):", ""]
        for kind, runs in res["builds"].items():
            lines.append(f"- {kind}: {runs}")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
