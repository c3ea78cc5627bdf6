"""Load: HTTP throughput and latency of ``/v1/search`` by number of concurrent clients.

``qa serve`` on the built index (``index/``), one uvicorn process; 1, 4, 8 and 16 client
threads, each with a keep-alive bare-socket connection, post distinct questions (each eval
question with a running tag, so the query cache never answers and every request encodes) for a
fixed time per level. Per level: requests/s, errors, latency percentiles, the server's and the
clients' CPU and the rest of the machine's, the server's peak thread count. A full run repeats
two levels with ``OMP_NUM_THREADS=1``. The raw single-question encode of the service's encoder
is measured first, in this process, as the yardstick (requests per encode time). Writes
load.{json,md,png}.

Run: .venv/bin/python bench/load.py [--smoke | --quick] [--out DIR]
  (full)   30 s per level, then 15 s at 1 and 8 clients with one OpenMP thread; ~3 min.
  --quick  10 s per level.  --smoke  CI check: 3 s per level.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness as h

# fmt: off
MODES: dict[str, dict[str, Any]] = {
    "full": dict(encode_q=100, encode_passes=3, levels=[1, 4, 8, 16], level_s=30.0,
                 threads1_levels=[1, 8], threads1_s=15.0, idle_wait_s=120),
    "quick": dict(encode_q=50, encode_passes=1, levels=[1, 4, 8, 16], level_s=10.0,
                  threads1_levels=[1, 8], threads1_s=10.0, idle_wait_s=60),
    "smoke": dict(encode_q=10, encode_passes=1, levels=[1, 4, 8, 16], level_s=3.0,
                  threads1_levels=[], threads1_s=0.0, idle_wait_s=0),
}
# fmt: on
MAX_REQUESTS_PER_LEVEL = 100_000  # a bound on count as well as on time
NOTE = (
    "distinct questions (eval questions with a running tag) so the query cache never "
    "answers; clients are threads in the benchmark process, sharing the machine's cores "
    "with the server; `qa serve` is one uvicorn process"
)


def variants(questions: list[str]) -> Iterator[str]:
    """Endless distinct questions: the eval questions with a running tag."""
    for n in itertools.count():
        yield f"{questions[n % len(questions)]} [{n}]"


def level(server: h.Server, clients: int, seconds: float, tag: Iterator[str]) -> dict[str, Any]:
    """``clients`` threads, each with a keep-alive JsonClient, for ``seconds``."""
    lock = threading.Lock()
    lat: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds
    budget = itertools.count()

    def worker() -> None:
        with h.JsonClient(server.url, timeout=30.0) as c:
            while time.perf_counter() < stop_at and next(budget) < MAX_REQUESTS_PER_LEVEL:
                with lock:
                    q = next(tag)
                t = time.perf_counter()
                try:
                    status = c.post("/v1/search", {"question": q})
                    err = None if status == 200 else f"HTTP {status}"
                except h.CLIENT_ERRORS as exc:
                    err = type(exc).__name__
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    lat.append(ms)
                    if err:
                        errors.append(err)

    cpu0, self0, sys0, t0 = server.cpu_s(), h.own_cpu(), h.system_cpu(), time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for th in threads:
        th.start()
    peak_threads = 0
    while any(th.is_alive() for th in threads) and time.perf_counter() < stop_at + 40:
        with contextlib.suppress(OSError, AttributeError):
            peak_threads = max(peak_threads, server.threads())
        time.sleep(0.5)
    for th in threads:
        th.join(timeout=35)
    wall = time.perf_counter() - t0
    server_pct = 100 * (server.cpu_s() - cpu0) / wall
    client_pct = 100 * (h.own_cpu() - self0) / wall
    system_pct = 100 * (h.system_cpu() - sys0) / wall
    return {
        "clients": clients,
        "seconds": round(wall, 2),
        "requests": len(lat),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "rps": round(len(lat) / wall, 2),
        "latency_ms": lat,
        "server_cpu_pct": round(server_pct, 1),
        "client_cpu_pct": round(client_pct, 1),
        # the rest of the machine: anything else running skews the figures
        "other_cpu_pct": round(max(0.0, system_pct - server_pct - client_pct), 1),
        "server_threads_peak": peak_threads,
    }


def levels(
    log_path: Path,
    env: dict[str, str] | None,
    clients: list[int],
    seconds: float,
    tag: Iterator[str],
    enc: float,
) -> list[dict[str, Any]]:
    """Each concurrency level on one fresh server, its latencies summarised."""
    if not clients:
        return []
    server = h.Server(log_path, env)
    out = []
    try:
        for n in clients:
            lv = level(server, n, seconds, tag)
            lv["latency_ms"] = h.stats(lv["latency_ms"], enc)
            lv["rps_x_encode"] = round(lv["rps"] * enc / 1000, 3)
            h.log(
                f"{n} clients{' (' + str(env) + ')' if env else ''}: {lv['rps']} req/s, p50 "
                f"{lv['latency_ms'].get('p50')} ms, p99 {lv['latency_ms'].get('p99')} ms, "
                f"{lv['errors']} errors"
            )
            out.append(lv)
    finally:
        server.stop()
    return out


def yardstick(cfg: dict[str, Any]) -> dict[str, Any]:
    """The raw single-question encode of the service's encoder, back to back."""
    from qa_service.answer.service import open_retriever
    from qa_service.settings import Settings

    retriever = open_retriever(Settings(index_dir=h.ROOT / "index"))
    qs = h.load_questions(cfg["encode_q"])
    return h.stats(h.raw_encode(retriever.embedder, qs, cfg["encode_passes"]))


def main() -> None:
    h.require_index()
    _, cfg, out, res = h.begin(__doc__, "load", MODES)
    res["raw_encode_ms"] = yardstick(cfg)
    enc = res["raw_encode_ms"]["p50"]
    tag = variants(h.load_questions(None))
    busy0, own0 = h.system_cpu(), h.own_cpu() + h.own_cpu(children=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        log_path = Path(tmp) / "serve.log"
        res["http_load"] = levels(log_path, None, cfg["levels"], cfg["level_s"], tag, enc)
        # one OpenMP thread per process: do the server's threads fight the encoder's?
        res["http_load_torch_1_thread"] = levels(
            log_path,
            {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
            cfg["threads1_levels"],
            cfg["threads1_s"],
            tag,
            enc,
        )
    res["http_load_note"] = NOTE
    wall = time.perf_counter() - started
    ours = h.own_cpu() + h.own_cpu(children=True) - own0
    res["other_processes_cpu_pct"] = round(100 * max(0.0, h.system_cpu() - busy0 - ours) / wall, 1)
    print("\n".join(write_md(res, out)))
    from plots import plot_load

    plot_load(res, out)


def write_md(res: dict[str, Any], out: Path) -> list[str]:
    """load.{json,md}; the markdown lines."""
    m = res["machine"]
    lines = [
        f"# Load: HTTP /v1/search by concurrent clients ({res['mode']} mode, {m['cpus']} CPUs,"
        f" {res['generated']})",
        "",
        f'{res["http_load_note"].capitalize()}. "Requests per encode time" is requests/s'
        f" times the raw single-question encode p50 ({res['raw_encode_ms']['p50']:.2f} ms, same"
        " run).",
        "",
        "| OpenMP threads | clients | requests/s | requests | errors | p50 ms | p95 ms | p99 ms"
        " | requests per encode time | server CPU % | client CPU % | other CPU % | server"
        " threads |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = [(str(m.get("torch_threads", "default")), lv) for lv in res["http_load"]]
    rows += [("1", lv) for lv in res["http_load_torch_1_thread"]]
    for threads, lv in rows:
        la = lv["latency_ms"]
        lines.append(
            f"| {threads} | {lv['clients']} | {lv['rps']} | {lv['requests']} "
            f"| {lv['errors']} | {la.get('p50', '')} | {la.get('p95', '')} "
            f"| {la.get('p99', '')} | {lv['rps_x_encode']} | {lv['server_cpu_pct']} "
            f"| {lv['client_cpu_pct']} | {lv['other_cpu_pct']} "
            f"| {lv['server_threads_peak']} |"
        )
    lines += [
        "",
        f"Machine before the run: {m.get('before')}; other processes used "
        f"{res.get('other_processes_cpu_pct')}% CPU over the run.",
    ]
    h.write_results(out, "load", res, lines)
    return lines


if __name__ == "__main__":
    main()
