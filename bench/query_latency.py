"""Query latency: one question at a time, from the raw encode to the answer over HTTP.

Measures, on the built index (``index/``) and the eval questions:
- the raw single-question encode of the service's encoder, back to back (the yardstick every
  time is also given as a multiple of), with 2.5 ms idle before each (as a lone client's
  questions reach a server), and of the raw PyTorch sentence-transformers model;
- ``search()`` in-process by stage, uncached (the query-vector cache emptied before each
  question) and cached;
- embedding throughput (passages/s) by batch size;
- ``/v1/search`` over HTTP from one client, with the server's own stage times from each
  response's ``timings_ms`` and what lies outside them (HTTP, framework, thread hop, client);
- cold start of ``qa serve`` to the first 200 from ``/readyz``;
- ``qa eval --split test --only-final`` wall time.
Every figure is a median with p95/p99 over repeated samples. Writes query-latency.{json,md,png}.

Run: .venv/bin/python bench/query_latency.py [--smoke | --quick] [--out DIR]
  (full)   300 encodes each way, 257 searches each way, 3 cold starts and eval runs; ~3 min.
  --quick  fewer repeats.  --smoke  CI check (< 1 min): ten of each, 6 eval questions.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import harness as h

# fmt: off
MODES: dict[str, dict[str, Any]] = {
    "full": dict(encode_q=100, encode_passes=3, search_q=257, http_q=100, embed_chunks=128,
                 embed_repeats=3, cold=3, evals=3, idle_wait_s=120),
    "quick": dict(encode_q=50, encode_passes=1, search_q=100, http_q=50, embed_chunks=128,
                  embed_repeats=1, cold=2, evals=1, idle_wait_s=60),
    "smoke": dict(encode_q=10, encode_passes=1, search_q=10, http_q=10, embed_chunks=16,
                  embed_repeats=1, cold=1, evals=1, idle_wait_s=0),
}
# fmt: on
PACE_S = 0.0025  # idle before each encode in the paced raw-encode figure


def embed_throughput(embedder: Any, texts: list[str], repeats: int) -> dict[int, list[float]]:
    """Passages per second for each batch size, over ``repeats`` passes of ``texts``."""
    embedder.encode(texts[:8], batch_size=8)  # warm-up
    out: dict[int, list[float]] = {}
    for bs in (1, 8, 16, 32, 64):
        out[bs] = []
        for _ in range(repeats):
            t = time.perf_counter()
            embedder.encode(texts, batch_size=bs)
            out[bs].append(len(texts) / (time.perf_counter() - t))
    return out


def http_single(url: str, questions: list[str]) -> tuple[dict[str, list[float]], int]:
    """One client, sequential requests, each question once (fresh server: not cached): the
    latencies ("total"), the server's stage times, and the rest of each request ("outside")."""
    out: dict[str, list[float]] = {"total": [], "outside": []}
    errors = 0
    with h.JsonClient(url, timeout=30.0) as c:
        c.post("/v1/search", {"question": "warm-up: custody of children"})
        for q in questions:
            t = time.perf_counter()
            try:
                status, body = c.exchange("/v1/search", {"question": q})
            except h.CLIENT_ERRORS:
                status, body = 0, b""
            ms = (time.perf_counter() - t) * 1000
            out["total"].append(ms)
            if status != 200:
                errors += 1
                continue
            stages = json.loads(body).get("timings_ms", {})
            for stage, stage_ms in stages.items():
                out.setdefault(stage, []).append(stage_ms)
            out["outside"].append(ms - sum(stages.values()))
    return out, errors


def in_process(cfg: dict[str, Any], res: dict[str, Any]) -> None:
    """The encoder, search and embedding figures, in this process (before a server runs)."""
    import torch

    from qa_service.answer.service import open_retriever
    from qa_service.index.embedding import SentenceTransformerEmbedder
    from qa_service.settings import Settings

    settings = Settings(index_dir=h.ROOT / "index")
    res["machine"].update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    retriever = open_retriever(settings)
    retriever.warm()  # as the server does before it serves
    res["index"] = {
        "version": retriever.index.version,
        "chunks": len(retriever.index.chunks),
        "documents": len(retriever.index.documents),
    }
    qs, passes = h.load_questions(cfg["encode_q"]), cfg["encode_passes"]
    res["raw_encode_ms"] = h.stats(h.raw_encode(retriever.embedder, qs, passes))
    res["raw_encode_encoder"] = type(retriever.embedder).__name__
    enc = res["raw_encode_ms"]["p50"]
    res["raw_encode_paced_ms"] = h.stats(h.raw_encode(retriever.embedder, qs, passes, PACE_S))
    torch_model = SentenceTransformerEmbedder(
        settings.model, settings.device, settings.torch_threads, settings.blas_threads
    )
    res["raw_encode_torch_ms"] = h.stats(h.raw_encode(torch_model.load(), qs, passes))
    h.log(
        f"raw encode p50 {enc} ms, paced {res['raw_encode_paced_ms']['p50']} ms, PyTorch "
        f"{res['raw_encode_torch_ms']['p50']} ms"
    )
    del torch_model
    qs = h.load_questions(cfg["search_q"])
    res["search_inprocess"] = {
        "questions": len(qs),
        "uncached_ms": {k: h.stats(v, enc) for k, v in h.search_stages(retriever, qs).items()},
        "cached_ms": {k: h.stats(v, enc) for k, v in h.search_stages(retriever, qs, True).items()},
    }
    h.log(f"search in-process p50 {res['search_inprocess']['uncached_ms']['total']['p50']} ms")
    chunks = retriever.index.chunks[: cfg["embed_chunks"]]
    emb = embed_throughput(retriever.embedder, [c.embed_text for c in chunks], cfg["embed_repeats"])
    res["embedding_throughput"] = {
        "chunks": len(chunks),
        "mean_model_tokens": round(sum(c.n_model_tokens for c in chunks) / len(chunks), 1),
        "chunks_per_s": {str(bs): h.stats(v, digits=1) for bs, v in emb.items()},
        # time per chunk as a multiple of one question's encode (questions are much shorter)
        "ms_per_chunk_x_encode": {
            str(bs): round(1000 / h.median(v) / enc, 2) for bs, v in emb.items()
        },
    }


def eval_wall(n: int, smoke: bool, tmp: Path) -> dict[str, Any]:
    """Wall seconds of ``qa eval --split test --only-final`` (6 questions when ``smoke``)."""
    cmd = [str(h.QA), "eval", "--split", "test", "--only-final", "-q"]
    if smoke:
        cmd += ["--questions", str(h.questions_file(tmp, 6))]
    walls = [h.timed_run([*cmd, "--out", str(tmp / f"eval-{i}")])["wall_s"] for i in range(n)]
    return {
        "questions": "first 6 test questions" if smoke else "eval/questions.jsonl (test split)",
        "wall_s": walls,
    }


def main() -> None:
    h.require_index()
    args, cfg, out, res = h.begin(__doc__, "query latency", MODES)
    in_process(cfg, res)
    enc = res["raw_encode_ms"]["p50"]
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmpdir:
        tmp = Path(tmpdir)
        server = h.Server(tmp / "serve.log")
        cold = [server.ready_s]
        try:
            single, errors = http_single(server.url, h.load_questions(cfg["http_q"]))
        finally:
            server.stop()
        res["http_single"] = {
            "questions": cfg["http_q"],
            "errors": errors,
            "latency_ms": h.stats(single.pop("total"), enc),
            "server_stages_ms": {k: h.stats(v, enc) for k, v in single.items()},
        }
        h.log(f"HTTP 1 client p50 {res['http_single']['latency_ms']['p50']} ms")
        for _ in range(cfg["cold"] - 1):
            s = h.Server(tmp / "serve.log")
            s.stop()
            cold.append(s.ready_s)
        res["cold_start_s"] = h.stats(cold, enc / 1000)
        ev = eval_wall(cfg["evals"], args.smoke, tmp)
        res["eval_end_to_end"] = {
            "questions": ev["questions"],
            "wall_s": h.stats(ev["wall_s"], enc / 1000),
        }
    print("\n".join(write_md(res, out)))
    from plots import plot_query_latency

    plot_query_latency(res, out)


def _table(
    rows: Sequence[tuple[str, dict[str, Any], str]], enc: float, torch_enc: float | None
) -> list[str]:
    """The figure rows: n, percentiles and the p50 as multiples of the two raw encodes."""

    def ratio(st: dict[str, Any], unit: str) -> str:
        if unit == "none" or "p50" not in st:
            return ""
        ms = st["p50"] * (1000 if unit == "s" else 1)
        return f"{ms / enc:.1f}" + (f" / {ms / torch_enc:.1f}" if torch_enc else "")

    lines = ["| figure | n | p50 | p95 | p99 | x encode |", "|---|---|---|---|---|---|"]
    for name, st, unit in rows:
        if st.get("n"):
            lines.append(
                f"| {name} | {st['n']} | {st['p50']:g} | {st['p95']:g} | {st['p99']:g} "
                f"| {ratio(st, unit)} |"
            )
    return lines


def write_md(res: dict[str, Any], out: Path) -> list[str]:
    """query-latency.{json,md}; the markdown lines."""
    enc = res["raw_encode_ms"]["p50"]
    torch_enc = res.get("raw_encode_torch_ms", {}).get("p50")
    rows: list[tuple[str, dict[str, Any], str]] = [
        (
            f"raw encode, 1 question, {res.get('raw_encode_encoder', 'service encoder')} (ms)",
            res["raw_encode_ms"],
            "ms",
        ),
        (
            f"raw encode, 1 question, {PACE_S * 1000:g} ms idle before each (ms)",
            res.get("raw_encode_paced_ms", {}),
            "ms",
        ),
        (
            "raw encode, 1 question, PyTorch sentence-transformers (ms)",
            res.get("raw_encode_torch_ms", {}),
            "ms",
        ),
    ]
    s = res["search_inprocess"]
    rows.append(("search in-process, uncached: total (ms)", s["uncached_ms"]["total"], "ms"))
    rows += [
        (f"  stage {st} (ms)", s["uncached_ms"][st], "ms")
        for st in h.STAGES
        if st in s["uncached_ms"]
    ]
    rows.append(("search in-process, cached: total (ms)", s["cached_ms"]["total"], "ms"))
    rows.append(("  cached: stage encode (ms)", s["cached_ms"].get("encode", {}), "ms"))
    rows.append(
        ("search over HTTP, 1 client, uncached (ms)", res["http_single"]["latency_ms"], "ms")
    )
    server_stages = res["http_single"].get("server_stages_ms", {})
    rows += [
        (f"  server stage {st} (ms)", server_stages[st], "ms")
        for st in h.STAGES
        if st in server_stages
    ]
    rows.append(
        (
            "  outside the stages: HTTP, framework, thread hop, client (ms)",
            server_stages.get("outside", {}),
            "ms",
        )
    )
    for bs, st in res["embedding_throughput"]["chunks_per_s"].items():
        rows.append((f"embedding batch {bs} (passages/s)", st, "none"))
    rows.append(("cold start to /readyz 200 (s)", res["cold_start_s"], "s"))
    rows.append(("qa eval --split test --only-final (s)", res["eval_end_to_end"]["wall_s"], "s"))
    m = res["machine"]
    lines = [
        f"# Query latency ({res['mode']} mode, {m['cpus']} CPUs, torch threads "
        f"{m.get('torch_threads')}, {res['generated']})",
        "",
        'Times are p50 / p95 / p99 over n samples; "x encode" is the p50 divided by the raw '
        f"single-question encode p50 of the service's encoder ({enc:.2f} ms) and, after the "
        "slash, of the raw PyTorch model"
        + (f" ({torch_enc:.2f} ms)" if torch_enc else "")
        + ", both measured in the same run"
        " on the same questions as the 1-client HTTP figure. The HTTP figure's server stages"
        ' come from each response\'s `timings_ms`; "outside the stages" is the rest of each'
        " request's wall time. The service's encoder is timed back to back (the yardstick) and"
        f" with {PACE_S * 1000:g} ms idle before each question, as a lone client's questions"
        " reach the server.",
        "",
        *_table(rows, enc, torch_enc),
        "",
        f"Machine before the run: {m.get('before')}"
        + (
            f"; 1-minute load average at each section: {res['loadavg_1m']}"
            if res.get("loadavg_1m")
            else ""
        )
        + ".",
    ]
    h.write_results(out, "query-latency", res, lines)
    return lines


if __name__ == "__main__":
    main()
