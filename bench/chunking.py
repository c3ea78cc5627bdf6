"""Measure the corpus to choose chunk sizes: block lengths, word pieces per tiktoken token,
and what each (target, ceiling) does. Writes bench/results/chunking.{json,md}.

Run: .venv/bin/python bench/chunking.py
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from qa_service.chunking import ChunkParams, chunk_corpus
from qa_service.embedding import ModelTokenizer
from qa_service.ingest import read_corpus
from qa_service.textnorm import passage_text
from qa_service.tokens import tiktoken_counter

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[int], q: float) -> int:
    """The q-quantile (nearest rank) of a list of numbers."""
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "corpus"
    docs, _ = read_corpus(corpus)
    count = tiktoken_counter()
    model = ModelTokenizer().load()
    blocks = [passage_text(d.text, b.start, b.end) for d in docs for b in d.blocks]
    tik = [count(t) for t in blocks]
    wp = [model(t) - 2 for t in blocks]  # without [CLS]/[SEP]
    ratios = [w / t for w, t in zip(wp, tik, strict=True) if t >= 20]
    result: dict[str, object] = {
        "blocks": len(blocks),
        "block_tiktoken": {"median": statistics.median(tik), "p90": pct(tik, 0.9),
                           "p99": pct(tik, 0.99), "max": max(tik)},
        "wordpieces_per_tiktoken": {"median": round(statistics.median(ratios), 3),
                                    "p99": round(
                                        pct([int(r * 1000) for r in ratios], 0.99) / 1000, 3),
                                    "max": round(max(ratios), 3)},
        "model_window": model.max_tokens,
        "settings": [],
    }
    for target, ceiling in [(96, 160), (128, 192), (160, 220), (200, 240), (240, 300)]:
        params = ChunkParams(target, ceiling, model.max_tokens, 32)
        chunks = chunk_corpus(docs, params, count, model)
        sizes = [c.n_tokens for c in chunks]
        result["settings"].append({  # type: ignore[union-attr]
            "target": target, "ceiling": ceiling, "chunks": len(chunks),
            "median_tokens": statistics.median(sizes), "p95_tokens": pct(sizes, 0.95),
            "max_model_tokens": max(c.n_model_tokens for c in chunks),
            "split_for_window": sum(1 for c in chunks if c.n_model_tokens >= model.max_tokens - 8),
            "blocks_over_ceiling": sum(1 for t in tik if t > ceiling),
        })
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "chunking.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Chunk sizing measurements", "",
        f"{result['blocks']} blocks; tiktoken per block: {result['block_tiktoken']}; "
        f"word pieces per tiktoken token: {result['wordpieces_per_tiktoken']}; "
        f"model window {result['model_window']} word pieces.", "",
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
    (out / "chunking.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
