"""The benchmark runner: raw encode, in-process search by stage, HTTP latency and throughput,
index build, adding one report to a built index, embedding throughput by batch size, cold
start and the eval set end to end. (Synthetic corpora of 100-10,000 reports: bench/scale.py;
republishing under load: bench/republish.py.)

Every figure is a median with p95/p99 over repeated samples, and every time is also given as a
multiple of the raw model's single-query encode time (p50) measured in the same run, so runs on
different machines can be compared. Writes ``<out>/benchmarks.json`` and ``<out>/benchmarks.md``.

Run: .venv/bin/python bench/run.py [--quick | --smoke] [--out DIR]
  (full)   30 s per concurrency level, 3 index builds / eval runs / cold starts; ~8 minutes.
  --quick  10 s per level, fewer repeats.
  --smoke  CI check that the runner works (< ~2 min): tiny counts, 3 s per level, a one-report
           corpus for the index build and 6 questions for the eval run.
Full mode writes to bench/results/ by default, the others to bench/results/<mode>/ so a smoke
run never overwrites the committed full-mode results; the JSON says which mode produced it.
Servers listen on 127.0.0.1 only; every request loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from qa_service.ingest import corpus_files
from qa_service.service import open_retriever
from qa_service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
QA = ROOT / ".venv" / "bin" / "qa"
STAGES = ["understand", "encode", "dense", "lexical", "fusion", "answerable", "highlight"]

# Counts per mode. "levels" are the HTTP concurrency levels, each run for "level_s" seconds.
MODES: dict[str, dict[str, Any]] = {
    "full": {"encode_q": 100, "encode_passes": 3, "search_q": 257, "http_q": 100,
             "levels": [1, 4, 8, 16], "level_s": 30.0, "builds": 3, "embed_chunks": 128,
             "embed_repeats": 3, "cold": 3, "evals": 3, "idle_wait_s": 120,
             "threads1_levels": [1, 8], "threads1_s": 15.0},
    "quick": {"encode_q": 50, "encode_passes": 1, "search_q": 100, "http_q": 50,
              "levels": [1, 4, 8, 16], "level_s": 10.0, "builds": 1, "embed_chunks": 128,
              "embed_repeats": 1, "cold": 2, "evals": 1, "idle_wait_s": 60,
              "threads1_levels": [1, 8], "threads1_s": 10.0},
    "smoke": {"encode_q": 10, "encode_passes": 1, "search_q": 10, "http_q": 10,
              "levels": [1, 4, 8, 16], "level_s": 3.0, "builds": 1, "embed_chunks": 16,
              "embed_repeats": 1, "cold": 1, "evals": 1, "idle_wait_s": 0.0,
              "threads1_levels": [], "threads1_s": 0.0},
}
PACE_S = 0.0025  # idle before each encode in the paced raw-encode figure
MAX_REQUESTS_PER_LEVEL = 100_000  # a bound on count as well as on time
READY_TIMEOUT_S = 180.0


def stats(values: list[float], enc_ms: float | None = None, digits: int = 3) -> dict[str, Any]:
    """n, p50, p95, p99, mean, min, max of ``values``; with ``enc_ms``, each percentile also as
    a multiple of the raw encode p50 (``x_encode``)."""
    if not values:
        return {"n": 0}
    a = np.asarray(values, dtype=float)
    out: dict[str, Any] = {"n": len(values)}
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        out[name] = round(float(np.percentile(a, q)), digits)
    out.update(mean=round(float(a.mean()), digits), min=round(float(a.min()), digits),
               max=round(float(a.max()), digits))
    if enc_ms:
        out["x_encode"] = {k: round(out[k] / enc_ms, 2) for k in ("p50", "p95", "p99")}
    return out


def load_questions(n: int, split: str | None = None) -> list[str]:
    """The first ``n`` eval questions (varied kinds, as the file interleaves them)."""
    rows = [json.loads(line) for line in (ROOT / "eval" / "questions.jsonl").open()]
    return [r["question"] for r in rows if split is None or r["split"] == split][:n]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# 1. raw encode --------------------------------------------------------------------------------


def bench_raw_encode(embedder: Any, questions: list[str], passes: int,
                     pause_s: float = 0.0) -> list[float]:
    """Each question's encode time, back to back, or with ``pause_s`` idle before each (as a
    lone client's questions reach a server: the encoder's data has partly left the caches)."""
    for q in questions[:5]:  # warm-up
        embedder.encode([q])
    out = []
    for _ in range(passes):
        for q in questions:
            if pause_s:
                time.sleep(pause_s)
            t = time.perf_counter()
            embedder.encode([q])
            out.append((time.perf_counter() - t) * 1000)
    return out


# 2. in-process search -------------------------------------------------------------------------


def bench_search(retriever: Any, questions: list[str], cached: bool) -> dict[str, list[float]]:
    """Wall time of search() and its stages. Uncached: the query-vector cache is emptied before
    every question so the encode is really measured; cached: every question was seen before."""
    samples: dict[str, list[float]] = {s: [] for s in [*STAGES, "total"]}
    if cached:
        for q in questions:
            retriever.search(q)
    for q in questions:
        if not cached:
            retriever._cache.clear()
        t = time.perf_counter()
        result = retriever.search(q)
        samples["total"].append((time.perf_counter() - t) * 1000)
        for stage, ms in result.timings_ms.items():
            samples.setdefault(stage, []).append(ms)
    return samples


# 3, 4, 7. the HTTP server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``qa serve`` on a free 127.0.0.1 port, as a subprocess this runner owns."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None,
                 args: tuple[str, ...] = (), code: Path = ROOT) -> None:
        """``code``: the source tree whose ``qa_service`` runs (another checkout for an A/B;
        this checkout's virtualenv either way)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("ab")
        t0 = time.perf_counter()
        command = [str(QA)] if code == ROOT else [
            sys.executable, "-c", "from qa_service.cli import main; main()"]
        extra = {} if code == ROOT else {"PYTHONPATH": str(code)}
        self.proc = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
            cwd=code, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **extra, **(env or {})},
        )
        self.ready_s = self._wait_ready(t0)

    def _wait_ready(self, t0: float) -> float:
        """Seconds from process start to the first 200 from /readyz."""
        deadline = t0 + READY_TIMEOUT_S
        with httpx.Client(timeout=2.0) as c:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"qa serve exited with {self.proc.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if c.get(f"{self.url}/readyz").status_code == 200:
                        return time.perf_counter() - t0
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"qa serve not ready within {READY_TIMEOUT_S} s")

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def threads(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


class ProtocolError(Exception):
    """The server's bytes are not an HTTP/1.1 response this client understands."""


class JsonClient:
    """A keep-alive HTTP/1.1 JSON client on a bare socket: the thinnest client, so the latency
    measured is the server's, as a load tool written in C would measure it (the standard
    library's http.client costs ~0.15 ms more per request here, httpx ~0.5 ms, and the clients
    share the two cores with the server). Reads Content-Length and chunked bodies."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def post(self, path: str, body: dict[str, Any]) -> int:
        """The response status; the body is read and dropped. Raises OSError or ProtocolError
        (after closing, so the next call reconnects)."""
        return self.exchange(path, body)[0]

    def exchange(self, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
        """The response status and body (raises as ``post``)."""
        data = json.dumps(body).encode()
        request = (f"POST {path} HTTP/1.1\r\nHost: {self.address[0]}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.address, timeout=self.timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.sendall(request.encode() + data)
            return self._response()
        except (OSError, ProtocolError):
            self.close()
            raise

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _fill(self) -> None:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise ProtocolError("the server closed the connection")
        self.buffer += data

    def _response(self) -> tuple[int, bytes]:
        lines = self._read_until(b"\r\n\r\n").split(b"\r\n")
        try:
            status = int(lines[0].split()[1])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad status line {lines[0][:80]!r}") from None
        headers = dict(line.lower().split(b":", 1) for line in lines[1:] if b":" in line)
        if headers.get(b"transfer-encoding", b"").strip() == b"chunked":
            parts = []
            while size := int(self._read_until(b"\r\n").split(b";")[0], 16):
                parts.append(self._read_exactly(size))
                self._read_exactly(2)
            self._read_until(b"\r\n")  # the empty trailer
            body = b"".join(parts)
        else:
            body = self._read_exactly(int(headers.get(b"content-length", b"0")))
        if headers.get(b"connection", b"").strip() == b"close":
            self.close()
        return status, body

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def __enter__(self) -> JsonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


CLIENT_ERRORS = (OSError, ProtocolError)


def bench_http_single(url: str, questions: list[str]) -> tuple[dict[str, list[float]], int]:
    """One client, sequential requests, each question once (fresh server: not cached).
    Returns the latencies ("total"), the server's own stage times from each response's
    ``timings_ms`` (parsed after the clock stops), and what lies outside those stages
    ("outside"): HTTP, framework, thread-pool trip, response shaping and the client."""
    out: dict[str, list[float]] = {"total": [], "outside": []}
    errors = 0
    with JsonClient(url, timeout=30.0) as c:
        c.post("/v1/search", {"question": "warm-up: custody of children"})
        for q in questions:
            t = time.perf_counter()
            try:
                status, body = c.exchange("/v1/search", {"question": q})
            except CLIENT_ERRORS:
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


def variants(questions: list[str]) -> Iterator[str]:
    """Endless distinct questions: the eval questions with a running tag, so the server's query
    cache never answers and every request pays for an encode."""
    for n in itertools.count():
        yield f"{questions[n % len(questions)]} [{n}]"


def bench_load(server: Server, clients: int, seconds: float,
               tag: Iterator[str]) -> dict[str, Any]:
    """``clients`` threads, each with a keep-alive JsonClient, for ``seconds``."""
    lock = threading.Lock()
    lat: list[float] = []
    errors: list[str] = []
    stop_at = time.perf_counter() + seconds
    budget = itertools.count()

    def next_question() -> str:
        with lock:
            return next(tag)

    def worker() -> None:
        with JsonClient(server.url, timeout=30.0) as c:
            while time.perf_counter() < stop_at and next(budget) < MAX_REQUESTS_PER_LEVEL:
                q = next_question()
                t = time.perf_counter()
                try:
                    status = c.post("/v1/search", {"question": q})
                    err = None if status == 200 else f"HTTP {status}"
                except CLIENT_ERRORS as exc:
                    err = type(exc).__name__
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    lat.append(ms)
                    if err:
                        errors.append(err)

    cpu0, self0, t0 = server.cpu_s(), _self_cpu(), time.perf_counter()
    sys0 = system_cpu()[0]
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
    client_pct = 100 * (_self_cpu() - self0) / wall
    system_pct = 100 * (system_cpu()[0] - sys0) / wall
    return {
        "clients": clients, "seconds": round(wall, 2), "requests": len(lat),
        "errors": len(errors), "error_kinds": sorted(set(errors)),
        "rps": round(len(lat) / wall, 2), "latency_ms": lat,
        "server_cpu_pct": round(server_pct, 1), "client_cpu_pct": round(client_pct, 1),
        # the rest of the machine: anything else running skews the figures
        "other_cpu_pct": round(max(0.0, system_pct - server_pct - client_pct), 1),
        "server_threads_peak": peak_threads,
    }


def load_level(server: Server, clients: int, seconds: float, tag: Iterator[str], enc: float,
               label: str) -> dict[str, Any]:
    """One concurrency level, its latencies summarised (and as multiples of the encode)."""
    lv = bench_load(server, clients, seconds, tag)
    lv["latency_ms"] = stats(lv["latency_ms"], enc)
    lv["rps_x_encode"] = round(lv["rps"] * enc / 1000, 3)
    log(f"{label} {clients} clients: {lv['rps']} req/s, p50 {lv['latency_ms'].get('p50')} ms, "
        f"p99 {lv['latency_ms'].get('p99')} ms, {lv['errors']} errors, "
        f"server CPU {lv['server_cpu_pct']}%")
    return lv


def system_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / hz, sum(v[:8]) / hz


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def wait_idle(limit_s: float) -> dict[str, Any]:
    """Wait (at most ``limit_s``) until other work stops: a shared machine skews every figure.
    Returns what was seen, for the JSON."""
    t0 = time.perf_counter()
    busy0, _ = system_cpu()
    quiet = 0
    while True:
        time.sleep(2)
        busy1, _ = system_cpu()
        pct = 100 * (busy1 - busy0) / 2
        busy0 = busy1
        quiet = quiet + 1 if pct < 25 else 0
        waited = time.perf_counter() - t0
        if quiet >= 5 or waited >= limit_s:  # 10 s quiet in a row
            return {"waited_s": round(waited, 1), "busy_cpu_pct": round(pct, 1),
                    "loadavg_1m": loadavg()}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# 5, 8. subprocesses under /usr/bin/time -------------------------------------------------------


def timed_run(cmd: list[str], timeout: float) -> dict[str, float]:
    """Wall seconds and peak RSS (MB) of one command, via /usr/bin/time -v when present."""
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = [gnu_time, "-v", "-o", tf.name, *cmd] if gnu_time else cmd
        t = time.perf_counter()
        proc = subprocess.run(full, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-800:]}")
        report = tf.read()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    if m:
        rss_mb = int(m.group(1)) / 1024
    else:  # the largest child so far: an upper bound when /usr/bin/time is missing
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": wall, "peak_rss_mb": rss_mb}


def reports_by_size() -> list[Path]:
    """The corpus folder's report files, smallest first."""
    return sorted(corpus_files(ROOT / "corpus"), key=lambda p: p.stat().st_size)


def bench_index(n: int, smoke: bool, tmp: Path) -> dict[str, Any]:
    corpus = ROOT / "corpus"
    if smoke:  # the smallest report only
        corpus = tmp / "corpus"
        corpus.mkdir()
        small = reports_by_size()[0]
        shutil.copy(small, corpus / small.name)
    runs = []
    for i in range(n):
        runs.append(timed_run([str(QA), "index", "-q", "--corpus", str(corpus),
                               "--index", str(tmp / f"index-{i}")], timeout=600))
        log(f"index build {i + 1}/{n}: {runs[-1]['wall_s']:.1f} s, "
            f"{runs[-1]['peak_rss_mb']:.0f} MB")
    reports = [p.name for p in corpus_files(corpus)]
    return {"corpus": reports, "wall_s": [r["wall_s"] for r in runs],
            "peak_rss_mb": [r["peak_rss_mb"] for r in runs]}


def bench_add_report(n: int, smoke: bool, tmp: Path) -> dict[str, Any]:
    """Adding one report to a built index (the smallest, as a new post-inspection review would
    be), with ``qa index`` reusing the rest; rebuilding with nothing changed; and rebuilding
    the same corpus from scratch with ``qa index --full`` (the encoder export present)."""
    reports = reports_by_size()
    added, rest = reports[0], reports[1:]
    if smoke:
        rest = rest[:1]
    add_s, unchanged_s, full_s = [], [], []
    for i in range(n):
        corpus, index = tmp / f"add-corpus-{i}", tmp / f"add-index-{i}"
        corpus.mkdir()
        for p in rest:
            shutil.copy(p, corpus / p.name)
        cmd = [str(QA), "index", "-q", "--corpus", str(corpus), "--index", str(index)]
        timed_run(cmd, timeout=600)
        shutil.copy(added, corpus / added.name)
        add_s.append(timed_run(cmd, timeout=600)["wall_s"])
        unchanged_s.append(timed_run(cmd, timeout=600)["wall_s"])
        full_s.append(timed_run([*cmd, "--full"], timeout=600)["wall_s"])
        log(f"add one report {i + 1}/{n}: {add_s[-1]:.1f} s; unchanged rebuild "
            f"{unchanged_s[-1]:.1f} s; --full {full_s[-1]:.1f} s")
    return {"added": added.name, "to": [p.name for p in rest], "wall_s": add_s,
            "unchanged_wall_s": unchanged_s, "full_wall_s": full_s}


def bench_eval(n: int, smoke: bool, tmp: Path) -> dict[str, Any]:
    cmd = [str(QA), "eval", "--split", "test", "--only-final", "-q"]
    questions = "eval/questions.jsonl (test split)"
    if smoke:
        rows = [line for line in (ROOT / "eval" / "questions.jsonl").open()
                if json.loads(line)["split"] == "test"][:6]
        (tmp / "questions.jsonl").write_text("".join(rows))
        cmd += ["--questions", str(tmp / "questions.jsonl")]
        questions = "first 6 test questions"
    walls = []
    for i in range(n):
        walls.append(timed_run([*cmd, "--out", str(tmp / f"eval-{i}")], timeout=900)["wall_s"])
        log(f"eval run {i + 1}/{n}: {walls[-1]:.1f} s")
    return {"questions": questions, "wall_s": walls}


# 6. embedding throughput ----------------------------------------------------------------------


def bench_embed(embedder: Any, texts: list[str], repeats: int) -> dict[int, list[float]]:
    """Chunks per second for each batch size, over ``repeats`` passes of ``texts``."""
    embedder.encode(texts[:8], batch_size=8)  # warm-up
    out: dict[int, list[float]] = {}
    for bs in (1, 8, 16, 32, 64):
        out[bs] = []
        for _ in range(repeats):
            t = time.perf_counter()
            embedder.encode(texts, batch_size=bs)
            out[bs].append(len(texts) / (time.perf_counter() - t))
    return out


# the report -----------------------------------------------------------------------------------


def write_md(res: dict[str, Any], path: Path) -> None:
    enc = res["raw_encode_ms"]["p50"]
    rows: list[tuple[str, dict[str, Any], str]] = [
        (f"raw encode, 1 question, {res.get('raw_encode_encoder', 'service encoder')} (ms)",
         res["raw_encode_ms"], "ms"),
    ]
    if "raw_encode_paced_ms" in res:
        rows.append((f"raw encode, 1 question, {PACE_S * 1000:g} ms idle before each (ms)",
                     res["raw_encode_paced_ms"], "ms"))
    if "raw_encode_torch_ms" in res:
        rows.append(("raw encode, 1 question, PyTorch sentence-transformers (ms)",
                     res["raw_encode_torch_ms"], "ms"))
    s = res["search_inprocess"]
    rows.append(("search in-process, uncached: total (ms)", s["uncached_ms"]["total"], "ms"))
    rows += [(f"  stage {st} (ms)", s["uncached_ms"][st], "ms")
             for st in STAGES if st in s["uncached_ms"]]
    rows.append(("search in-process, cached: total (ms)", s["cached_ms"]["total"], "ms"))
    rows.append(("  cached: stage encode (ms)", s["cached_ms"].get("encode", {}), "ms"))
    rows.append(("search over HTTP, 1 client, uncached (ms)", res["http_single"]["latency_ms"],
                 "ms"))
    server_stages = res["http_single"].get("server_stages_ms", {})
    rows += [(f"  server stage {st} (ms)", server_stages[st], "ms")
             for st in STAGES if st in server_stages]
    if "outside" in server_stages:
        rows.append(("  outside the stages: HTTP, framework, thread hop, client (ms)",
                     server_stages["outside"], "ms"))
    for lv in res["http_load"]:
        rows.append((f"HTTP {lv['clients']} clients: latency (ms)", lv["latency_ms"], "ms"))
    rows.append(("index build, wall (s)", res["index_build"]["wall_s"], "s"))
    rows.append(("index build, peak RSS (MB)", res["index_build"]["peak_rss_mb"], "none"))
    if "add_report" in res:
        ad = res["add_report"]
        rows.append((f"add one report ({ad['added']}) to a built index (s);"
                     f" {ad['vs_full_build']}x the fresh-folder build"
                     + (f", {ad['vs_full_rebuild']}x `qa index --full`"
                        if "vs_full_rebuild" in ad else ""), ad["wall_s"], "s"))
        rows.append(("rebuild with no report changed (s)", ad["unchanged_wall_s"], "s"))
        if "full_rebuild_wall_s" in ad:
            rows.append(("`qa index --full` of the same corpus, export present (s)",
                         ad["full_rebuild_wall_s"], "s"))
    for bs, st in res["embedding_throughput"]["chunks_per_s"].items():
        rows.append((f"embedding batch {bs} (chunks/s)", st, "none"))
    rows.append(("cold start to /readyz 200 (s)", res["cold_start_s"], "s"))
    rows.append(("qa eval --split test --only-final (s)", res["eval_end_to_end"]["wall_s"], "s"))

    torch_enc = res.get("raw_encode_torch_ms", {}).get("p50")

    def ratio(st: dict[str, Any], unit: str) -> str:
        if unit == "none" or "p50" not in st:
            return ""
        ms = st["p50"] * (1000 if unit == "s" else 1)
        return f"{ms / enc:.1f}" + (f" / {ms / torch_enc:.1f}" if torch_enc else "")

    lines = [
        f"# Benchmarks ({res['mode']} mode, {res['machine']['cpus']} CPUs, "
        f"torch threads {res['machine']['torch_threads']}, {res['generated']})", "",
        "Times are p50 / p95 / p99 over n samples; \"x encode\" is the p50 divided by the raw "
        f"single-question encode p50 of the service's encoder ({enc:.2f} ms) and, after the "
        "slash, of the raw PyTorch model"
        + (f" ({torch_enc:.2f} ms)" if torch_enc else "") + ", both measured in the same run"
        " on the same questions as the 1-client HTTP figure. The HTTP figure's server stages"
        " come from each response's `timings_ms`; \"outside the stages\" is the rest of each"
        " request's wall time. The service's encoder is timed back to back (the yardstick) and"
        f" with {PACE_S * 1000:g} ms idle before each question, as a lone client's questions"
        " reach the server.",
        "",
        "| figure | n | p50 | p95 | p99 | x encode |", "|---|---|---|---|---|---|",
    ]
    for name, st, unit in rows:
        if st.get("n"):
            lines.append(f"| {name} | {st['n']} | {st['p50']:g} | {st['p95']:g} | {st['p99']:g} "
                         f"| {ratio(st, unit)} |")
    lines += ["", "HTTP throughput (distinct questions: each eval question with a running tag, "
              "so the query cache never answers):", "",
              "| torch threads | clients | requests/s | requests | errors | p50 ms | p95 ms "
              "| p99 ms | requests per encode time | server CPU % | client CPU % | other CPU % "
              "| server threads |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    levels = [(str(res["machine"]["torch_threads"]), lv) for lv in res["http_load"]]
    levels += [("1", lv) for lv in res["http_load_torch_1_thread"]]
    for threads, lv in levels:
        la = lv["latency_ms"]
        lines.append(f"| {threads} | {lv['clients']} | {lv['rps']} | {lv['requests']} "
                     f"| {lv['errors']} "
                     f"| {la.get('p50', '')} | {la.get('p95', '')} | {la.get('p99', '')} "
                     f"| {lv['rps_x_encode']} | {lv['server_cpu_pct']} | {lv['client_cpu_pct']} "
                     f"| {lv['other_cpu_pct']} | {lv['server_threads_peak']} |")
    lines += ["", f"Machine before the run: {res['machine']['before']}; 1-minute load average "
              f"at each section: {res['loadavg_1m']}; other processes used "
              f"{res['other_processes_cpu_pct']}% CPU over the run"
              + (" (figures skewed)." if res["skewed_by_other_load"] else ".")]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    cfg = MODES[mode]
    out_dir = args.out or (ROOT / "bench" / "results" / ("" if mode == "full" else mode))
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sys_busy0 = system_cpu()[0]
    if not (ROOT / "index" / "CURRENT").is_file():
        sys.exit("no index: run `.venv/bin/qa index` first")

    import torch

    res: dict[str, Any] = {
        "mode": mode,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "config": cfg,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads()},
    }
    res["machine"]["before"] = wait_idle(cfg["idle_wait_s"])
    if res["machine"]["before"]["busy_cpu_pct"] >= 25:
        log(f"warning: the machine is busy ({res['machine']['before']}); figures will be skewed")
    res["loadavg_1m"] = {}
    log(f"mode {mode}: loading the index and model")
    retriever = open_retriever(Settings(index_dir=ROOT / "index"))
    retriever.warm()  # as the server does before it serves
    res["index"] = {"version": retriever.index.version, "chunks": len(retriever.index.chunks),
                    "documents": len(retriever.index.documents)}

    # 1.
    res["loadavg_1m"]["raw_encode"] = loadavg()
    enc_samples = bench_raw_encode(retriever.embedder, load_questions(cfg["encode_q"]),
                                   cfg["encode_passes"])
    res["raw_encode_ms"] = stats(enc_samples)
    res["raw_encode_encoder"] = type(retriever.embedder).__name__
    enc = res["raw_encode_ms"]["p50"]
    log(f"raw encode p50 {enc:.2f} ms ({res['raw_encode_encoder']}, the service's encoder)")
    # The same encodes with the pause a lone HTTP client leaves between them (its request's
    # other work, ~2.5 ms): context for the HTTP figure, not its yardstick (that stays the
    # back-to-back figure above).
    res["raw_encode_paced_ms"] = stats(bench_raw_encode(
        retriever.embedder, load_questions(cfg["encode_q"]), cfg["encode_passes"], PACE_S))
    log(f"raw encode, paced, p50 {res['raw_encode_paced_ms']['p50']:.2f} ms")
    # The floor the issue names: the raw sentence-transformers (PyTorch) model, same questions.
    from qa_service.embedding import SentenceTransformerEmbedder
    s0 = Settings(index_dir=ROOT / "index")
    torch_model = SentenceTransformerEmbedder(s0.model, s0.device, s0.torch_threads,
                                              s0.blas_threads).load()
    res["raw_encode_torch_ms"] = stats(bench_raw_encode(
        torch_model, load_questions(cfg["encode_q"]), cfg["encode_passes"]))
    log(f"raw PyTorch encode p50 {res['raw_encode_torch_ms']['p50']:.2f} ms")
    del torch_model

    # 2.
    res["loadavg_1m"]["search_inprocess"] = loadavg()
    qs = load_questions(cfg["search_q"])
    res["search_inprocess"] = {
        "questions": len(qs),
        "uncached_ms": {k: stats(v, enc) for k, v in bench_search(retriever, qs, False).items()},
        "cached_ms": {k: stats(v, enc) for k, v in bench_search(retriever, qs, True).items()},
    }
    log(f"search in-process p50 {res['search_inprocess']['uncached_ms']['total']['p50']} ms")

    # 6. (in this process, before the server competes for the cores)
    texts = [c.embed_text for c in retriever.index.chunks][: cfg["embed_chunks"]]
    emb = bench_embed(retriever.embedder, texts, cfg["embed_repeats"])
    res["embedding_throughput"] = {
        "chunks": len(texts),
        "mean_model_tokens": round(float(np.mean(
            [c.n_model_tokens for c in retriever.index.chunks][: len(texts)])), 1),
        "chunks_per_s": {str(bs): stats(v, digits=1) for bs, v in emb.items()},
        # time per chunk as a multiple of one question's encode (questions are much shorter)
        "ms_per_chunk_x_encode": {str(bs): round(1000 / float(np.median(v)) / enc, 2)
                                  for bs, v in emb.items()},
    }
    log("embedding throughput " + ", ".join(
        f"bs{bs}: {float(np.median(v)):.1f}/s" for bs, v in emb.items()))
    del retriever  # free the runner's copy before the server runs

    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmpdir:
        tmp = Path(tmpdir)
        # 3, 4, and the first cold-start sample.
        server = Server(tmp / "serve.log")
        cold = [server.ready_s]
        log(f"server on {server.url}, ready in {server.ready_s:.1f} s")
        try:
            http_q = load_questions(cfg["http_q"], None)
            single, errs = bench_http_single(server.url, http_q)
            res["http_single"] = {"questions": len(http_q), "errors": errs,
                                  "latency_ms": stats(single.pop("total"), enc),
                                  "server_stages_ms": {k: stats(v, enc) for k, v in single.items()}}
            log(f"HTTP 1 client p50 {res['http_single']['latency_ms']['p50']} ms")
            tag = variants(load_questions(257))
            res["http_load"] = []
            for clients in cfg["levels"]:
                res["http_load"].append(
                    load_level(server, clients, cfg["level_s"], tag, enc, "HTTP"))
        finally:
            server.stop()
        # The same load with torch limited to one thread per process (OMP_NUM_THREADS=1):
        # does the thread pool's concurrency fight torch's intra-op threads?
        res["http_load_torch_1_thread"] = []
        if cfg["threads1_levels"]:
            server = Server(tmp / "serve.log", {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
            try:
                for clients in cfg["threads1_levels"]:
                    res["http_load_torch_1_thread"].append(load_level(
                        server, clients, cfg["threads1_s"], tag, enc, "HTTP, OMP_NUM_THREADS=1,"))
            finally:
                server.stop()
        res["http_load_note"] = (
            "distinct questions (eval questions with a running tag) so the query cache never "
            "answers; clients are threads in the runner process, sharing the machine's cores "
            "with the server; `qa serve` is one uvicorn process running the sync routes in its "
            "thread pool")

        # 7.
        res["loadavg_1m"]["cold_start"] = loadavg()
        for _ in range(cfg["cold"] - 1):
            s = Server(tmp / "serve.log")
            s.stop()
            cold.append(s.ready_s)
            log(f"cold start {s.ready_s:.1f} s")
        res["cold_start_s"] = stats(cold, enc / 1000)

        # 5.
        res["loadavg_1m"]["index_build"] = loadavg()
        ib = bench_index(cfg["builds"], mode == "smoke", tmp)
        res["index_build"] = {"corpus": ib["corpus"], "wall_s": stats(ib["wall_s"], enc / 1000),
                              "peak_rss_mb": stats(ib["peak_rss_mb"], digits=1)}
        ad = bench_add_report(cfg["builds"], mode == "smoke", tmp)
        res["add_report"] = {
            "added": ad["added"], "to": ad["to"],
            "wall_s": stats(ad["wall_s"], enc / 1000),
            "unchanged_wall_s": stats(ad["unchanged_wall_s"], enc / 1000),
            "full_rebuild_wall_s": stats(ad["full_wall_s"], enc / 1000),
            # against the fresh-folder build (which includes the one-time encoder export) and
            # against `qa index --full` over the same corpus with the export present
            "vs_full_build": round(float(np.median(ad["wall_s"]))
                                   / res["index_build"]["wall_s"]["p50"], 3),
            "vs_full_rebuild": round(float(np.median(ad["wall_s"]))
                                     / float(np.median(ad["full_wall_s"])), 3),
        }
        # 8.
        res["loadavg_1m"]["eval"] = loadavg()
        ev = bench_eval(cfg["evals"], mode == "smoke", tmp)
        res["eval_end_to_end"] = {"questions": ev["questions"],
                                  "wall_s": stats(ev["wall_s"], enc / 1000)}

    res["runner_wall_s"] = round(time.perf_counter() - started, 1)
    ours = _self_cpu() + _children_cpu()
    other = 100 * max(0.0, system_cpu()[0] - sys_busy0 - ours) / res["runner_wall_s"]
    # CPU used by processes that are not this runner or its children (approximate: a server
    # stopped with SIGTERM is reaped, so its CPU counts as ours)
    res["other_processes_cpu_pct"] = round(other, 1)
    res["skewed_by_other_load"] = other > 25
    if other > 25:
        log(f"warning: other processes used {other:.0f}% CPU during the run; figures are skewed")
    (out_dir / "benchmarks.json").write_text(json.dumps(res, indent=2) + "\n")
    write_md(res, out_dir / "benchmarks.md")
    from plots import plot_benchmarks

    plot_benchmarks(res, out_dir)
    print((out_dir / "benchmarks.md").read_text())
    log(f"done in {res['runner_wall_s']} s; wrote {out_dir}/benchmarks.{{json,md}} and"
        " benchmarks-{latency,load}.png")


if __name__ == "__main__":
    main()
