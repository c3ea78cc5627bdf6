"""Indexing speed: how fast the encoder makes what ``qa index`` makes (the vector of every
distinct passage and sentence of the real index), per encoder setting, and the four-report
build end to end.

An indexed passage costs its own vector and those of its sentences, so the figure is passages
per second of both (``passages / (passage seconds + sentence seconds)``). Passage vectors are
made either as ``qa index`` makes them by default, pooled from the sentence vectors and a heading
context's (``QA_PASSAGE_VECTORS=sentences``: each token embedded once), or by embedding each
passage whole (``passage``: each token embedded twice). Encoders compared: ONNX fp32 with 2
intra-op threads, with 1, and as two threads each running its own batches on 1 intra-op thread
(the work of two single-threaded processes, without their second model copy), and ONNX with
int8 weights quantised per output channel (queries then use it too). The machine is shared:
the 1-minute load average is recorded before each measurement, with the CPU seconds (what the
load does not change much).

Run: .venv/bin/python bench/index_speed.py [--smoke] [--recall] [--build] [--shapes] [--out DIR]
  --recall  test-split figures (`qa eval --split test --only-final`) of an index made by each
            setting, its questions embedded by the same encoder.
  --build   also times `qa prepare` (the model export the set-up makes) and `qa index --full`
            in a fresh index folder with the export prepared, and without it (exported by the
            build).
  --shapes  also times batch shapes (padded-token budgets against fixed batches of texts) on
            the smallest report's passages and sentences.
  --smoke   CI check: 16 passages, one setting, one round of shapes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness as h
import numpy as np

from qa_service.index import reuse
from qa_service.index.current import load_search_index
from qa_service.index.embedding import Embedder, ModelTokenizer, SentenceTransformerEmbedder
from qa_service.index.onnx_encoder import OnnxEmbedder
from qa_service.index.onnx_files import encoder_dir, encoder_key, encoders_root, local_model_dir
from qa_service.index.passage_vectors import fill_pooled
from qa_service.settings import Settings
from qa_service.types import Chunk

Encode = Callable[[list[str], int], np.ndarray]


@dataclass
class Workload:
    """What a build of the index embeds: its chunks, their distinct passage texts and every
    sentence (texts, owning chunk rows; distinct ones apart)."""

    chunks: list[Chunk]
    passages: list[str]
    sentence_texts: list[str]
    owner: list[int]

    @property
    def sentences(self) -> list[str]:
        """The distinct sentence texts."""
        return list(dict.fromkeys(self.sentence_texts))


def workload(index_dir: Path, smoke: bool) -> Workload:
    """The real index's passages and sentences (its first 16 passages for a smoke run)."""
    idx = load_search_index(Settings(index_dir=index_dir))
    chunks = list(idx.chunks[:16] if smoke else idx.chunks)
    texts, owner, _ = reuse.sentence_texts(chunks)
    return Workload(chunks, list(dict.fromkeys(c.embed_text for c in chunks)), texts, owner)


def threaded(embedder: OnnxEmbedder, workers: int) -> Encode:
    """``embedder.encode`` with its batches run ``workers`` at a time on as many threads
    (ONNX Runtime releases the GIL while it runs)."""

    def encode(texts: list[str], batch_size: int) -> np.ndarray:
        encodings = embedder._truncating.encode_batch(list(texts), add_special_tokens=True)
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        batches, start = [], 0
        while start < len(texts):
            width = max(1, len(encodings[order[start]].ids))
            rows = order[start : start + max(1, min(batch_size, embedder.batch_tokens // width))]
            batches.append(rows)
            start += len(rows)
        out = np.empty((len(texts), embedder.dimension), dtype=np.float32)
        with ThreadPoolExecutor(workers) as pool:
            runs = pool.map(lambda rows: embedder._run([encodings[i] for i in rows]), batches)
            for rows, vectors in zip(batches, runs, strict=True):
                out[rows] = vectors
        return out

    return encode


def measure(encode: Encode, work: Workload, batch: int, pooled: bool) -> dict[str, Any]:
    """Seconds to make the passage and sentence vectors (as the indexer batches them)."""
    load = os.getloadavg()[0]
    cpu0, t0 = time.process_time(), time.perf_counter()
    sentences = work.sentences
    if pooled:  # sentences first, then passages pooled from them (contexts embedded)
        sv = encode(sentences, batch * 2)
        t1 = time.perf_counter()
        dim = sv.shape[1]
        sentence_cache, passage_cache = reuse.VectorCache(dim), reuse.VectorCache(dim)
        sentence_cache.add(sentences, sv)
        fill_pooled(
            work.chunks,
            work.owner,
            work.sentence_texts,
            passage_cache,
            sentence_cache,
            lambda texts: encode(texts, batch * 2),
            ModelTokenizer(),
            reuse.EmbedStats(),
        )
        pv = passage_cache.take(work.passages)
        t2 = time.perf_counter()
        passage_s, sentence_s = t2 - t1, t1 - t0
    else:
        pv = encode(work.passages, batch)
        t1 = time.perf_counter()
        sv = encode(sentences, batch * 2)
        t2 = time.perf_counter()
        passage_s, sentence_s = t1 - t0, t2 - t1
    cpu = time.process_time() - cpu0
    return {
        "passage_s": round(passage_s, 3),
        "sentence_s": round(sentence_s, 3),
        "passages_per_s": round(len(work.passages) / passage_s, 1),
        "sentences_per_s": round(len(sentences) / sentence_s, 1),
        "indexed_passages_per_s": round(len(work.passages) / (t2 - t0), 1),
        "cpu_s": round(cpu, 2),
        "load_avg_1m_before": round(load, 2),
        "_vectors": (pv, sv),
    }


def test_figures(
    folder: Path, passage_vectors: str, index_dir: Path, encode: Encode
) -> dict[str, Any]:
    """`qa eval --split test --only-final` of the real index's passages embedded by
    ``encode``, the questions by the export in ``folder`` (it stands in the index's encoders
    folder under the fp32 export's name)."""
    from qa_service.index.indexer import index_documents

    settings = Settings(
        index_dir=index_dir, corpus_dir=h.ROOT / "corpus", passage_vectors=passage_vectors
    )
    model = settings.model
    key = encoder_key(model, local_model_dir(model))
    shutil.copytree(folder, encoder_dir(encoders_root(index_dir), key))
    index = load_search_index(Settings(index_dir=h.ROOT / "index"))
    index_documents(settings, list(index.documents.values()), index.chunks, embed=encode)
    run = h.run_qa(
        [
            *("eval", "--split", "test", "--only-final", "-q", "--json"),
            *("--index", str(index_dir), "--out", str(index_dir / "eval")),
        ]
    )
    found = json.loads(run.stdout)
    overall, answers = found["retrievers"][0]["overall"], found["answers"]["overall"]
    got = {m: overall[m] for m in ("recall@5", "mrr@10")}
    got.update({m: answers[m] for m in ("answer@1", "answer@any")})
    return {k: round(v, 4) for k, v in got.items()}


def batch_shapes(index_dir: Path, rounds: int) -> dict[str, Any]:
    """ONNX Runtime embedding time of the smallest report's passages and sentences by batch
    shape: padded-token budgets (``qa index`` uses 256), against fixed batches of 32 and 64
    texts."""
    from qa_service.index import store

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
    """Wall seconds, each in a fresh index folder: `qa prepare` (the set-up's model export),
    then `qa index --full` with it prepared; and `qa index --full` exporting on its own."""
    out: dict[str, Any] = {
        "prepare": [],
        "index_prepared": [],
        "index_unprepared": [],
        "index_prepared_bf16": [],
    }

    def timed(kind: str, args: list[str], env: dict[str, str] | None = None) -> None:
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        h.run_qa(args, env={**h.qa_env(), **env} if env else None)
        out[kind].append({"s": round(time.perf_counter() - t0, 2), "load": round(load, 2)})

    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            prepared, unprepared = Path(tmp) / f"prepared-{r}", Path(tmp) / f"unprepared-{r}"
            timed("prepare", ["prepare", "--index", str(prepared)])
            timed("index_prepared", ["index", "--full", "-q", "--index", str(prepared)])
            timed("index_unprepared", ["index", "--full", "-q", "--index", str(unprepared)])
            bf16 = ["index", "--full", "-q", "--index", str(prepared)]
            timed("index_prepared_bf16", bf16, {"QA_INDEX_PRECISION": "bf16"})
            shutil.rmtree(prepared)
            shutil.rmtree(unprepared)
    return out


# (name, export, intra-op threads, batches at once, passage vectors, test figures wanted)
Variant = tuple[str, str, int, int, str, bool]
VARIANTS: list[Variant] = [
    ("onnx fp32, 2 threads, passages embedded whole", "fp32", 2, 1, "passage", True),
    ("onnx fp32, 2 threads, passages pooled (qa index)", "fp32", 2, 1, "sentences", True),
    ("onnx fp32, 1 thread, pooled", "fp32", 1, 1, "sentences", False),
    ("onnx fp32, 2 batches at once x 1 thread, pooled", "fp32", 1, 2, "sentences", False),
    ("onnx int8 per channel, 2 threads, whole", "int8", 2, 1, "passage", True),
    ("onnx int8 per channel, 2 threads, pooled", "int8", 2, 1, "sentences", True),
    # QA_INDEX_PRECISION=bf16: PyTorch in bfloat16, two model copies on one thread each
    ("torch bf16, 2 copies x 1 thread, whole", "bf16", 1, 2, "passage", True),
    ("torch bf16, 2 copies x 1 thread, pooled", "bf16", 1, 2, "sentences", True),
]


def main() -> None:
    ap = h.arguments(__doc__)
    ap.add_argument("--build", action="store_true", help="also time qa prepare and qa index")
    ap.add_argument(
        "--recall", action="store_true", help="test-split figures per setting (rebuilds)"
    )
    ap.add_argument("--shapes", action="store_true", help="also time batch shapes (one report)")
    ap.add_argument("--index", type=Path, default=h.ROOT / "index")
    args = ap.parse_args()
    out = h.out_dir(args)
    settings = Settings(index_dir=args.index)
    work = workload(args.index, args.smoke)
    location = local_model_dir(settings.model)
    tmp = Path(tempfile.mkdtemp(prefix="index-speed-"))
    fp32 = encoder_dir(encoders_root(args.index), encoder_key(settings.model, location))
    exports = {"fp32": fp32}
    variants = VARIANTS[:2] if args.smoke else VARIANTS
    if not args.smoke:
        exports["int8"] = h.int8_folder(exports["fp32"], tmp / "int8-per-channel", per_channel=True)
    results: dict[str, Any] = {}
    reference: tuple[np.ndarray, np.ndarray] | None = None
    for name, export, threads, workers, passage_vectors, wanted in variants:
        emb: Embedder
        if export == "bf16":  # as IndexEncoder opens it for QA_INDEX_PRECISION=bf16
            emb = SentenceTransformerEmbedder(settings.model, precision="bf16", workers=workers)
            emb.load()
        else:
            emb = OnnxEmbedder(settings.model, folder=exports[export], threads=threads).load()
        emb.encode(work.passages[:8])  # warm-up
        encode: Encode = (
            threaded(emb, workers)
            if workers > 1 and isinstance(emb, OnnxEmbedder)
            else lambda texts, size, emb=emb: emb.encode(texts, batch_size=size)
        )
        h.log(f"{name} ...")
        pooled = passage_vectors == "sentences"
        runs = [measure(encode, work, settings.embed_batch_size, pooled)]
        for _ in range(0 if args.smoke else 2):
            runs.append(measure(encode, work, settings.embed_batch_size, pooled))
        best = max(runs, key=lambda r: r["indexed_passages_per_s"])
        pv, sv = best.pop("_vectors")
        for r in runs:
            r.pop("_vectors", None)
        if reference is None:
            reference = (pv, sv)
        best["min_cosine_to_fp32_whole"] = [
            round(float((pv * reference[0]).sum(1).min()), 5),
            round(float((sv * reference[1]).sum(1).min()), 5),
        ]
        best["runs"] = [r["indexed_passages_per_s"] for r in runs]
        best["cpu_runs"] = [r["cpu_s"] for r in runs]
        best["loads"] = [r["load_avg_1m_before"] for r in runs]
        if args.recall and wanted and not args.smoke:
            h.log(f"{name}: test split with an index made by it ...")
            target = tmp / f"index-{len(results)}"
            best["test"] = test_figures(
                exports.get(export, exports["fp32"]), passage_vectors, target, encode
            )
            shutil.rmtree(target, ignore_errors=True)
        results[name] = best
        h.log(f"{name}: {best['indexed_passages_per_s']} passages/s indexed (load {best['loads']})")
    shutil.rmtree(tmp, ignore_errors=True)
    res = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
        "mode": "smoke" if args.smoke else "full",
        "passages": len(work.passages),
        "sentences": len(work.sentences),
        "encoders": results,
        "builds": build_times(2) if args.build and not args.smoke else None,
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
        " real index, made as `qa index` makes them (longest first, batches capped in padded"
        " tokens); passage vectors embedded whole, or pooled from the sentence vectors and a"
        " heading context's (what `qa index` does: `QA_PASSAGE_VECTORS`). Load average: the"
        " machine's 1-minute load before each run (other agents' jobs included), so figures are"
        " pessimistic; CPU seconds move less with it. Test figures: `qa eval --split test"
        " --only-final` on an index made by the setting, questions embedded by its encoder.",
        "",
        "| setting | indexed passages/s | passages/s | sentences/s | CPU s | min cosine to fp32"
        " whole (passages, sentences) | runs (passages/s) | CPU s per run | load | test R@5"
        " | MRR@10 | answer@1 | answer@any |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["encoders"].items():
        t = r.get("test") or {}
        figures = " | ".join(
            str(t.get(m, "-")) for m in ("recall@5", "mrr@10", "answer@1", "answer@any")
        )
        lines.append(
            f"| {name} | {r['indexed_passages_per_s']} | {r['passages_per_s']} |"
            f" {r['sentences_per_s']} | {r['cpu_s']} | {r['min_cosine_to_fp32_whole']} |"
            f" {r['runs']} | {r['cpu_runs']} | {r['loads']} | {figures} |"
        )
    if builds := res.get("builds"):
        lines += [
            "",
            "Four reports, each command in a fresh index folder (seconds, load before):",
            "",
            f"- `qa prepare` (the set-up's model export): {builds['prepare']}",
            f"- then `qa index --full`, the export prepared: {builds['index_prepared']}",
            f"- `qa index --full` without it (the build exports): {builds['index_unprepared']}",
            "- `QA_INDEX_PRECISION=bf16 qa index --full`, the export prepared:"
            f" {builds.get('index_prepared_bf16', '-')}",
        ]
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
