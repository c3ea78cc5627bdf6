"""Adding one report to a built index (`qa index` after copying one new file into the corpus),
against a full rebuild, at the four real reports and at N synthetic ones.

Four reports: each real report in turn is the new one; the other three are indexed first
(vectors reused from the real index, so the base costs no embedding), then `qa index` runs in a
fresh process and adds the new report, whose passages and sentences are embedded for real
(texts it shares word for word with the other three, e.g. boilerplate sentences, are reused, as
they would be in production). Then `qa index` runs once more with nothing changed, and
`qa index --full` rebuilds the four reports (export present, so the one-time ONNX export is not
counted).

N reports: N synthetic reports are recombined from the sections of the three other real reports
(``bench/scale.py``'s ``synthesize``; vectors reused by content hash) and written to a corpus
folder as text files whose parse the index already holds; one real report is then added with
`qa index` in a fresh process, its text genuinely embedded. A full rebuild of N distinct reports
is not run (hours on 2 cores); it is estimated as the sum of measured parts and one
extrapolated part, all reported:
  - process start and imports (measured: a fresh interpreter importing the CLI) and opening the
    encoder (measured in the add-one runs);
  - parsing and chunking all N+1 report files (measured, in this process);
  - building the generation from parsed reports with every vector at hand (measured: FAISS, BM25,
    sentence positions, writing and checksumming, publishing);
  - embedding every passage and sentence (extrapolated: counts x seconds per text measured by the
    same encoder, in the full four-report rebuild when it ran, else in the add-one runs). The
    synthetic reports repeat real sections, so a real rebuild of *them* would embed each
    distinct text once; the estimate counts every text, as N distinct reports would need.
The same estimate is made for the four real reports and printed beside the measured rebuild,
as a check of the method.

Distinct copies (measured, no estimate): ``--copies K`` copies of each of the three other real
report files, every sentence of each copy made unique by a marker before its full stop (e.g.
"... were reviewed (copy 2).") so that nothing is reused or deduplicated between copies: a
corpus of 3K distinct reports of real size and layout whose full rebuild embeds every passage
and nearly every sentence (headings and other lines without a full stop stay shared, so the
rebuild, if anything, embeds a little less than K distinct reports would). The copies are built
with `qa index --full`, the real report is added with `qa index` (repeats), and the 3K+1
reports are rebuilt with `qa index --full`: every figure is a fresh process, measured.

Every add-one run's stages come from the ``build_seconds`` its generation's manifest records;
"start, imports, publish" is the wall time minus their sum.

With ``--before REV`` the smallest report is also added with REV's code and with this tree,
alternating, under the same stage timers (a like-for-like before/after).

Run: .venv/bin/python bench/incremental.py [--smoke] [--reports 100] [--copies 3] [--repeats 3]
                                             [--before REV]
  --smoke  CI check (< ~2 min): 10 synthetic reports, the smallest report as the new one, one
           repeat, no measured full rebuild of the four, one distinct copy of the smallest
           other report; writes bench/results/smoke/.
Full mode writes bench/results/incremental.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from run import reports_by_size as real_reports  # noqa: E402  (the real reports, smallest first)
from scale import synthesize  # noqa: E402  (read-only use of the scale bench's generator)

from qa_service import reuse, store  # noqa: E402
from qa_service.chunking import chunk_corpus  # noqa: E402
from qa_service.embedding import ModelTokenizer  # noqa: E402
from qa_service.indexer import build_index, chunk_params, index_documents  # noqa: E402
from qa_service.ingest import file_fingerprint, read_corpus  # noqa: E402
from qa_service.onnx_encoder import encoders_root  # noqa: E402
from qa_service.settings import Settings  # noqa: E402
from qa_service.tokens import tiktoken_counter  # noqa: E402

QA = Path(sys.executable).parent / "qa"
EMBED_STAGES = ("embed_passages", "embed_sentences")


def log(msg: str) -> None:
    print(f"[incremental {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def med(values: list[float]) -> float:
    return round(statistics.median(values), 3) if values else float("nan")


def link_tree(src: Path, dst: Path) -> None:
    """Copy an index folder as hard links (generations are never modified in place)."""
    shutil.rmtree(dst, ignore_errors=True)
    try:
        shutil.copytree(src, dst, copy_function=os.link)
    except OSError:  # another filesystem
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)


def qa_index(corpus: Path, index: Path, *extra: str) -> dict[str, Any]:
    """One `qa index` in a fresh process: wall seconds and what its manifest recorded."""
    cmd = [str(QA), "index", "-q", "--corpus", str(corpus), "--index", str(index), *extra]
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    manifest = store.load(index).manifest
    stages = manifest.get("build_seconds", {})
    inside = sum(v for k, v in stages.items() if k != "encoder_load") + stages.get(
        "encoder_load", 0.0
    )
    return {
        "wall_s": round(wall, 3),
        "loadavg_1m": round(load, 2),
        "stages_s": {**stages, "start_imports_publish": round(wall - inside, 3)},
        "reused": manifest["reused"],
        "embedding": manifest.get("embedding"),
        "passages": manifest["counts"]["chunks"],
        "sentences": manifest["sentences"],
    }


def import_seconds(repeats: int) -> float:
    """Median seconds for a fresh interpreter to import the CLI (what every `qa` run pays)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import qa_service.cli"], check=True)
        times.append(time.perf_counter() - t)
    return med(times)


def stages_p50(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The p50 of each stage over ``qa_index`` runs (0 for a run that lacks the stage)."""
    stages = sorted({k for run in runs for k in run["stages_s"]})
    return {k: med([r["stages_s"].get(k, 0.0) for r in runs]) for k in stages}


def full_rebuilds(corpus: Path, index: Path, ref: Path, runs: int) -> dict[str, Any]:
    """``qa index --full`` of ``corpus`` ``runs`` times into ``index`` (with ``ref``'s export)."""
    link_tree(encoders_root(ref), encoders_root(index))
    out = []
    for r in range(runs):
        out.append(qa_index(corpus, index, "--full"))
        log(f"  full rebuild {r + 1}/{runs}: {out[-1]['wall_s']:.2f} s"
            f" (load {out[-1]['loadavg_1m']})")
    return {
        "runs": runs,
        "wall_s": [r["wall_s"] for r in out],
        "p50_s": med([r["wall_s"] for r in out]),
        "stages_p50_s": stages_p50(out),
        "loadavg_1m": [r["loadavg_1m"] for r in out],
        "reused": out[-1]["reused"],
    }


def add_runs(template: Path, corpus: Path, work: Path, repeats: int) -> dict[str, Any]:
    """Add the new report to copies of ``template`` ``repeats`` times; also time a no-op."""
    runs, unchanged = [], []
    for r in range(repeats):
        index = work / "run"
        link_tree(template, index)
        runs.append(qa_index(corpus, index))
        unchanged.append(qa_index(corpus, index)["wall_s"])
        log(f"  add {r + 1}/{repeats}: {runs[-1]['wall_s']:.2f} s"
            f" (load {runs[-1]['loadavg_1m']}), unchanged {unchanged[-1]:.2f} s")
    return {
        "add_wall_s": [r["wall_s"] for r in runs],
        "add_p50_s": med([r["wall_s"] for r in runs]),
        "unchanged_wall_s": unchanged,
        "unchanged_p50_s": med(unchanged),
        "stages_p50_s": stages_p50(runs),
        "loadavg_1m": [r["loadavg_1m"] for r in runs],
        "reused": runs[-1]["reused"],
        "embedding": runs[-1]["embedding"],
        "passages": runs[-1]["passages"],
        "sentences": runs[-1]["sentences"],
    }


def rates_of(runs: dict[str, Any]) -> dict[str, float]:
    """Seconds per embedded passage and per embedded sentence in a build's stages."""
    stages, reused = runs["stages_p50_s"], runs["reused"]
    return {
        "s_per_passage": stages["embed_passages"] / max(1, reused["passages_embedded"]),
        "s_per_sentence": stages["embed_sentences"] / max(1, reused["sentences_embedded"]),
    }


def estimate_full(
    docs_dir: Path, source: Path, work: Path, rates: dict[str, float], start_s: float,
    encoder_s: float,
) -> dict[str, Any]:
    """A full rebuild of the reports in ``docs_dir``: measured parts plus extrapolated embedding.

    The generation is built from a from-scratch parse with the vectors ``source`` holds; a text
    it lacks gets a placeholder vector (counted; its embedding is in the extrapolated part).
    """
    settings = Settings(corpus_dir=docs_dir, index_dir=work / "estimate")
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    t = time.perf_counter()
    docs, problems = read_corpus(docs_dir, settings.max_file_bytes)
    tok = ModelTokenizer(settings.model).load()
    chunks = chunk_corpus(docs, chunk_params(settings, tok.max_tokens), tiktoken_counter(), tok)
    parse_s = time.perf_counter() - t
    assert not problems, problems
    previous = reuse.load_previous(Settings(index_dir=source))
    assert previous is not None
    link_tree(encoders_root(source), encoders_root(settings.index_dir))
    placeholders = [0]

    def placeholder(texts: list[str], size: int) -> np.ndarray:
        placeholders[0] += len(texts)
        vectors = np.zeros((len(texts), previous.passages.dimension), dtype=np.float32)
        vectors[:, 0] = 1.0
        return vectors

    t = time.perf_counter()
    report = index_documents(settings, docs, chunks, sources=[previous], embed=placeholder)
    rest_s = time.perf_counter() - t
    n_sentences = int(store.read_manifest(report.generation)["sentences"])
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    embed_s = len(chunks) * rates["s_per_passage"] + n_sentences * rates["s_per_sentence"]
    parts = {
        "start and imports (measured)": start_s,
        "opening the encoder (measured)": encoder_s,
        "parse and chunk every report (measured)": round(parse_s, 3),
        "build without embedding (measured)": round(rest_s, 3),
        "embed every passage and sentence (extrapolated)": round(embed_s, 3),
    }
    return {
        "reports": len(docs),
        "passages": len(chunks),
        "sentences": n_sentences,
        "placeholder_vectors": placeholders[0],
        "parts_s": parts,
        "total_s": round(sum(parts.values()), 3),
    }


def _refuse(texts: list[str], size: int) -> np.ndarray:
    raise RuntimeError(f"{len(texts)} texts have no reusable vector (e.g. {texts[0][:80]!r})")


def four_reports(
    ref: Path, work: Path, new: list[Path], repeats: int, full_runs: int
) -> dict[str, Any]:
    """Each of ``new`` added to the three other real reports; the four rebuilt in full."""
    reports = real_reports()
    ref_gen = store.current_generation(ref)
    rows = []
    for added in new:
        corpus = work / f"corpus-4-{added.stem}"
        corpus.mkdir()
        for p in reports:
            if p != added:
                shutil.copy(p, corpus / p.name)
        template = work / f"base-4-{added.stem}"
        link_tree(encoders_root(ref), encoders_root(template))
        build_index(Settings(corpus_dir=corpus, index_dir=template), vectors_from=[ref_gen])
        shutil.copy(added, corpus / added.name)
        log(f"4 reports, new one {added.name}:")
        rows.append({"added": added.name, **add_runs(template, corpus, work, repeats)})
        shutil.rmtree(template)
    full: dict[str, Any] = {"runs": 0}
    if full_runs:
        full = full_rebuilds(work / f"corpus-4-{new[0].stem}", work / "full-4", ref, full_runs)
    return {"rows": rows, "full": full}


def synthetic(ref: Path, work: Path, n: int, added: Path, repeats: int) -> dict[str, Any]:
    """N synthetic reports from the other three real ones, then ``added`` added for real."""
    previous = reuse.load_previous(Settings(index_dir=ref))
    assert previous is not None and previous.passages is not None, f"{ref}: no usable index"
    loaded = store.load(ref)
    donors = [d for d in loaded.documents.values() if d.source != added.name]
    donor_ids = {d.doc_id for d in donors}
    t = time.perf_counter()
    docs, chunks = synthesize(donors, [c for c in loaded.chunks if c.doc_id in donor_ids], n)
    corpus = work / f"corpus-{n}"
    corpus.mkdir()
    written = []
    for d in docs:  # files whose parse the base index holds (same fingerprint as `qa index`)
        path = corpus / d.source
        path.write_text(d.text, encoding="utf-8")
        written.append(replace(d, fingerprint=file_fingerprint(path)))
    log(f"{n} reports: {len(chunks)} passages synthesized in {time.perf_counter() - t:.1f} s")
    template = work / f"base-{n}"
    link_tree(encoders_root(ref), encoders_root(template))
    t = time.perf_counter()
    index_documents(
        Settings(corpus_dir=corpus, index_dir=template),
        written,
        chunks,
        sources=[previous],
        embed=_refuse,
    )
    base_s = time.perf_counter() - t
    log(f"{n} reports: base index built in {base_s:.1f} s (vectors reused)")
    shutil.copy(added, corpus / added.name)
    log(f"{n} reports, new one {added.name}:")
    runs = add_runs(template, corpus, work, repeats)
    shutil.rmtree(template)
    return {
        "reports": n,
        "added": added.name,
        "base_passages": len(chunks),
        "base_build_s": round(base_s, 2),
        **runs,
    }


# A sentence's full stop (or ! or ?) after a letter, digit or closing bracket, before a space,
# a tag or the end: where ``mark_sentences`` puts its marker.
_SENTENCE_END = re.compile(r"(?<=[A-Za-z0-9)])([.!?])(?=\s|<|$)")


def mark_sentences(text: str, tag: str) -> str:
    """``text`` with `` (tag)`` before every sentence's closing punctuation."""
    return _SENTENCE_END.sub(lambda m: f" ({tag}){m.group(1)}", text)


def distinct_copies(
    ref: Path, work: Path, copies: int, added: Path, repeats: int, full_runs: int
) -> dict[str, Any]:
    """``copies`` marked copies of each other real report, ``added`` added, all measured."""
    donors = {}
    for p in real_reports():
        if p != added:
            try:  # text, markdown and HTML; a PDF cannot be marked as text and is left out
                donors[p] = p.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                log(f"{p.name} is not UTF-8 text: no marked copies of it")
    if not donors:
        raise SystemExit("--copies: no other text report to copy")
    corpus = work / "corpus-copies"
    corpus.mkdir()
    for k in range(copies):
        for p, text in donors.items():
            marked = mark_sentences(text, f"copy {k + 1}")
            (corpus / f"copy{k + 1:02d}-{p.name}").write_text(marked, encoding="utf-8")
    n = copies * len(donors)
    template = work / "base-copies"
    link_tree(encoders_root(ref), encoders_root(template))
    base = qa_index(corpus, template, "--full")
    log(f"{n} distinct copies: full build {base['wall_s']:.1f} s, {base['passages']} passages,"
        f" {base['reused']['sentences_embedded']} sentences embedded")
    shutil.copy(added, corpus / added.name)
    log(f"{n} distinct copies, new one {added.name}:")
    runs = add_runs(template, corpus, work, repeats)
    shutil.rmtree(template)
    log(f"{n} distinct copies + {added.name}, rebuilt in full:")
    full = full_rebuilds(corpus, work / "full-copies", ref, full_runs)
    shutil.rmtree(work / "full-copies")
    return {
        "copies": copies,
        "reports": n,
        "added": added.name,
        "base_build_s": base["wall_s"],
        "base_passages": base["passages"],
        "base_reused": base["reused"],
        **runs,
        "full_wall_s": full["wall_s"],
        "full_p50_s": full["p50_s"],
        "full_reused": full["reused"],
        "full_stages_p50_s": full["stages_p50_s"],
        "full_loadavg_1m": full["loadavg_1m"],
        "ratio": round(runs["add_p50_s"] / full["p50_s"], 4),
    }


def batch_sweep(ref: Path, added: Path, rounds: int = 3) -> list[dict[str, Any]]:
    """ONNX Runtime embedding time of one report's passages and sentences by batch shape:
    the padded-token budget ``qa index`` uses, against fixed batches of 32 and 64 texts."""
    from qa_service.onnx_encoder import OnnxEmbedder

    settings = Settings(index_dir=ref)
    loaded = store.load(ref)
    chunks = [c for c in loaded.chunks if c.source == added.name]
    passages = [c.embed_text for c in chunks]
    sentences = sorted(set(reuse.sentence_texts(chunks)[0]), key=len, reverse=True)
    shapes = [(f"{b} tokens", b, 1 << 16) for b in (128, 256, 512, 1024)]
    shapes += [("32 / 64 texts (no token budget)", 1 << 30, 32)]
    seconds: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in shapes}
    for _ in range(rounds):
        for name, budget, texts_per_batch in shapes:
            enc = OnnxEmbedder(
                settings.model,
                encoders_root(ref),
                threads=settings.onnx_threads,
                batch_tokens=budget,
            ).load()
            t = time.perf_counter()
            enc.encode(passages, batch_size=texts_per_batch)
            tp = time.perf_counter() - t
            t = time.perf_counter()
            enc.encode(sentences, batch_size=texts_per_batch * 2)
            seconds[name].append((tp, time.perf_counter() - t))
    return [
        {
            "batch": name,
            "passages": len(passages),
            "passages_s": med([p for p, _ in v]),
            "sentences": len(sentences),
            "sentences_s": med([q for _, q in v]),
            "loadavg_1m": round(os.getloadavg()[0], 2),
        }
        for name, v in seconds.items()
    ]


# Stage timers put around the same functions in both code trees (``--before``).
_STAGE_DRIVER = r"""
import collections, json, sys, time
t0 = time.perf_counter()
import qa_service.cli as cli
imports = time.perf_counter() - t0
from qa_service import embedding, indexer, reuse, store
spent = collections.defaultdict(float)
in_embed = [False]  # an embed stage is running (a lazily opened encoder is timed inside it)
def timed(owner, name, label):
    if not hasattr(owner, name):
        return
    f = getattr(owner, name)
    def run(*a, **k):
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            spent[label] += time.perf_counter() - t
            if label.startswith("encoder load") and in_embed[0]:
                spent["_load inside embed"] += time.perf_counter() - t
    setattr(owner, name, run)
timed(reuse, "load_previous", "load previous generation")
timed(indexer, "read_corpus", "read files")
timed(indexer, "chunk_corpus", "chunk")
timed(indexer.DenseIndex, "build", "FAISS")
timed(indexer.LexicalIndex, "build", "BM25")
timed(embedding.SentenceTransformerEmbedder, "load", "encoder load (torch)")
timed(indexer, "ensure_encoder", "ONNX export check")
try:
    from qa_service import onnx_export
    # The time the build waited for the encoder: since c78f46a most of the opening runs on a
    # background thread while reports are parsed, so "get" (which waits for it) is timed.
    timed(onnx_export.IndexEncoder, "get", "encoder load (ONNX)")
    timed(onnx_export.IndexEncoder, "finish", "ONNX export check")
except (ImportError, AttributeError):
    pass
for name in ("write_documents", "write_chunks", "write_dir", "write_bytes", "publish"):
    timed(store.GenerationWriter, name, "write and publish")
calls = [0]
embed_missing = reuse.embed_missing
def embed(*a, **k):
    calls[0] += 1
    in_embed[0] = True
    t = time.perf_counter()
    try:
        return embed_missing(*a, **k)
    finally:
        in_embed[0] = False
        stage = "embed passages" if calls[0] == 1 else "embed sentences"
        spent[stage] += time.perf_counter() - t - spent.pop("_load inside embed", 0.0)
reuse.embed_missing = embed
sys.argv = ["qa", "index", "-q", "--corpus", sys.argv[1], "--index", sys.argv[2]]
try:
    cli.main()
except SystemExit:
    pass
spent["imports"] = imports
spent["torch imported"] = float("torch" in sys.modules)
print("STAGES " + json.dumps(spent))
"""


def before_after(rev: str, ref: Path, work: Path, added: Path, rounds: int) -> dict[str, Any]:
    """Add ``added`` to the other three real reports with the code of ``rev`` and with this
    tree, alternating, the same stage timers around the same functions."""
    old = work / "before-code"
    old.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "qa_service"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    corpus = work / "ba-corpus"
    corpus.mkdir()
    for p in real_reports():
        if p != added:
            shutil.copy(p, corpus / p.name)
    template = work / "ba-base"
    link_tree(encoders_root(ref), encoders_root(template))
    build_index(
        Settings(corpus_dir=corpus, index_dir=template),
        vectors_from=[store.current_generation(ref)],
    )
    shutil.copy(added, corpus / added.name)
    runs: dict[str, list[dict[str, float]]] = {rev: [], "this tree": []}
    for _ in range(rounds):
        for name, code in ((rev, old), ("this tree", ROOT)):
            link_tree(template, work / "run")
            env = {**os.environ, "PYTHONPATH": str(code)}
            load = os.getloadavg()[0]
            t = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", _STAGE_DRIVER, str(corpus), str(work / "run")],
                capture_output=True, text=True, cwd=code, env=env, check=True,
            )
            wall = time.perf_counter() - t
            line = next(x for x in proc.stdout.splitlines() if x.startswith("STAGES "))
            stages = json.loads(line[len("STAGES "):])
            runs[name].append({**stages, "wall": wall, "load average": load})
            log(f"  {name}: {wall:.2f} s (load {load:.2f})")
    keys = sorted({k for rs in runs.values() for r in rs for k in r})
    return {
        "added": added.name,
        "rounds": rounds,
        "p50_s": {k: {name: med([r.get(k, 0.0) for r in rs]) for name, rs in runs.items()}
                  for k in keys},
    }


def write_md(res: dict[str, Any], path: Path) -> None:
    four, big = res["four"], res["synthetic"]
    lines = [
        f"# Adding one report to a built index ({res['mode']} mode, {res['machine']},"
        f" {res['when']})",
        "",
        "`qa index` in a fresh process after one report file was copied into the corpus folder;"
        " wall seconds, p50 over the repeats (n given), 1-minute load average at each run"
        " (other jobs share the machine). Method: `bench/incremental.py` docstring.",
        "",
        "## Four real reports: each one added to the other three",
        "",
        "| new report | n | add one (s) | x full rebuild | unchanged rebuild (s) | passages"
        " embedded / reused | sentences embedded / reused | backend | load avg |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    full4 = four["full"].get("p50_s") or res["estimate_4"]["total_s"]
    for row in four["rows"]:
        u = row["reused"]
        lines.append(
            f"| {row['added']} | {len(row['add_wall_s'])} | {row['add_p50_s']}"
            f" | {row['add_p50_s'] / full4:.3f} | {row['unchanged_p50_s']}"
            f" | {u['passages_embedded']} / {u['passages_reused']}"
            f" | {u['sentences_embedded']} / {u['sentences_reused']}"
            f" | {row['embedding']['backend']} | {row['loadavg_1m']} |"
        )
    est4 = res["estimate_4"]
    if four["full"]["runs"]:
        f = four["full"]
        lines += [
            "",
            f"Full rebuild of the four (`qa index --full`, export present): p50 {f['p50_s']} s"
            f" over {f['runs']} runs {f['wall_s']}, load {f['loadavg_1m']}. The estimate method"
            f" used below gives {est4['total_s']} s for it"
            f" ({est4['total_s'] / f['p50_s']:.2f} x the measured rebuild).",
        ]
    else:
        lines += ["", f"Full rebuild of the four: not run in this mode; estimated {est4['total_s']}"
                  " s (same method as below); the x column uses the estimate."]
    est = res["estimate_n"]
    lines += [
        "",
        f"## {big['reports']} synthetic reports + {big['added']}",
        "",
        f"Base: {big['reports']} synthetic reports, {big['base_passages']} passages, built in"
        f" {big['base_build_s']} s with every vector reused; {big['passages']} passages after"
        " the addition.",
        "",
        "| figure | seconds |",
        "|---|---|",
        f"| add one report, p50 of {len(big['add_wall_s'])} ({big['add_wall_s']}) |"
        f" {big['add_p50_s']} |",
        f"| rebuild with nothing changed, p50 | {big['unchanged_p50_s']} |",
        f"| full rebuild of {est['reports']} reports, estimated ({est['passages']} passages,"
        f" {est['sentences']} sentences) | {est['total_s']} |",
    ]
    lines += [f"| &nbsp;&nbsp;{k} | {v} |" for k, v in est["parts_s"].items()]
    lines += [
        f"| **add one / full rebuild** | **{big['add_p50_s'] / est['total_s']:.4f}** |",
        "",
        f"Embedding rates used: {res['rates']['s_per_passage'] * 1000:.1f} ms per passage,"
        f" {res['rates']['s_per_sentence'] * 1000:.2f} ms per sentence"
        f" ({res['rates']['source']}). Placeholder vectors in the estimate build:"
        f" {est['placeholder_vectors']} (texts a from-scratch parse of the synthetic files words"
        " differently from the recombined chunks; their embedding is in the extrapolated row).",
        "",
        "## Where an add-one run spends its time (p50 seconds per stage)",
        "",
        "| stage | " + " | ".join(r["added"].split("-")[0] for r in four["rows"])
        + f" | {big['reports']} synthetic + {big['added'].split('-')[0]} |",
        "|---|" + "---|" * (len(four["rows"]) + 1),
    ]
    stages = sorted(
        {k for r in [*four["rows"], big] for k in r["stages_p50_s"]},
        key=lambda k: -big["stages_p50_s"].get(k, 0.0),
    )
    for k in stages:
        cells = [str(r["stages_p50_s"].get(k, "")) for r in [*four["rows"], big]]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines += ["", f"Start-up (fresh interpreter importing the CLI): {res['import_s']} s."]
    if res.get("copies"):
        c = res["copies"]
        fr, br = c["full_reused"], c["base_reused"]
        lines += [
            "",
            f"## {c['reports']} distinct reports ({c['copies']} marked copies of each other real"
            f" report) + {c['added']}, every figure measured",
            "",
            f"Base: `qa index --full` of the {c['reports']} copies, {c['base_build_s']} s"
            f" ({c['base_passages']} passages and {br['sentences_embedded']} sentences embedded).",
            "",
            "| figure | seconds |",
            "|---|---|",
            f"| add one report, p50 of {len(c['add_wall_s'])} ({c['add_wall_s']}) |"
            f" {c['add_p50_s']} |",
            f"| &nbsp;&nbsp;of which embedding | "
            f"{round(sum(c['stages_p50_s'].get(k, 0.0) for k in EMBED_STAGES), 3)} |",
            f"| rebuild with nothing changed, p50 | {c['unchanged_p50_s']} |",
            f"| `qa index --full` of all {c['reports'] + 1}, p50 of {len(c['full_wall_s'])}"
            f" ({c['full_wall_s']}; {fr['passages_embedded']} passages and"
            f" {fr['sentences_embedded']} sentences embedded) | {c['full_p50_s']} |",
            f"| &nbsp;&nbsp;of which embedding | "
            f"{round(sum(c['full_stages_p50_s'].get(k, 0.0) for k in EMBED_STAGES), 3)} |",
            f"| **add one / full rebuild** | **{c['ratio']:.4f}** |",
            "",
            f"Load average at the add-one runs {c['loadavg_1m']}, at the full rebuilds"
            f" {c['full_loadavg_1m']}.",
        ]
    if res.get("before_after"):
        ba = res["before_after"]
        names = list(next(iter(ba["p50_s"].values())))
        lines += [
            "",
            f"## Before and after: {ba['added']} added to the other three (p50 of"
            f" {ba['rounds']}, alternating)",
            "",
            "Stage timers around the same functions in both code trees; \"wall\" is the"
            " whole process; \"torch imported\" is 1 when the process imported torch.",
            "",
            "| stage | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for k, v in sorted(ba["p50_s"].items(), key=lambda kv: -kv[1][names[0]]):
            lines.append(f"| {k} | " + " | ".join(str(v[n]) for n in names) + " |")
    if res.get("batches"):
        lines += [
            "",
            "## ONNX Runtime batch shape (the new report's texts, p50 seconds over 3 rounds)",
            "",
            "| batch | passages (s) | sentences (s) | load avg |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {b['batch']} | {b['passages_s']} ({b['passages']}) |"
            f" {b['sentences_s']} ({b['sentences']}) | {b['loadavg_1m']} |"
            for b in res["batches"]
        ]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--reports", type=int, default=100, help="synthetic corpus size")
    ap.add_argument("--copies", type=int, default=3,
                    help="distinct marked copies of each other real report (0: skip)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--index", type=Path, default=ROOT / "index", help="the real index")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--before", metavar="REV", help="also time adding a report with REV's code")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    n, repeats = (10, 1) if args.smoke else (args.reports, args.repeats)
    reports = real_reports()
    new = reports[:1] if args.smoke else reports
    out = args.out or (ROOT / "bench" / "results" / ("smoke" if args.smoke else ""))
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="qa-incremental-") as tmp:
        work = Path(tmp)
        ref = work / "ref"  # a private copy: the real index may be republished meanwhile
        store.current_generation(args.index)  # a clear error if there is none
        link_tree(args.index, ref)
        four = four_reports(ref, work, new, repeats, 0 if args.smoke else repeats)
        big = synthetic(ref, work, n, reports[0], repeats)
        if four["full"]["runs"]:
            rates = {**rates_of(four["full"]), "source": "measured in the full four-report rebuild"}
        else:
            rates = {**rates_of(big), "source": "measured in the add-one runs"}
        batches = [] if args.smoke else batch_sweep(ref, reports[0])
        ba = before_after(args.before, ref, work, reports[0], repeats) if args.before else None
        start_s = import_seconds(repeats)
        encoder_s = big["stages_p50_s"].get("encoder_load", 0.0)
        estimate_4 = estimate_full(ROOT / "corpus", ref, work, rates, start_s, encoder_s)
        estimate_n = estimate_full(work / f"corpus-{n}", work / "run", work, rates, start_s,
                                   encoder_s)
        copies = distinct_copies(ref, work, 1 if args.smoke else args.copies, reports[0],
                                 repeats, 1 if args.smoke else repeats) if args.copies else None
    res = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{os.cpu_count()} CPUs, load average {load_before:.2f} at start",
        "mode": "smoke" if args.smoke else "full",
        "import_s": start_s,
        "rates": rates,
        "four": four,
        "estimate_4": estimate_4,
        "synthetic": big,
        "estimate_n": estimate_n,
        "ratio_n": round(big["add_p50_s"] / estimate_n["total_s"], 4),
        "copies": copies,
        "batches": batches,
        "before_after": ba,
    }
    (out / "incremental.json").write_text(json.dumps(res, indent=2))
    write_md(res, out / "incremental.md")
    from plots import plot_incremental

    plot_incremental(res, out)
    log(f"add one at {n}: {big['add_p50_s']} s vs full {estimate_n['total_s']} s (estimated):"
        f" {res['ratio_n']}x; wrote {out / 'incremental.md'}")
    if copies:
        log(f"add one at {copies['reports']} distinct: {copies['add_p50_s']} s vs full"
            f" {copies['full_p50_s']} s (measured): {copies['ratio']}x")


if __name__ == "__main__":
    main()
