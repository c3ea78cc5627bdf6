"""Adding one report to a built index (`qa index` after copying one new file into the corpus),
against a full rebuild, at the four real reports, at distinct copies of them and at N synthetic
reports. Every figure is `qa index` in a fresh process; its stages come from the
``build_seconds`` the new generation's manifest records ("start, imports, publish" is the wall
time outside them).

- Four reports: each real report in turn is added to an index of the other three (vectors
  reused from the real index, so the base costs no embedding); its passages and sentences are
  embedded for real. Then `qa index` with nothing changed, and `qa index --full` of the four
  (export present).
- Distinct copies (``--copies K``, all measured): K copies of each other real report, every
  sentence made unique by a marker before its full stop ("... were reviewed (copy 2).") so
  nothing is reused between copies; built with `qa index --full`, the real report added, then
  the 3K+1 reports rebuilt with `qa index --full`.
- N synthetic reports (``harness.synthesize``, vectors reused by content hash), written as text
  files whose parse the index holds; one real report added for real. Their full rebuild (hours
  on 2 cores) is estimated: start and imports, opening the encoder, parsing and chunking all
  N+1 files, and building without embedding are measured; embedding every passage and sentence
  is extrapolated from the seconds per text of the same encoder. The same estimate is printed
  beside the measured four-report rebuild, as a check of the method.

Run: .venv/bin/python bench/incremental.py [--smoke] [--reports 100] [--copies 3] [--repeats 3]
  --smoke  CI check (< ~2 min): 10 synthetic reports, the smallest report as the new one, one
           repeat, no measured full rebuild of the four, one copy of each other report.
Writes incremental.{json,md,png}.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import harness as h
import numpy as np

from qa_service.index import reuse, store
from qa_service.index.chunking import chunk_corpus
from qa_service.index.embedding import ModelTokenizer
from qa_service.index.indexer import build_index, chunk_params, index_documents
from qa_service.index.onnx_files import encoders_root
from qa_service.index.tokens import tiktoken_counter
from qa_service.ingest import file_fingerprint, read_corpus
from qa_service.settings import Settings

EMBED_STAGES = ("embed_passages", "embed_sentences")


def import_seconds(repeats: int) -> float:
    """Median seconds for a fresh interpreter to import the CLI (what every `qa` run pays)."""
    cmd = [sys.executable, "-c", "import qa_service.cli"]
    return h.median(h.time_ms(lambda: subprocess.run(cmd, check=True), repeats)) / 1000


def stages_p50(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The p50 of each stage over ``qa_index`` runs (0 for a run that lacks the stage)."""
    stages = sorted({k for run in runs for k in run["stages_s"]})
    return {k: h.median([r["stages_s"].get(k, 0.0) for r in runs]) for k in stages}


def full_rebuilds(corpus: Path, index: Path, ref: Path, runs: int) -> dict[str, Any]:
    """``qa index --full`` of ``corpus`` ``runs`` times into ``index`` (with ``ref``'s export)."""
    h.link_tree(encoders_root(ref), encoders_root(index))
    out = []
    for r in range(runs):
        out.append(h.qa_index(corpus, index, "--full"))
        h.log(
            f"  full rebuild {r + 1}/{runs}: {out[-1]['wall_s']:.2f} s"
            f" (load {out[-1]['loadavg_1m']})"
        )
    return {
        "runs": runs,
        "wall_s": [r["wall_s"] for r in out],
        "p50_s": h.median([r["wall_s"] for r in out]),
        "stages_p50_s": stages_p50(out),
        "loadavg_1m": [r["loadavg_1m"] for r in out],
        "reused": out[-1]["reused"],
    }


def add_runs(template: Path, corpus: Path, work: Path, repeats: int) -> dict[str, Any]:
    """Add the new report to copies of ``template`` ``repeats`` times; also time a no-op."""
    runs, unchanged = [], []
    for r in range(repeats):
        index = work / "run"
        h.link_tree(template, index)
        runs.append(h.qa_index(corpus, index))
        unchanged.append(h.qa_index(corpus, index)["wall_s"])
        h.log(
            f"  add {r + 1}/{repeats}: {runs[-1]['wall_s']:.2f} s"
            f" (load {runs[-1]['loadavg_1m']}), unchanged {unchanged[-1]:.2f} s"
        )
    return {
        "add_wall_s": [r["wall_s"] for r in runs],
        "add_p50_s": h.median([r["wall_s"] for r in runs]),
        "unchanged_wall_s": unchanged,
        "unchanged_p50_s": h.median(unchanged),
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
    docs_dir: Path,
    source: Path,
    work: Path,
    rates: dict[str, float],
    start_s: float,
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
    h.link_tree(encoders_root(source), encoders_root(settings.index_dir))
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


def four_reports(
    ref: Path, work: Path, new: list[Path], repeats: int, full_runs: int
) -> dict[str, Any]:
    """Each of ``new`` added to the three other real reports; the four rebuilt in full."""
    reports = h.reports_by_size()
    ref_gen = store.current_generation(ref)
    rows = []
    for added in new:
        corpus = work / f"corpus-4-{added.stem}"
        corpus.mkdir()
        for p in reports:
            if p != added:
                shutil.copy(p, corpus / p.name)
        template = work / f"base-4-{added.stem}"
        h.link_tree(encoders_root(ref), encoders_root(template))
        build_index(Settings(corpus_dir=corpus, index_dir=template), vectors_from=[ref_gen])
        shutil.copy(added, corpus / added.name)
        h.log(f"4 reports, new one {added.name}:")
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
    docs, chunks = h.synthesize(donors, [c for c in loaded.chunks if c.doc_id in donor_ids], n)
    corpus = work / f"corpus-{n}"
    corpus.mkdir()
    written = []
    for d in docs:  # files whose parse the base index holds (same fingerprint as `qa index`)
        path = corpus / d.source
        path.write_text(d.text, encoding="utf-8")
        written.append(replace(d, fingerprint=file_fingerprint(path)))
    h.log(f"{n} reports: {len(chunks)} passages synthesized in {time.perf_counter() - t:.1f} s")
    template = work / f"base-{n}"
    h.link_tree(encoders_root(ref), encoders_root(template))
    t = time.perf_counter()
    index_documents(
        Settings(corpus_dir=corpus, index_dir=template),
        written,
        chunks,
        sources=[previous],
        embed=h.no_embedding,
    )
    base_s = time.perf_counter() - t
    h.log(f"{n} reports: base index built in {base_s:.1f} s (vectors reused)")
    shutil.copy(added, corpus / added.name)
    h.log(f"{n} reports, new one {added.name}:")
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
    for p in h.reports_by_size():
        if p != added:
            try:  # text, markdown and HTML; a PDF cannot be marked as text and is left out
                donors[p] = p.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                h.log(f"{p.name} is not UTF-8 text: no marked copies of it")
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
    h.link_tree(encoders_root(ref), encoders_root(template))
    base = h.qa_index(corpus, template, "--full")
    h.log(
        f"{n} distinct copies: full build {base['wall_s']:.1f} s, {base['passages']} passages,"
        f" {base['reused']['sentences_embedded']} sentences embedded"
    )
    shutil.copy(added, corpus / added.name)
    h.log(f"{n} distinct copies, new one {added.name}:")
    runs = add_runs(template, corpus, work, repeats)
    shutil.rmtree(template)
    h.log(f"{n} distinct copies + {added.name}, rebuilt in full:")
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


def write_md(res: dict[str, Any], out: Path) -> list[str]:
    """incremental.{json,md}; the markdown lines."""
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
        lines += [
            "",
            f"Full rebuild of the four: not run in this mode; estimated {est4['total_s']}"
            " s (same method as below); the x column uses the estimate.",
        ]
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
        "| stage | "
        + " | ".join(r["added"].split("-")[0] for r in four["rows"])
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
    h.write_results(out, "incremental", res, lines)
    return lines


def main() -> None:
    ap = h.arguments(__doc__)
    ap.add_argument("--reports", type=int, default=100, help="synthetic corpus size")
    ap.add_argument(
        "--copies",
        type=int,
        default=3,
        help="distinct marked copies of each other real report (0: skip)",
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--index", type=Path, default=h.ROOT / "index", help="the real index")
    args = ap.parse_args()
    n, repeats = (10, 1) if args.smoke else (args.reports, args.repeats)
    reports = h.reports_by_size()
    new = reports[:1] if args.smoke else reports
    out = h.out_dir(args)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="qa-incremental-") as tmp:
        work = Path(tmp)
        ref = work / "ref"  # a private copy: the real index may be republished meanwhile
        store.current_generation(args.index)  # a clear error if there is none
        h.link_tree(args.index, ref)
        four = four_reports(ref, work, new, repeats, 0 if args.smoke else repeats)
        big = synthetic(ref, work, n, reports[0], repeats)
        if four["full"]["runs"]:
            rates = {**rates_of(four["full"]), "source": "measured in the full four-report rebuild"}
        else:
            rates = {**rates_of(big), "source": "measured in the add-one runs"}
        start_s = import_seconds(repeats)
        encoder_s = big["stages_p50_s"].get("encoder_load", 0.0)
        estimate_4 = estimate_full(h.ROOT / "corpus", ref, work, rates, start_s, encoder_s)
        estimate_n = estimate_full(
            work / f"corpus-{n}", work / "run", work, rates, start_s, encoder_s
        )
        copies = (
            distinct_copies(
                ref,
                work,
                1 if args.smoke else args.copies,
                reports[0],
                repeats,
                1 if args.smoke else repeats,
            )
            if args.copies
            else None
        )
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
    }
    write_md(res, out)
    from plots import plot_incremental

    plot_incremental(res, out)
    h.log(
        f"add one at {n}: {big['add_p50_s']} s vs full {estimate_n['total_s']} s (estimated):"
        f" {res['ratio_n']}x; wrote {out / 'incremental.md'}"
    )
    if copies:
        h.log(
            f"add one at {copies['reports']} distinct: {copies['add_p50_s']} s vs full"
            f" {copies['full_p50_s']} s (measured): {copies['ratio']}x"
        )


if __name__ == "__main__":
    main()
