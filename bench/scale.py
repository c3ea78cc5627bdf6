"""Scale benchmark: synthetic corpora of 100, 1,000 and 10,000 reports made by recombining the
real reports' sections, indexed and searched.

How the synthetic reports are made: each one takes the length of a randomly chosen real report
and is filled with whole top-level sections (with their subsections) drawn at random from all
real reports, given a random force, type and year. Sections are copied with their parsed
structure, blocks and chunks (offsets shifted), so the text stays real and every passage keeps
the CONTRACT offset rule. Chunking is section-bounded, so these are exactly the chunks the
chunker makes of such a report; parsing and chunking are therefore not repeated here but
extrapolated from their measured per-report rate on the real reports.

Vectors: embedding 10,000 reports would take hours on 2 cores, so every passage and sentence
vector is reused, by content hash, from the real index (the same mechanism as incremental
indexing; the run fails if any text lacks a vector). Embedding time is extrapolated from the
measured passages/s and sentences/s of the real build. Everything else is measured: building
the generation (vector assembly, FAISS flat or HNSW, BM25, writing and checksumming files),
peak memory, size on disk, load time, and search latency by stage.

Run: .venv/bin/python bench/scale.py [--sizes 100 1000 10000] [--smoke] [--out DIR]
       [--work DIR [--search-only]] [--agreement] [--store {embedded,milvus}]
With --work the built indexes are kept there; --search-only then loads them again and times the
searches only (the build columns come from the build run). --agreement compares the candidate
path with an exact scan (sizes up to 1,000 reports).
Each size runs in its own process (so peak memory is its own) and writes
``<out>/scale.json`` and ``<out>/scale.md``.

--store milvus measures the Milvus store instead (QA_STORE=milvus, on Milvus Lite): each
generation, built as above, is published into a Milvus Lite folder as `qa index` does, then
opened through the normal loader and searched in a fresh process (a Lite folder is locked by
the process that opened it); the four-report baseline is the real index published the same
way. Parsing and embedding rates are not re-measured (they do not depend on the store).
Writes ``<out>/scale-milvus.{json,md}`` and ``scale-stores-p50-load-disk.png`` (against the
committed embedded runs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness as h
import numpy as np

from qa_service.index import reuse, store
from qa_service.index.dense import SENTENCE_F16_ABOVE
from qa_service.index.indexer import index_documents
from qa_service.search.retriever import FUSION_SCAN_LIMIT
from qa_service.settings import Settings

AGREEMENT_MAX_REPORTS = 1_000
# A size is run on Milvus Lite only if its build, publish and load are extrapolated to fit in
# this (2 shared cores) and its processes' memory too.
LIMIT_MINUTES, LIMIT_GB = 25, 8


def _manifest(generation: Path) -> dict[str, Any]:
    """A generation's manifest alone (loading the generation would read gigabytes at 10k)."""
    data: dict[str, Any] = json.loads((generation / store.MANIFEST).read_text(encoding="utf-8"))
    return data


def search_latency(settings: Settings, questions: list[str]) -> dict[str, Any]:
    """Load an index and time uncached searches, in total and by stage."""
    from qa_service.answer.service import open_retriever

    t = time.perf_counter()
    retriever = open_retriever(settings)
    load_s = time.perf_counter() - t
    retriever.warm()  # as the server does before it serves (per-text caches up to 5,000 passages)
    for q in questions[:5]:
        retriever.search(q)  # warm-up
    samples = h.search_stages(retriever, questions)
    totals = samples.pop("total")
    return {
        "load_s": round(load_s, 2),
        "search_ms": h.stats(totals),
        "stages_ms": {k: h.stats(v) for k, v in samples.items()},
    }


def agreement(settings: Settings, questions: list[str]) -> dict[str, Any]:
    """The candidate path against an exact scan of the same index (flat FAISS, every passage
    scored and fused): how often the first passage is the same, and the top-5 overlap."""
    import dataclasses

    from qa_service.answer.retriever import Retriever
    from qa_service.answer.service import open_retriever
    from qa_service.index.dense import DenseIndex

    cand = open_retriever(settings)
    dense = cand.index.dense
    flat = DenseIndex.build(dense.rows(np.arange(len(dense))), approx_threshold=1 << 62)
    exact = Retriever(
        dataclasses.replace(cand.index, dense=flat),
        cand.embedder,
        cand.config,
        fusion_scan_limit=1 << 62,
    )
    first = n = 0
    overlap = 0.0
    for q in questions:
        a, b = exact.search(q), cand.search(q)
        ea, eb = [h.row for h in a.hits], [h.row for h in b.hits]
        if not ea:
            continue
        n += 1
        first += bool(eb) and ea[0] == eb[0]
        overlap += len(set(ea) & set(eb)) / len(ea)
    return {
        "questions": n,
        "same_first": round(first / n, 3),
        "top5_overlap": round(overlap / n, 3),
    }


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_real(real_index: Path, questions: list[str]) -> dict[str, Any]:
    """The baseline: the real four-report index, searched the same way."""
    manifest = _manifest(store.current_generation(real_index))
    return {
        "reports": manifest["counts"]["documents"],
        "real": True,
        "passages": manifest["counts"]["chunks"],
        "sentences": manifest["sentences"],
        "dense_kind": manifest["dense"]["kind"],
        "index_bytes": h.folder_bytes(store.current_generation(real_index)),
        **search_latency(Settings(index_dir=real_index), questions),
        "peak_rss_mb": _peak_mb(),
    }


def build_synthetic(size: int, real_index: Path, work: Path) -> tuple[dict[str, Any], Path]:
    """Synthesize one corpus size and build its generation in ``work/index-<size>``: the
    build's figures, and the generation."""
    real = store.load(real_index)
    previous = reuse.load_previous(Settings(index_dir=real_index))
    assert previous is not None and previous.passages is not None, "the real index is unusable"
    t = time.perf_counter()
    docs, chunks = h.synthesize(list(real.documents.values()), real.chunks, size)
    synth_s = time.perf_counter() - t
    h.log(f"{size} reports: {len(chunks)} passages synthesized in {synth_s:.1f}s")
    settings = Settings(index_dir=work / f"index-{size}")
    t = time.perf_counter()
    report = index_documents(settings, docs, chunks, sources=[previous], embed=h.no_embedding)
    build_s = time.perf_counter() - t
    manifest = _manifest(report.generation)
    h.log(f"{size} reports: built in {build_s:.1f}s ({manifest['dense']['kind']})")
    row = {
        "reports": size,
        "passages": len(report.chunks),
        "sentences": manifest["sentences"],
        "dense_kind": manifest["dense"]["kind"],
        "synthesize_s": round(synth_s, 2),
        "build_s": round(build_s, 2),
        "vectors_reused": report.reused,
    }
    return row, report.generation


def run_one(size: int, real_index: Path, work: Path, questions: list[str]) -> dict[str, Any]:
    """Synthesize, build and search one corpus size (in this process); 0: the real index."""
    if size == 0:
        return run_real(real_index, questions)
    row, generation = build_synthetic(size, real_index, work)
    return {
        **row,
        "build_peak_rss_mb": _peak_mb(),
        "index_bytes": h.folder_bytes(generation),
        "disk_mb": disk_by_part(generation),
        **search_latency(Settings(index_dir=work / f"index-{size}"), questions),
        "peak_rss_mb": _peak_mb(),
    }


def disk_by_part(generation: Path) -> dict[str, float]:
    """MB (10^6 bytes) of each top-level part of a generation (a folder, or a file)."""
    parts: dict[str, int] = {}
    for path in generation.rglob("*"):
        if path.is_file():
            top = path.relative_to(generation).parts[0]
            parts[top] = parts.get(top, 0) + path.stat().st_size
    return {k: round(v / 1e6, 1) for k, v in sorted(parts.items())}


def publish_milvus(size: int, real_index: Path, work: Path) -> dict[str, Any]:
    """The Milvus store: build one corpus size's generation as ``run_one`` does (0: the real
    index's) and publish it into the Milvus Lite folder ``work/milvus-<size>.db``. Searching
    is left to another process: the folder stays locked by this one until it exits."""
    db = work / f"milvus-{size}.db"
    if size == 0:
        generation = store.current_generation(real_index)
        manifest = _manifest(generation)
        row: dict[str, Any] = {
            "reports": manifest["counts"]["documents"],
            "real": True,
            "passages": manifest["counts"]["chunks"],
            "sentences": manifest["sentences"],
            "dense_kind": manifest["dense"]["kind"],
        }
        staging = real_index
    else:
        row, generation = build_synthetic(size, real_index, work)
        staging = work / f"index-{size}"
        # A reader encodes questions with the ONNX export under its index folder, as a
        # replica given a copy of <index>/encoders/ does (docs/milvus.md).
        encoders = real_index / "encoders"
        if encoders.is_dir() and not (staging / "encoders").exists():
            (staging / "encoders").symlink_to(encoders.resolve(), target_is_directory=True)
    publish_s = h.publish_generation(staging, generation, db)
    h.log(f"{size} reports: published into Milvus Lite in {publish_s:.1f}s")
    return {
        **row,
        "publish_s": round(publish_s, 2),
        "build_peak_rss_mb": _peak_mb(),
        "index_bytes": h.lite_bytes(db),
        "staging_bytes": h.folder_bytes(generation),
    }


def settings_of(store_name: str, index: Path, work: Path, size: int) -> Settings:
    """The settings a search process opens one size's index with, on either store."""
    if store_name == "milvus":
        return h.milvus_settings(index, work / f"milvus-{size}.db")
    return Settings(index_dir=index)


def real_rates(real_index: Path) -> dict[str, Any]:
    """Per-report parse+chunk time and embedding rates measured on the real reports."""
    from qa_service.index.chunking import chunk_corpus
    from qa_service.index.embedding import ModelTokenizer, SentenceTransformerEmbedder
    from qa_service.index.indexer import chunk_params
    from qa_service.index.tokens import tiktoken_counter
    from qa_service.ingest import read_corpus

    settings = Settings()
    t = time.perf_counter()
    docs, _ = read_corpus(settings.corpus_dir, settings.max_file_bytes)
    tok = ModelTokenizer(settings.model).load()
    chunks = chunk_corpus(
        docs,
        chunk_params(settings, tok.max_tokens),
        tiktoken_counter(settings.tiktoken_encoding),
        tok,
    )
    parse_chunk_s = (time.perf_counter() - t) / len(docs)
    embedder = SentenceTransformerEmbedder(
        settings.model, settings.device, settings.torch_threads, settings.blas_threads
    ).load()
    sample = [c.embed_text for c in chunks[:64]]
    embedder.encode(sample[:8])
    t = time.perf_counter()
    embedder.encode(sample, batch_size=settings.embed_batch_size)
    passages_per_s = len(sample) / (time.perf_counter() - t)
    sentences = reuse.sentence_texts(chunks[:64])[0]
    t = time.perf_counter()
    embedder.encode(sentences, batch_size=settings.embed_batch_size * 2)
    sentences_per_s = len(sentences) / (time.perf_counter() - t)
    return {
        "parse_chunk_s_per_report": round(parse_chunk_s, 3),
        "passages_per_s": round(passages_per_s, 1),
        "sentences_per_s": round(sentences_per_s, 1),
    }


def write_md(res: dict[str, Any], out: Path, results_name: str = "scale") -> list[str]:
    """<name>.{json,md} (scale.{json,md} by default); the markdown lines."""
    rates = res["rates"]
    lines = [
        "# Scale benchmark (synthetic corpora)",
        "",
        f"Run {res['when']} on {res['machine']}. Synthetic reports recombine the real reports'"
        " top-level sections; **vectors are reused from the real index by content hash** (not"
        " embedded), so build times below exclude parsing, chunking and embedding, which are"
        " extrapolated from rates measured in the same run on the real reports:"
        f" parse+chunk {rates['parse_chunk_s_per_report']} s/report,"
        f" {rates['passages_per_s']} passages/s, {rates['sentences_per_s']} sentences/s.",
        "",
        "| reports | passages | sentences | FAISS | build s (measured) | + parse/chunk s (extrap.)"
        " | + embedding s (extrap.) | peak RSS MB | index on disk MB | load s | search p50 ms"
        " | p95 ms | p99 ms | p50 vs real |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in res["sizes"]:
        real = r.get("real")
        name = f"{r['reports']} (the real corpus)" if real else str(r["reports"])
        extra = (
            "| - | - | - "
            if real
            else f"| {r['build_s']} | {r['extrapolated_parse_chunk_s']:.0f} |"
            f" {r['extrapolated_embed_s']:.0f} "
        )
        lines.append(
            f"| {name} | {r['passages']} | {r['sentences']} | {r['dense_kind']} {extra}|"
            f" {r['peak_rss_mb']} | {r['index_bytes'] / 1e6:.0f} | {r['load_s']} |"
            f" {r['search_ms']['p50']} | {r['search_ms']['p95']} | {r['search_ms']['p99']} |"
            f" {r.get('search_p50_vs_real', '1.0')} |"
        )
    lines += [
        "",
        f"Search path: up to {FUSION_SCAN_LIMIT:,} passages every passage is scored and fusion"
        " normalises over all of them (the four-report evaluation's path); above it the BM25"
        " top passages (read off a lower bound of the k-th score; a term in more than a fifth"
        " of the passages is added as one corpus-sized score array, built when the index is"
        " loaded, instead of scattering its postings) and the dense index's top passages are"
        " pooled, and only the pool is scored and fused (qa_service/search/candidates.py; a filter"
        " leaving few passages is scored exactly over them). Sentence vectors are stored as"
        " `QA_SENTENCE_VECTORS` says (the default, `auto`: int8 codes while the passage index is"
        " exact, 64-byte product-quantised codes once it is HNSW; the passage vectors of an HNSW"
        " index are only its graph's 8-bit codes, store format 6), memory-mapped, and BM25"
        " scores take one byte a posting; an index with more than"
        f" {SENTENCE_F16_ABOVE:,} float32 sentence vectors (`QA_SENTENCE_VECTORS=float32`) holds"
        " them in RAM as float16. The questions are the evaluation questions"
        " that name no force, by their gold force or in their words: a question naming a force"
        " the corpus lacks is refused before any search, so at four reports it would time"
        " nothing where at 10,000 (every force) it times a whole search.",
    ]
    lines += ["", "Search p50 by stage (ms):", ""]
    lines.append("| reports | " + " | ".join(h.STAGES) + " |")
    lines.append("|---|" + "---|" * len(h.STAGES))
    for r in res["sizes"]:
        cells = [str(r["stages_ms"].get(s, {}).get("p50", "")) for s in h.STAGES]
        lines.append(f"| {r['reports']} | " + " | ".join(cells) + " |")
    agreed = [r for r in res["sizes"] if "agreement" in r]
    if agreed:
        lines += [
            "",
            "The candidate path against an exact scan of the same index (flat FAISS, every"
            " passage scored and fused), on every evaluation question:",
            "",
            "| reports | questions | same first passage | top-5 overlap |",
            "|---|---|---|---|",
        ]
        for r in agreed:
            a = r["agreement"]
            lines.append(
                f"| {r['reports']} | {a['questions']} | {a['same_first']} | {a['top5_overlap']} |"
            )
    disk = [r for r in res["sizes"] if r.get("disk_mb")]
    if disk:
        parts = sorted({p for r in disk for p in r["disk_mb"]})
        lines += ["", "Index on disk by part (MB, 10^6 bytes):", ""]
        lines.append("| reports | " + " | ".join(parts) + " |")
        lines.append("|---|" + "---|" * len(parts))
        for r in disk:
            cells = [str(r["disk_mb"].get(p, "")) for p in parts]
            lines.append(f"| {r['reports']} | " + " | ".join(cells) + " |")
    h.write_results(out, results_name, res, lines)
    return lines


def _child(size: int, work: str, args: argparse.Namespace, n_q: int, extra: list[str]) -> Any:
    """Run one size in a fresh process (its peak memory its own); the row it printed."""
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--one",
            str(size),
            "--work",
            work,
            "--index",
            str(args.index),
            "--questions",
            str(n_q),
            "--store",
            args.store,
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=h.qa_env(),
    )
    if proc.returncode != 0:
        raise SystemExit(f"size {size} failed:\n{proc.stderr[-3000:]}")
    sys.stderr.write(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = h.arguments(__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--index", type=Path, default=h.ROOT / "index", help="the real index")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child: run one size
    ap.add_argument(
        "--work",
        type=Path,
        help="keep the built indexes here; with --search-only, re-measure only the searches",
    )
    ap.add_argument("--search-only", action="store_true")
    ap.add_argument(
        "--name",
        default="scale",
        help="results file name (e.g. scale-compact for a run of another store setting)",
    )
    ap.add_argument(
        "--store",
        choices=["embedded", "milvus"],
        default="embedded",
        help="milvus: publish each corpus into a Milvus Lite folder (as `qa index` does with"
        " QA_STORE=milvus) and search it from another process; writes scale-milvus.{json,md}",
    )
    ap.add_argument(
        "--agreement",
        action="store_true",
        help="also compare the candidate path with an exact scan on every evaluation question,"
        f" at sizes up to {AGREEMENT_MAX_REPORTS:,} reports (the scan holds a flat copy of the"
        " vectors and scores every passage)",
    )
    args = ap.parse_args()
    if args.agreement and args.store == "milvus":
        ap.error("--agreement compares search paths on the embedded store only")
    n_q = 10 if args.smoke else args.questions
    # Questions naming no force: the synthetic reports' forces are random, and a question about
    # a force the corpus lacks returns early, which would flatter the latency of the size
    # that lacks it (harness.load_questions).
    questions = h.load_questions(n_q, no_force=True)
    if args.one is not None:
        row_file = args.work / f"row-{args.one}.json"
        if args.search_only and row_file.is_file():  # built before: time the searches again
            row = json.loads(row_file.read_text())
            index = args.index if args.one == 0 else args.work / f"index-{args.one}"
            row.update(
                search_latency(settings_of(args.store, index, args.work, args.one), questions)
            )
            row["peak_rss_mb"] = _peak_mb()
        elif args.store == "milvus":
            row = publish_milvus(args.one, args.index, args.work)
        else:
            row = run_one(args.one, args.index, args.work, questions)
        if args.agreement and 0 < args.one <= AGREEMENT_MAX_REPORTS:
            every = h.load_questions()
            row["agreement"] = agreement(Settings(index_dir=args.work / f"index-{args.one}"), every)
        row_file.write_text(json.dumps(row))
        print(json.dumps(row))
        return
    sizes = [20] if args.smoke else args.sizes
    out = h.out_dir(args)
    # Parsing and embedding do not depend on the store: scale.md has their rates.
    rates = real_rates(args.index) if args.store == "embedded" else None
    h.log(f"real rates: {rates}")
    results: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        if args.work:
            tmp = str(args.work)
            args.work.mkdir(parents=True, exist_ok=True)
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="qa-scale-"))
        for size in [0, *sizes]:  # 0: the real index, the baseline
            extra = ["--search-only"] if args.search_only else []
            extra += ["--agreement"] if args.agreement else []
            steps = [extra]
            if args.store == "milvus":  # publish, then search in a fresh process (Lite's lock)
                steps = [["--search-only"]] if args.search_only else [[], ["--search-only"]]
            for step in steps:
                row = _child(size, tmp, args, n_q, step)
            if rates and size:
                row["extrapolated_parse_chunk_s"] = size * rates["parse_chunk_s_per_report"]
                row["extrapolated_embed_s"] = (
                    row["passages"] / rates["passages_per_s"]
                    + row["sentences"] / rates["sentences_per_s"]
                )
            if size:
                row["search_p50_vs_real"] = round(
                    row["search_ms"]["p50"] / results[0]["search_ms"]["p50"], 2
                )
            results.append(row)
            h.log(f"{row['reports']}: {json.dumps(row['search_ms'])}, peak {row['peak_rss_mb']} MB")
            if not args.work:
                shutil.rmtree(Path(tmp) / f"index-{size}", ignore_errors=True)
                shutil.rmtree(Path(tmp) / f"milvus-{size}.db", ignore_errors=True)
    res = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{h.machine()['cpus']} CPUs",
        "mode": "smoke" if args.smoke else "full",
        "rates": rates,
        "sizes": results,
    }
    if args.store == "milvus":
        if 10_000 not in sizes:
            res["notes"] = h.not_run_note(results, 10_000, LIMIT_MINUTES, LIMIT_GB)
        h.write_results(out, "scale-milvus", res, h.scale_md(res, h.STAGES))
        from plots import plot_scale_stores

        plot_scale_stores(res, out)
        return
    write_md(res, out, args.name)
    if args.name != "scale":
        return  # the committed scale plot stays the default run's
    from plots import plot_scale

    plot_scale(res, out)


if __name__ == "__main__":
    main()
