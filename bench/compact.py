"""Compact vectors: int8 sentence and passage vectors against float32, on the test split.

Every variant is built from the same float32 vectors (one full build with
``QA_SENTENCE_VECTORS=float32``; the variants reuse its vectors by content hash, so only the
storage differs), then evaluated with ``qa eval --split test`` (final retriever and answers):

- float32 sentences, exact passage index: the reference (``QA_SENTENCE_VECTORS=float32``);
- int8 sentences, exact passage index: the default at this size (below 75,000 passages);
- float32 everything with an HNSW passage index (approx_threshold=1), and
- int8 sentences with the int8 HNSW passage index: the default above 75,000 passages, here
  forced on the four reports so its effect on the test figures can be measured.

Also: cosine error of int8 codes, bytes per sentence and per passage of each layout with the
10,000-report synthetic corpus's counts (bench/results/scale.md) multiplied out, and the time
to open each index (load_search_index, median of 5). The 1-minute load average is recorded:
the machine is shared, so timings are pessimistic.

Run: .venv/bin/python bench/compact.py [--smoke] [--out DIR]
  --smoke  CI check: the variants built, no evaluation.
Writes compact.{json,md}.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import harness as h
import numpy as np

from qa_service.answer.retriever import Retriever
from qa_service.answer.service import retrieval_config
from qa_service.index import store
from qa_service.index.current import load_search_index
from qa_service.index.dense import SentenceVectors
from qa_service.index.encoders import make_embedder
from qa_service.index.indexer import build_index
from qa_service.index.quantize import round_trip
from qa_service.settings import Settings

# The 10,000-report synthetic corpus (bench/results/scale.md).
SCALE_PASSAGES = 1_109_111
SCALE_SENTENCES = 5_842_250
VARIANTS = {
    "float32 sentences, flat passages (reference)": {"sentence_vectors": "float32"},
    "int8 sentences, flat passages (default < 75k passages)": {"sentence_vectors": "int8"},
    "float32 sentences, HNSW float32 passages": {
        "sentence_vectors": "float32",
        "approx_threshold": 1,
        "approx_vectors": "float32",
    },
    "int8 sentences, HNSW int8 passages (default > 75k passages)": {
        "sentence_vectors": "int8",
        "approx_threshold": 1,
        "approx_vectors": "int8",
    },
}
METRICS = ("recall@5", "mrr@10", "ndcg@10")
ANSWERS = ("answer@1", "answer@any", "wrongly_refused", "abstain")


def evaluate(index: Path, out: Path) -> dict[str, Any]:
    """``qa eval --split test`` (final retriever, answers) on one index."""
    h.run_qa(
        ["eval", "--split", "test", "--only-final", "-q", "--out", str(out), "--index", str(index)],
        h.qa_env(),
    )
    data = json.loads((out / "test.json").read_text())
    final = next(r for r in data["retrievers"] if r["name"] == data["final"])
    got = {m: final["overall"][m] for m in METRICS}
    got.update({m: data["answers"]["overall"][m] for m in ANSWERS})
    return got


def simulated(floats: np.ndarray, codec: str) -> np.ndarray:
    """What sentence vectors stored by a smaller codec would give back (not a setting: measured
    here to weigh them): "int4" (a scale per vector, codes -7..7, 196 bytes at 384
    dimensions), "binary" (signs and one scale per vector, the mean |x|: 52 bytes)."""
    if codec == "float32":  # the check: in-process figures equal the CLI's
        return floats
    if codec == "int4":
        scale = np.abs(floats).max(axis=1, keepdims=True) / 7
        return (np.clip(np.rint(floats / scale), -7, 7) * scale).astype(np.float32)
    return (np.sign(floats) * np.abs(floats).mean(axis=1, keepdims=True)).astype(np.float32)


def eval_in_process(index_dir: Path, sentences: SentenceVectors) -> dict[str, Any]:
    """The final retriever and answers on the test split, with these sentence vectors."""
    settings = Settings(index_dir=index_dir)
    index = dataclasses.replace(load_search_index(settings), sentences=sentences)
    retriever = Retriever(index, make_embedder(settings).load(), retrieval_config(settings))
    return h.eval_test_split(retriever)


def open_seconds(index: Path, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        load_search_index(Settings(index_dir=index))
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 3)


def layout(gen: Path, passages: int, sentences: int) -> dict[str, Any]:
    """Bytes of the vector files per passage and per sentence, multiplied out at 10,000 reports."""
    dense, sent = h.folder_bytes(gen / "dense"), h.folder_bytes(gen / "sentences")
    positions = sum(
        (gen / "sentences" / n).stat().st_size for n in ("sentence_owner.npy", "sentence_spans.npy")
    )
    per_sentence = (sent - positions) / sentences
    per_passage = dense / passages
    return {
        "dense_bytes": dense,
        "sentence_bytes": sent,
        "bytes_per_passage": round(per_passage, 1),
        "bytes_per_sentence_vector": round(per_sentence, 1),
        "bytes_per_sentence_positions": round(positions / sentences, 1),
        "at_10000_reports_gb": round(
            (per_passage * SCALE_PASSAGES + (sent / sentences) * SCALE_SENTENCES) / 1e9, 2
        ),
    }


def main() -> None:
    args = h.arguments(__doc__).parse_args()
    out = h.out_dir(args)
    tmp = Path(tempfile.mkdtemp(prefix="compact-"))
    corpus = h.ROOT / "corpus"
    try:
        ref_dir = tmp / "reference"
        real = h.ROOT / "index" / "encoders"
        if real.is_dir():  # the real index's export: no second export
            shutil.copytree(real, ref_dir / "encoders")
        h.log("reference build (float32, everything embedded) ...")
        t = time.perf_counter()
        build_index(
            Settings(corpus_dir=corpus, index_dir=ref_dir, sentence_vectors="float32"), full=True
        )
        ref_seconds = time.perf_counter() - t
        ref_gen = store.current_generation(ref_dir)
        ref = load_search_index(Settings(index_dir=ref_dir))
        floats = ref.sentences.rows(np.arange(len(ref.sentences)))
        back = round_trip(floats)
        cos = (floats * back).sum(1) / np.linalg.norm(back, axis=1)
        err = np.abs(back - floats).max(axis=1)
        rng = np.random.default_rng(0)
        q = floats[rng.choice(len(floats), 200, replace=False)]
        sim_err = np.abs(q @ floats.T - q @ back.T)
        quant = {
            "sentences": len(floats),
            "cosine_to_float_min": round(float(cos.min()), 6),
            "cosine_to_float_mean": round(float(cos.mean()), 6),
            "max_abs_error_per_dim": round(float(err.max()), 6),
            "similarity_error_p50": round(float(np.median(sim_err)), 6),
            "similarity_error_max": round(float(sim_err.max()), 6),
        }
        results: dict[str, Any] = {}
        for name, overrides in VARIANTS.items():
            d = tmp / f"v{len(results)}"
            shutil.copytree(ref_dir / "encoders", d / "encoders")
            s = Settings(corpus_dir=corpus, index_dir=d, **overrides)
            report = build_index(s, full=True, vectors_from=[ref_gen])
            assert report.reused["sentences_embedded"] == report.reused["passages_embedded"] == 0
            gen = store.current_generation(d)
            loaded = load_search_index(Settings(index_dir=d))
            row: dict[str, Any] = {
                "settings": overrides,
                "dense_kind": loaded.dense.kind,
                "sentence_encoding": loaded.sentences.encoding,
                **layout(gen, len(loaded.chunks), len(loaded.sentences)),
                "index_bytes": h.folder_bytes(gen),
                "load_s": open_seconds(d, 1 if args.smoke else 5),
                "load_avg_1m": round(os.getloadavg()[0], 2),
            }
            h.log(f"{name}: evaluating ...")
            if not args.smoke:
                row.update(evaluate(d, tmp / f"eval{len(results)}"))
            results[name] = row
            h.log(f"{name}: {json.dumps(row)}")
        simulations: dict[str, Any] = {}
        if not args.smoke:
            owner, spans = ref.sentences.owner, ref.sentences.spans
            for codec, nbytes in (("float32", 1536), ("int4", 196), ("binary", 52)):
                h.log(f"simulated {codec} sentence vectors: evaluating ...")
                sv = SentenceVectors(simulated(floats, codec), owner, spans)
                got = eval_in_process(ref_dir, sv)
                simulations[codec] = {"bytes_per_sentence_vector": nbytes, **got}
                h.log(f"{codec}: {simulations[codec]}")
        res = {
            "when": time.strftime("%Y-%m-%d %H:%M"),
            "cpus": os.cpu_count(),
            "mode": "smoke" if args.smoke else "full",
            "reference_build_s": round(ref_seconds, 1),
            "int8": quant,
            "variants": results,
            "simulated_sentence_codecs": simulations,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_md(res, out)


def write_md(res: dict[str, Any], out: Path) -> list[str]:
    """compact.{json,md}; the markdown lines."""
    q = res["int8"]
    lines = [
        f"# Compact vectors ({res['mode']} run {res['when']}, {res['cpus']} CPUs, shared)",
        "",
        "Every variant stores the same float32 vectors (reused by content hash from one"
        " reference build); only the storage differs. Test split, final retriever, answers as"
        " `qa eval --split test` reports them.",
        "",
        f"int8 codes of the {q['sentences']} sentence vectors: cosine to float32 min"
        f" {q['cosine_to_float_min']} (mean {q['cosine_to_float_mean']}); a query-sentence"
        f" similarity moves by {q['similarity_error_p50']} at the median,"
        f" {q['similarity_error_max']} at most (200 sentences as queries).",
        "",
        "| variant | R@5 | MRR@10 | nDCG@10 | answer@1 | answer@any | wrongly refused | abstain"
        " | bytes/passage | bytes/sentence vector | vectors at 10k reports (GB) | load s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in res["variants"].items():
        cells = [r.get(m, "-") for m in (*METRICS, *ANSWERS)]
        lines.append(
            f"| {name} | "
            + " | ".join(str(c) for c in cells)
            + f" | {r['bytes_per_passage']} | {r['bytes_per_sentence_vector']}"
            f" | {r['at_10000_reports_gb']} | {r['load_s']} |"
        )
    if res.get("simulated_sentence_codecs"):
        lines += [
            "",
            "Smaller sentence codecs, simulated (the float32 reference index with its sentence"
            " vectors replaced by what the codec gives back; flat passages; no setting writes"
            " them):",
            "",
            "| sentence codec | bytes/sentence vector | R@5 | MRR@10 | nDCG@10 | answer@1 |"
            " answer@any | wrongly refused | abstain |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for codec, r in res["simulated_sentence_codecs"].items():
            cells = " | ".join(str(r[m]) for m in (*METRICS, *ANSWERS))
            lines.append(f"| {codec} | {r['bytes_per_sentence_vector']} | {cells} |")
    lines += [
        "",
        "Vectors at 10k reports: bytes per passage (dense/ folder: vectors, graph) and per"
        " sentence (codes or floats, scales, owner and span) measured here, times the synthetic"
        f" 10,000-report corpus's {SCALE_PASSAGES:,} passages and {SCALE_SENTENCES:,} sentences."
        " An HNSW graph's size per passage is the same at any size (M=32). Load s: median of"
        f" `load_search_index` over the four reports (load average {_loads(res)}).",
    ]
    h.write_results(out, "compact", res, lines)
    return lines


def _loads(res: dict[str, Any]) -> str:
    return ", ".join(str(r["load_avg_1m"]) for r in res["variants"].values())


if __name__ == "__main__":
    main()
