"""Chat answer latency against search latency on the same questions, in one process and run.

Every question of the test split is asked as a search (top 5, as the chat asks) and as the
first turn of a chat, alternating, after a warm-up pass; the question's vector is cached after
the warm-up on both sides, so the figures compare the work after encoding (retrieval, the
answer layer, composing the reply). Writes answer-latency.{json,md}.

Run: .venv/bin/python bench/answer_latency.py [--smoke] [--passes N] [--out DIR]
  --smoke  CI check: 10 questions, 1 pass.
"""

from __future__ import annotations

import time

import harness as h

from qa_service.answer.chat import answer
from qa_service.answer.service import open_retriever
from qa_service.evaluation.retrieval import load_questions
from qa_service.settings import Settings


def main() -> None:
    ap = h.arguments(__doc__)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    out = h.out_dir(args)
    questions = load_questions(h.QUESTIONS, "test")
    passes = 1 if args.smoke else args.passes
    if args.smoke:
        questions = questions[:10]
    retriever = open_retriever(Settings(index_dir=h.require_index()))
    retriever.warm()
    for q in questions:  # warm-up: encodes cached, models loaded
        answer(retriever, q.turns())
    search_ms: list[float] = []
    chat_ms: list[float] = []
    for _ in range(passes):
        for q in questions:
            t = time.perf_counter()
            retriever.search(q.asked(), top_k=5)
            search_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            answer(retriever, q.turns())
            chat_ms.append((time.perf_counter() - t) * 1000)
    result = {
        "questions": len(questions),
        "passes": passes,
        "search_ms": h.stats(search_ms),
        "chat_ms": h.stats(chat_ms),
        "when": time.strftime("%Y-%m-%d %H:%M"),
    }
    ratio = result["chat_ms"]["p50"] / result["search_ms"]["p50"]
    result["chat_over_search_p50"] = round(ratio, 3)
    md = [
        "# Chat answer against search, same questions, one process",
        "",
        f"{len(questions)} test-split questions x {passes} passes, question vectors cached.",
        "",
        "| | p50 ms | p95 ms |",
        "|---|---|---|",
        f"| search (top 5) | {result['search_ms']['p50']} | {result['search_ms']['p95']} |",
        f"| chat answer | {result['chat_ms']['p50']} | {result['chat_ms']['p95']} |",
        "",
        f"chat p50 / search p50 = {ratio:.2f} (target <= 1.5)",
        "",
    ]
    h.write_results(out, "answer-latency", result, md)


if __name__ == "__main__":
    main()
