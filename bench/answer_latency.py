"""Chat answer latency against search latency on the same questions, in one process and run.

Every question of the test split is asked as a search (top 5, as the chat asks) and as the
first turn of a chat, alternating, after a warm-up pass; the question's vector is cached after
the warm-up on both sides, so the figures compare the work after encoding (retrieval, the
answer layer, composing the reply). Writes bench/results/answer-latency.{json,md}.

Run: .venv/bin/python bench/answer_latency.py [--smoke] [--passes N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from qa_service.chat import Turn, answer
from qa_service.evaluation import load_questions
from qa_service.service import open_retriever
from qa_service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of a list of numbers."""
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="10 questions, 1 pass (CI)")
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    questions = load_questions(ROOT / "eval" / "questions.jsonl", "test")
    passes = 1 if args.smoke else args.passes
    if args.smoke:
        questions = questions[:10]
    retriever = open_retriever(Settings())
    retriever.warm()
    for q in questions:  # warm-up: encodes cached, models loaded
        answer(retriever, [Turn("user", q.question)])
    search_ms: list[float] = []
    chat_ms: list[float] = []
    for _ in range(passes):
        for q in questions:
            t = time.perf_counter()
            retriever.search(q.question, top_k=5)
            search_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            answer(retriever, [Turn("user", q.question)])
            chat_ms.append((time.perf_counter() - t) * 1000)
    result = {
        "questions": len(questions),
        "passes": passes,
        "search_ms": {
            "p50": round(statistics.median(search_ms), 3),
            "p95": round(pct(search_ms, 0.95), 3),
        },
        "chat_ms": {
            "p50": round(statistics.median(chat_ms), 3),
            "p95": round(pct(chat_ms, 0.95), 3),
        },
    }
    ratio = result["chat_ms"]["p50"] / result["search_ms"]["p50"]  # type: ignore[index]
    result["chat_over_search_p50"] = round(ratio, 3)
    out = ROOT / "bench" / "results" / ("smoke" if args.smoke else "")
    out.mkdir(parents=True, exist_ok=True)
    name = "answer-latency"
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "# Chat answer against search, same questions, one process",
        "",
        f"{len(questions)} test-split questions x {passes} passes, question vectors cached.",
        "",
        "| | p50 ms | p95 ms |",
        "|---|---|---|",
        f"| search (top 5) | {result['search_ms']['p50']} | {result['search_ms']['p95']} |",  # type: ignore[index]
        f"| chat answer | {result['chat_ms']['p50']} | {result['chat_ms']['p95']} |",  # type: ignore[index]
        "",
        f"chat p50 / search p50 = {ratio:.2f} (target <= 1.5)",
        "",
    ]
    (out / f"{name}.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
