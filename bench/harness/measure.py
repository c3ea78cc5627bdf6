"""Modes and results folders, timing and percentiles, machine facts, and `qa` in a fresh
process."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
QA = Path(sys.executable).with_name("qa")
QUESTIONS = ROOT / "eval" / "questions.jsonl"
# The search stages every SearchResult times (its ``timings_ms``), in pipeline order.
STAGES = ["understand", "encode", "dense", "lexical", "fusion", "answerable", "highlight"]
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def log(msg: str) -> None:
    """One progress line on stderr, tagged with the running benchmark and the time."""
    print(
        f"[{Path(sys.argv[0]).stem} {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True
    )


# modes and results ----------------------------------------------------------------------------


def arguments(doc: str | None, quick: bool = False) -> argparse.ArgumentParser:
    """A parser with the options every benchmark takes: --smoke, --quick (if it has one), --out."""
    ap = argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--smoke", action="store_true", help="CI check that it runs, in seconds")
    if quick:
        ap.add_argument("--quick", action="store_true", help="fewer repeats than a full run")
    ap.add_argument(
        "--out", type=Path, help="results folder (default: by mode, under bench/results/)"
    )
    return ap


def mode_of(args: argparse.Namespace) -> str:
    """``smoke``, ``quick`` or ``full``."""
    return "smoke" if args.smoke else "quick" if getattr(args, "quick", False) else "full"


def out_dir(args: argparse.Namespace) -> Path:
    """Where this run writes: --out, or bench/results/ (full) or bench/results/<mode>/."""
    mode = mode_of(args)
    out: Path = args.out or (RESULTS if mode == "full" else RESULTS / mode)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_results(out: Path, name: str, res: dict[str, Any], md: list[str]) -> Path:
    """``<out>/<name>.json`` and ``<out>/<name>.md``; returns the markdown file."""
    (out / f"{name}.json").write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n")
    path = out / f"{name}.md"
    path.write_text("\n".join(md).rstrip("\n") + "\n")
    log(f"wrote {out / name}.json and .md")
    return path


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A markdown table's lines."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


# timing and percentiles -----------------------------------------------------------------------


def stats(values: Sequence[float], enc_ms: float | None = None, digits: int = 3) -> dict[str, Any]:
    """n, p50, p95, p99, mean, min, max of ``values``; with ``enc_ms``, each percentile also as
    a multiple of the raw encode p50 (``x_encode``)."""
    if not values:
        return {"n": 0}
    a = np.asarray(values, dtype=float)
    out: dict[str, Any] = {"n": len(values)}
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        out[name] = round(float(np.percentile(a, q)), digits)
    out.update(
        mean=round(float(a.mean()), digits),
        min=round(float(a.min()), digits),
        max=round(float(a.max()), digits),
    )
    if enc_ms:
        out["x_encode"] = {k: round(out[k] / enc_ms, 2) for k in ("p50", "p95", "p99")}
    return out


def median(values: Sequence[float], digits: int = 3) -> float:
    """The median, rounded (nan for no values)."""
    return round(float(np.median(values)), digits) if len(values) else float("nan")


def time_ms(fn: Callable[[], Any], repeats: int = 1) -> list[float]:
    """Wall milliseconds of ``repeats`` calls of ``fn``."""
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def raw_encode(
    embedder: Any, questions: list[str], passes: int, pause_s: float = 0.0
) -> list[float]:
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


def search_stages(
    retriever: Any, questions: Sequence[str], cached: bool = False, **kwargs: Any
) -> dict[str, list[float]]:
    """Wall ms of ``retriever.search`` ("total") and of its stages, per question. Uncached: the
    query-vector cache is emptied before every question, so the encode is really measured."""
    samples: dict[str, list[float]] = {s: [] for s in [*STAGES, "total"]}
    if cached:
        for q in questions:
            retriever.search(q, **kwargs)
    for q in questions:
        if not cached:
            retriever._cache.clear()
        t = time.perf_counter()
        result = retriever.search(q, **kwargs)
        samples["total"].append((time.perf_counter() - t) * 1000)
        for stage, ms in result.timings_ms.items():
            samples.setdefault(stage, []).append(ms)
    return {k: v for k, v in samples.items() if v}


# machine facts ---------------------------------------------------------------------------------


def loadavg() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def system_cpu() -> float:
    """Busy CPU seconds of the whole machine so far (/proc/stat, idle and iowait left out)."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu(children: bool = False) -> float:
    """CPU seconds (user + system) of this process, or of its reaped children."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def machine() -> dict[str, Any]:
    """The facts a result needs to be compared: CPUs, platform, Python, load average."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "loadavg_1m": loadavg(),
    }


def wait_idle(limit_s: float) -> dict[str, Any]:
    """Wait (at most ``limit_s``) for 10 quiet seconds in a row: other work on a shared machine
    skews every figure. Returns what was seen, for the results."""
    t0, quiet, pct = time.perf_counter(), 0, 0.0
    while quiet < 5 and time.perf_counter() - t0 < limit_s:
        busy0 = system_cpu()
        time.sleep(2)
        pct = 100 * (system_cpu() - busy0) / 2
        quiet = quiet + 1 if pct < 25 else 0
    return {
        "waited_s": round(time.perf_counter() - t0, 1),
        "busy_cpu_pct": round(pct, 1),
        "loadavg_1m": loadavg(),
    }


def begin(
    doc: str | None, benchmark: str, modes: dict[str, dict[str, Any]], quick: bool = True
) -> tuple[argparse.Namespace, dict[str, Any], Path, dict[str, Any]]:
    """Parse the options; the mode's counts, the results folder and the result's header."""
    args = arguments(doc, quick).parse_args()
    mode = mode_of(args)
    return args, modes[mode], out_dir(args), header(benchmark, mode, modes[mode])


def header(benchmark: str, mode: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """The start of a result: what, in which mode, when, with which counts, on what machine
    (waiting first, up to ``cfg["idle_wait_s"]``, for other work to stop)."""
    facts = machine()
    facts["before"] = wait_idle(cfg.get("idle_wait_s", 0))
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    return {
        "benchmark": benchmark,
        "mode": mode,
        "generated": when,
        "config": cfg,
        "machine": facts,
    }


class OtherLoad:
    """Share of the machine's CPUs (0..1) that other processes used while a block ran."""

    share = 0.0

    def __enter__(self) -> OtherLoad:
        self.wall, self.busy, self.own = time.perf_counter(), system_cpu(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.wall
        other = system_cpu() - self.busy - (time.process_time() - self.own)
        self.share = round(max(0.0, other) / (wall * (os.cpu_count() or 1)), 3)


# `qa` in a fresh process ---------------------------------------------------------------------


def qa_env(clean: bool = False, **settings: str) -> dict[str, str]:
    """The environment for a `qa` run: offline, with ``settings`` (QA_* variables); ``clean``
    drops the QA_* variables this process was given."""
    env = {k: v for k, v in os.environ.items() if not (clean and k.startswith("QA_"))}
    # The adapted encoder `qa prepare` made, wherever the run's working folder is.
    env.setdefault("QA_MODELS_DIR", str(ROOT / "models"))
    return {**env, **OFFLINE, **settings}


def run_qa(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 1800, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """``qa ARGS`` in a fresh process; raises SystemExit with its stderr when it fails."""
    proc = subprocess.run(
        [str(QA), *args],
        cwd=cwd,
        env=env or qa_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"qa {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc


def timed_run(cmd: Sequence[str], timeout: float = 900) -> dict[str, float]:
    """Wall seconds and peak RSS (MB) of one command, via /usr/bin/time -v when present."""
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = [gnu_time, "-v", "-o", tf.name, *cmd] if gnu_time else list(cmd)
        t = time.perf_counter()
        proc = subprocess.run(
            full, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=qa_env()
        )
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-800:]}")
        report = tf.read()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    if m:
        rss_mb = int(m.group(1)) / 1024
    else:  # the largest child so far: an upper bound when /usr/bin/time is missing
        rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": wall, "peak_rss_mb": rss_mb}
