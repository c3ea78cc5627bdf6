"""Indexing speed: how fast the encoder embeds what ``qa index`` embeds (every distinct passage
and sentence of the real index), per encoder setting, and the four-report build end to end.

An indexed passage costs its own vector and those of its sentences, so the figure is passages
per second of embedding both (``passages / (passage seconds + sentence seconds)``), with
passages/s and sentences/s apart. Settings compared: ONNX fp32 with 1 and 2 intra-op threads
and larger token budgets per batch (``batch_tokens``), and ONNX with dynamically quantised int8
weights (cosine to fp32 given: its vectors differ, so it would need the evaluation re-run).
The machine is shared: the 1-minute load average is recorded before each measurement.

Run: .venv/bin/python bench/index_speed.py [--smoke] [--recall] [--build] [--shapes] [--out DIR]
  --recall  test-split figures with an index embedded by each encoder (fp32, int8).
  --build   also times ``qa index --full`` in a fresh index folder (export included) and with
            the export already made.
  --shapes  also times batch shapes (padded-token budgets against fixed batches of texts) on
            the smallest report's passages and sentences.
  --smoke   CI check: 16 passages, one setting, one round of shapes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import harness as h
import numpy as np

from qa_service.index.current import load_search_index
from qa_service.index.onnx_encoder import OnnxEmbedder
from qa_service.index.onnx_files import encoder_dir, encoder_key, encoders_root, local_model_dir
from qa_service.settings import Settings


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


def test_figures(index: Any, embedder: OnnxEmbedder, index_dir: Path) -> dict[str, Any]:
    """Test-split figures with every vector (index and questions) made by ``embedder``: the
    index is rebuilt from the real index's passages with it, then searched with it."""
    from qa_service.answer.retriever import Retriever
    from qa_service.answer.service import retrieval_config
    from qa_service.index.indexer import index_documents

    settings = Settings(index_dir=index_dir, corpus_dir=h.ROOT / "corpus")
    shutil.copytree(encoders_root(h.ROOT / "index"), encoders_root(index_dir))  # no new export
    index_documents(
        settings,
        list(index.documents.values()),
        index.chunks,
        embed=lambda texts, size: embedder.encode(texts, batch_size=size),
    )
    retriever = Retriever(load_search_index(settings), embedder, retrieval_config(settings))
    return h.eval_test_split(retriever)


def batch_shapes(index_dir: Path, rounds: int) -> dict[str, Any]:
    """ONNX Runtime embedding time of the smallest report's passages and sentences by batch
    shape: padded-token budgets (``qa index`` uses 256), against fixed batches of 32 and 64
    texts."""
    from qa_service.index import reuse, store

    settings = Settings(index_dir=index_dir)
    added = h.reports_by_size()[0]
    chunks = [c for c in store.load(index_dir).chunks if c.source == added.name]
    passages = [c.embed_text for c in chunks]
    sentences = sorted(set(reuse.sentence_texts(chunks)[0]), key=len, reverse=True)
    shapes = [(f"{b} tokens", b, 1 << 16) for b in (128, 256, 512, 1024)]
    shapes += [("32 / 64 texts (no token budget)", 1 << 30, 32)]
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in shapes}
    for _ in range(rounds):
        for name, budget, texts_per_batch in shapes:
            enc = OnnxEmbedder(
                settings.model,
                encoders_root(index_dir),
                threads=settings.onnx_threads,
                batch_tokens=budget,
            ).load()
            t = time.perf_counter()
            enc.encode(passages, batch_size=texts_per_batch)
            tp = time.perf_counter() - t
            t = time.perf_counter()
            enc.encode(sentences, batch_size=texts_per_batch * 2)
            seconds[name].append((tp, time.perf_counter() - t))
    rows = [
        {
            "batch": name,
            "passages_s": h.median([p for p, _ in v]),
            "sentences_s": h.median([q for _, q in v]),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
        for name, v in seconds.items()
    ]
    when = time.strftime("%Y-%m-%d %H:%M")
    return {
        "report": added.name,
        "passages": len(passages),
        "sentences": len(sentences),
        "rounds": rounds,
        "when": when,
        "rows": rows,
    }


def build_times(repeats: int) -> dict[str, Any]:
    """`qa index --full` wall time in a fresh folder (exporting) and with the export made."""
    out: dict[str, Any] = {"fresh": [], "export_reused": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            index = Path(tmp) / f"index-{r}"
            for kind in ("fresh", "export_reused"):
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                h.run_qa(["index", "--full", "-q", "--index", str(index)])
                out[kind].append({"s": round(time.perf_counter() - t0, 2), "load": round(load, 2)})
            shutil.rmtree(index)
    return out


def main() -> None:
    ap = h.arguments(__doc__)
    ap.add_argument("--build", action="store_true", help="also time qa index --full")
    ap.add_argument(
        "--recall", action="store_true", help="test-split figures per encoder (rebuilds)"
    )
    ap.add_argument("--shapes", action="store_true", help="also time batch shapes (one report)")
    ap.add_argument("--index", type=Path, default=h.ROOT / "index")
    args = ap.parse_args()
    out = h.out_dir(args)
    settings = Settings(index_dir=args.index)
    passages, sentences = texts_of(args.index)
    if args.smoke:
        passages, sentences = passages[:16], sentences[:64]
    location = local_model_dir(settings.model)
    fp32 = encoder_dir(encoders_root(args.index), encoder_key(settings.model, location))
    variants: list[tuple[str, Path, int, int]] = [("onnx fp32, 2 threads", fp32, 2, 256)]
    tmp = Path(tempfile.mkdtemp(prefix="index-speed-"))
    if not args.smoke:
        int8 = h.int8_folder(fp32, tmp / "int8", per_channel=False)
        int8_pc = h.int8_folder(fp32, tmp / "int8-per-channel", per_channel=True)
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
        h.log(f"{name} ...")
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
            h.log(f"{name}: test split with an index embedded by it ...")
            index = load_search_index(settings)
            best["test"] = test_figures(index, emb, tmp / f"index-{len(results)}")
        results[name] = best
        h.log(f"{name}: {best['indexed_passages_per_s']} passages/s indexed (load {best['loads']})")
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
    if args.shapes or args.smoke:
        res["batch_shapes"] = batch_shapes(args.index, 1 if args.smoke else 3)
    write_md(res, out)


def write_md(res: dict[str, Any], out: Path) -> list[str]:
    """index-speed.{json,md}; the markdown lines."""
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
    if shapes := res.get("batch_shapes"):
        lines += [
            "",
            f"## ONNX Runtime batch shape ({shapes['report']}: its {shapes['passages']} passages"
            f" and {shapes['sentences']} sentences; p50 seconds over {shapes['rounds']} rounds,"
            f" {shapes['when']})",
            "",
            *h.md_table(
                ["batch", "passages (s)", "sentences (s)", "load avg"],
                [
                    (b["batch"], b["passages_s"], b["sentences_s"], b["loadavg_1m"])
                    for b in shapes["rows"]
                ],
            ),
        ]
    h.write_results(out, "index-speed", res, lines)
    return lines


if __name__ == "__main__":
    main()
