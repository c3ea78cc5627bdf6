"""Chunk sizes: the corpus measured to choose them. Block lengths in tiktoken tokens, word
pieces (the embedding model's tokens) per tiktoken token, and what each (target, ceiling) of the
chunker makes: chunks, their sizes, chunks at the model's window, blocks over the ceiling.
Writes chunking.{json,md}.

Run: .venv/bin/python bench/chunking.py [--smoke] [--corpus DIR] [--out DIR]
  --smoke  CI check: the smallest report, one setting.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import harness as h

from qa_service.index.chunking import ChunkParams, chunk_corpus
from qa_service.index.embedding import ModelTokenizer
from qa_service.index.tokens import tiktoken_counter
from qa_service.ingest import read_corpus
from qa_service.ingest.textnorm import passage_text

SETTINGS = [(96, 160), (128, 192), (160, 220), (200, 240), (240, 300)]


def pct(values: list[int], q: float) -> int:
    """The q-quantile (nearest rank) of a list of numbers."""
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = h.arguments(__doc__)
    ap.add_argument("--corpus", type=Path, default=h.ROOT / "corpus")
    args = ap.parse_args()
    out = h.out_dir(args)
    corpus, settings = args.corpus, SETTINGS
    with tempfile.TemporaryDirectory(prefix="qa-chunking-") as tmp:
        if args.smoke:
            corpus, settings = h.corpus_of(Path(tmp), h.reports_by_size()[:1]), SETTINGS[3:4]
        docs, _ = read_corpus(corpus)
    count = tiktoken_counter()
    model = ModelTokenizer().load()
    blocks = [passage_text(d.text, b.start, b.end) for d in docs for b in d.blocks]
    tik = [count(t) for t in blocks]
    wp = [model(t) - 2 for t in blocks]  # without [CLS]/[SEP]
    ratios = [w / t for w, t in zip(wp, tik, strict=True) if t >= 20]
    result: dict[str, object] = {
        "blocks": len(blocks),
        "block_tiktoken": {
            "median": statistics.median(tik),
            "p90": pct(tik, 0.9),
            "p99": pct(tik, 0.99),
            "max": max(tik),
        },
        "wordpieces_per_tiktoken": {
            "median": round(statistics.median(ratios), 3),
            "p99": round(pct([int(r * 1000) for r in ratios], 0.99) / 1000, 3),
            "max": round(max(ratios), 3),
        },
        "model_window": model.max_tokens,
        "settings": [],
    }
    for target, ceiling in settings:
        params = ChunkParams(target, ceiling, model.max_tokens, 32)
        chunks = chunk_corpus(docs, params, count, model)
        sizes = [c.n_tokens for c in chunks]
        result["settings"].append(
            {  # type: ignore[union-attr]
                "target": target,
                "ceiling": ceiling,
                "chunks": len(chunks),
                "median_tokens": statistics.median(sizes),
                "p95_tokens": pct(sizes, 0.95),
                "max_model_tokens": max(c.n_model_tokens for c in chunks),
                "split_for_window": sum(
                    1 for c in chunks if c.n_model_tokens >= model.max_tokens - 8
                ),
                "blocks_over_ceiling": sum(1 for t in tik if t > ceiling),
            }
        )
    lines = [
        "# Chunk sizing measurements",
        "",
        f"{result['blocks']} blocks; tiktoken per block: {result['block_tiktoken']}; "
        f"word pieces per tiktoken token: {result['wordpieces_per_tiktoken']}; "
        f"model window {result['model_window']} word pieces.",
        "",
        "| target | ceiling | chunks | median tokens | p95 tokens | max word pieces "
        "| chunks at window | blocks over ceiling |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in result["settings"]:  # type: ignore[union-attr]
        lines.append(
            f"| {s['target']} | {s['ceiling']} | {s['chunks']} | {s['median_tokens']} "
            f"| {s['p95_tokens']} | {s['max_model_tokens']} | {s['split_for_window']} "
            f"| {s['blocks_over_ceiling']} |"
        )
    h.write_results(out, "chunking", result, lines)


if __name__ == "__main__":
    main()
