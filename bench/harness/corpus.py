"""The corpus, questions and index set-up the benchmarks share: eval questions, the real
reports, corpus and index folders, an int8 copy of the ONNX export, test-split figures in
process, and synthetic reports recombined from the real ones."""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.measure import QA, QUESTIONS, ROOT, loadavg, timed_run


def qa_index(corpus: Path, index: Path, *extra: str) -> dict[str, Any]:
    """``qa index`` of ``corpus`` into ``index`` in a fresh process: wall seconds, peak RSS,
    the load average before it, and what the new generation's manifest records (stage times;
    "start_imports_publish" is the wall time outside them)."""
    from qa_service.index import store

    load = loadavg()
    run = timed_run(
        [str(QA), "index", "-q", "--corpus", str(corpus), "--index", str(index), *extra]
    )
    manifest = store.load(index).manifest
    stages = manifest.get("build_seconds", {})
    inside = sum(stages.values())
    return {
        "wall_s": round(run["wall_s"], 3),
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "loadavg_1m": load,
        "stages_s": {**stages, "start_imports_publish": round(run["wall_s"] - inside, 3)},
        "reused": manifest["reused"],
        "embedding": manifest.get("embedding"),
        "passages": manifest["counts"]["chunks"],
        "sentences": manifest["sentences"],
    }


def no_embedding(texts: list[str], size: int) -> Any:
    """An ``embed`` that refuses: every vector must be reused from a source index."""
    raise RuntimeError(f"{len(texts)} texts have no reusable vector (e.g. {texts[0][:80]!r})")


def require_index(index: Path = ROOT / "index") -> Path:
    """``index``, or exit with the command that builds it."""
    if not (index / "CURRENT").is_file():
        sys.exit(f"no index in {index}: run `.venv/bin/qa index` first")
    return index


def load_questions(
    n: int | None = None, split: str | None = None, no_force: bool = False
) -> list[str]:
    """The first ``n`` eval questions (the file interleaves the kinds), of one split, or only
    those naming no force: neither by their gold force nor in their words (a force the corpus
    lacks, "How did Essex Police do?", is refused before any search, so it would time
    nothing at one corpus size and a whole search at another)."""
    from qa_service.forces import find_forces

    rows = [json.loads(line) for line in QUESTIONS.open()]
    rows = [
        r
        for r in rows
        if (split is None or r["split"] == split)
        and not (no_force and (r.get("force") or find_forces(r["question"])))
    ]
    return [r["question"] for r in rows][:n]


def questions_file(folder: Path, n: int, split: str = "test") -> Path:
    """A questions.jsonl of the first ``n`` questions of ``split`` (a smoke run's eval set)."""
    rows = [line for line in QUESTIONS.open() if json.loads(line)["split"] == split][:n]
    path = folder / f"questions-{split}-{n}.jsonl"
    path.write_text("".join(rows))
    return path


def reports_by_size() -> list[Path]:
    """The corpus folder's report files, smallest first."""
    from qa_service.ingest import corpus_files

    return sorted(corpus_files(ROOT / "corpus"), key=lambda p: p.stat().st_size)


def corpus_of(folder: Path, reports: Iterable[Path]) -> Path:
    """A corpus folder holding copies of ``reports``."""
    folder.mkdir(parents=True, exist_ok=True)
    for p in reports:
        shutil.copy2(p, folder / p.name)
    return folder


def link_tree(src: Path, dst: Path) -> None:
    """Copy an index folder as hard links (generations are never modified in place)."""
    shutil.rmtree(dst, ignore_errors=True)
    try:
        shutil.copytree(src, dst, copy_function=os.link)
    except OSError:  # another filesystem
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)


def folder_bytes(path: Path) -> int:
    """Bytes of every file below ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def int8_folder(fp32: Path, dest: Path, per_channel: bool = False) -> Path:
    """A copy of an fp32 ONNX export whose weights are dynamically quantised to int8 (one scale
    per weight matrix, or per output channel)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    from qa_service.index.onnx_files import MODEL_FILE, SIDECAR, TOKENIZER_FILE
    from qa_service.index.store import sha256_file

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


def eval_test_split(retriever: Any, questions: int | None = None) -> dict[str, float]:
    """The final retriever's R@5, MRR@10, nDCG@10 and the answers' figures on the test split,
    in this process (``questions``: only the first ones, for a smoke run)."""
    from qa_service.evaluation.answers import answer_report, run_answers
    from qa_service.evaluation.retrieval import load_questions as eval_questions
    from qa_service.evaluation.retrieval import report, run_questions
    from qa_service.evaluation.tuning import ladder

    qs = eval_questions(QUESTIONS, "test")[:questions]
    name, cfg = ladder(retriever.config)[-1]
    overall = report(name, run_questions(retriever, qs, cfg, 10)).overall
    answers = answer_report(run_answers(retriever, qs))["overall"]
    got = {m: overall[m] for m in ("recall@5", "mrr@10", "ndcg@10")}
    got.update({m: answers[m] for m in ("answer@1", "answer@any", "wrongly_refused", "abstain")})
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in got.items()}


def _subtrees(doc: Any) -> list[list[int]]:
    """Section indexes of each top-level section with its descendants, in document order."""
    out: list[list[int]] = []
    for s in doc.sections:
        if s.parent is None:
            out.append([s.index])
        elif out:
            out[-1].append(s.index)
    return out


def synthesize(
    docs: list[Any], chunks: list[Any], n: int, seed: int = 7
) -> tuple[list[Any], list[Any]]:
    """``n`` reports recombined from the real reports' top-level sections.

    Each takes the length of a randomly chosen real report and is filled with whole top-level
    sections (with their subsections) drawn at random from all of them, given a random force,
    type and year. Sections keep their parsed structure, blocks and chunks (offsets shifted),
    so the text stays real and every passage keeps the CONTRACT offset rule.
    """
    from qa_service.forces import FORCES
    from qa_service.ingest.textnorm import collapse_ws
    from qa_service.types import Block, Chunk, Document, Footnote, Metadata, Section, content_hash

    rng = random.Random(seed)
    by_doc: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    pool = [(d, tree) for d in docs for tree in _subtrees(d)]
    types = sorted({d.metadata.report_type for d in docs if d.metadata.report_type})
    force_names = sorted(FORCES)
    out_docs: list[Document] = []
    out_chunks: list[Chunk] = []
    for i in range(n):
        target = len(rng.choice(docs).text)
        force = rng.choice(force_names)
        year = rng.randint(2014, 2025)
        meta = Metadata(
            title=f"Synthetic report {i:05d}: {force}",
            force=force,
            report_type=rng.choice(types),
            published=str(year),
            inspection_year=year,
        )
        doc_id = f"synthetic-{i:05d}"
        parts: list[str] = []
        sections: list[Section] = []
        blocks: list[Block] = []
        notes: list[Footnote] = []
        doc_chunks: list[Chunk] = []
        seen: dict[str, int] = {}
        pos = 0
        while pos < target:
            src, tree = rng.choice(pool)
            top = src.sections[tree[0]]
            delta = pos - top.start
            remap = {old: len(sections) + k for k, old in enumerate(tree)}
            for old in tree:
                s = src.sections[old]
                sections.append(
                    replace(
                        s,
                        index=remap[old],
                        parent=remap.get(s.parent) if s.parent is not None else None,
                        start=s.start + delta,
                        end=s.end + delta,
                        heading_end=s.heading_end + delta,
                    )
                )
            blocks += [
                replace(
                    b,
                    start=b.start + delta,
                    end=b.end + delta,
                    section=remap[b.section],
                    gaps=tuple((g0 + delta, g1 + delta) for g0, g1 in b.gaps),
                )
                for b in src.blocks
                if b.section in remap
            ]
            notes += [
                replace(f, start=f.start + delta, end=f.end + delta, section=remap[f.section])
                for f in src.footnotes
                if f.section in remap
            ]
            for c in by_doc[src.doc_id]:
                if c.section_index not in remap:
                    continue
                key = content_hash(doc_id, collapse_ws(c.text))
                k = seen.get(key, 0)
                seen[key] = k + 1
                doc_chunks.append(
                    replace(
                        c,
                        chunk_id=key if k == 0 else content_hash(key, str(k)),
                        doc_id=doc_id,
                        source=f"{doc_id}.txt",
                        section_index=remap[c.section_index],
                        start=c.start + delta,
                        end=c.end + delta,
                        ordinal=len(doc_chunks),
                        metadata={
                            "force": force,
                            "report_type": meta.report_type,
                            "published": meta.published,
                            "year": year,
                        },
                    )
                )
            text = src.text[top.start : top.end] + "\n\n"
            parts.append(text)
            pos += len(text)
        out_docs.append(
            Document(
                doc_id=doc_id,
                source=f"{doc_id}.txt",
                format="txt",
                text="".join(parts),
                metadata=meta,
                sections=tuple(sections),
                blocks=tuple(blocks),
                footnotes=tuple(notes),
            )
        )
        out_chunks += doc_chunks
    return out_docs, out_chunks
