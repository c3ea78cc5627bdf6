"""Republishing under load: ``qa serve`` on a temporary copy of the index answers 8 concurrent
clients posting /v1/search for 60 s while ``qa index`` publishes a new generation 5 times,
alternating two corpus variants (the corpus, and the corpus without one report) so that the
generations really differ.

Every response names the generation it was answered from (``index_version``). Each returned
passage must exist in that generation's passages (read once per generation with
``store.load_generation``, which checks them against the manifest's sha256;
QA_KEEP_GENERATIONS is raised so no generation is deleted during the run)
with the same text, char_start, char_end, doc_id and source: anything else is an inconsistency.
Non-200 answers and connection errors are errors. Writes ``<out>/republish.json`` and
``<out>/republish.md``: requests, req/s, latency percentiles, errors, inconsistencies, and when
each generation was published and first and last served.

Run: .venv/bin/python bench/republish.py [--smoke] [--out DIR]
  (full)   60 s, 8 clients, 5 republishes; writes bench/results/.
  --smoke  8 s, 8 clients, 1 republish (CI: it works); writes bench/results/smoke/.
Exit status 1 if any error or inconsistency was seen, or a republished generation was never
served. The server listens on 127.0.0.1 only; every request loop is bounded in count and time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness as h
import httpx

from qa_service.index import store

MODES: dict[str, dict[str, Any]] = {
    "full": {"seconds": 60.0, "clients": 8, "republishes": 5, "idle_wait_s": 120.0},
    "smoke": {"seconds": 8.0, "clients": 8, "republishes": 1, "idle_wait_s": 0.0},
}
DROPPED_REPORT = "leicestershire-2017-post-inspection-review.txt"  # absent from variant "minus"
MAX_REQUESTS_PER_CLIENT = 20_000  # a bound on count as well as on time
BUILD_TIMEOUT_S = 600.0
EXTRA_S = 30.0
ENV = h.qa_env(QA_KEEP_GENERATIONS="20")  # the settings' maximum: nothing is deleted meanwhile
CHECKED_FIELDS = {  # response field -> passage (Chunk) field
    "doc_id": "doc_id",
    "source": "source",
    "text": "text",
    "char_start": "start",
    "char_end": "end",
}


# the index and its generations ---------------------------------------------------------------


def make_corpora(tmp: Path) -> dict[str, Path]:
    """Two variants of the corpus: every report ("all"), and all but one ("minus")."""
    reports = h.reports_by_size()
    minus = [p for p in reports if p.name != DROPPED_REPORT]
    return {
        "all": h.corpus_of(tmp / "corpus-all", reports),
        "minus": h.corpus_of(tmp / "corpus-minus", minus),
    }


def copy_index(index: Path) -> None:
    """The repository's published generation (and CURRENT) copied, or a fresh build."""
    source = h.ROOT / "index"
    name = (source / "CURRENT").read_text().strip() if (source / "CURRENT").is_file() else ""
    if name and (source / name).is_dir():
        index.mkdir()
        shutil.copytree(source / name, index / name)
        shutil.copy2(source / "CURRENT", index / "CURRENT")
        h.log(f"copied index/{name}")
    else:
        h.log("no index/ to copy: building one")
        build(h.ROOT / "corpus", index)


def _pointer(index: Path) -> tuple[int, int] | None:
    try:
        st = (index / "CURRENT").stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns)


def build(corpus: Path, index: Path) -> tuple[float, float | None]:
    """Run ``qa index``: its wall seconds, and when (perf_counter) CURRENT was switched."""
    before = _pointer(index)
    cmd = [str(h.QA), "index", "--quiet", "--corpus", str(corpus), "--index", str(index)]
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=ENV, stdout=out, stderr=subprocess.STDOUT)
        switched = None
        while proc.poll() is None:
            if switched is None and _pointer(index) != before:
                switched = time.perf_counter()
            if time.perf_counter() - t0 > BUILD_TIMEOUT_S:
                proc.kill()
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            out.seek(0)
            tail = out.read().decode(errors="replace")[-800:]
            raise RuntimeError(f"qa index failed ({proc.returncode}): {tail}")
    if switched is None and _pointer(index) != before:
        switched = time.perf_counter()
    return seconds, switched


class Generations:
    """Each generation's chunks by passage id, read once from disk and checked."""

    def __init__(self, index: Path) -> None:
        self.index = index
        self._chunks: dict[str, dict[str, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def chunks(self, name: str) -> dict[str, dict[str, Any]] | None:
        """The generation's chunks (None when it does not exist or fails its checksum)."""
        with self._lock:
            if name not in self._chunks:
                loaded = self._read(name)
                if loaded is None:
                    return None
                self._chunks[name] = loaded
            return self._chunks[name]

    def _read(self, name: str) -> dict[str, dict[str, Any]] | None:
        gen = self.index / name
        if not name.startswith("gen-") or not (gen / "manifest.json").is_file():
            return None
        try:
            loaded = store.load_generation(gen)
        except store.IndexStoreError:
            return None
        return {c.chunk_id: store.chunk_to_json(c) for c in loaded.chunks}


# the run ---------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    latency_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    inconsistencies: int = 0
    examples: list[str] = field(default_factory=list)
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> counts, times
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, kind: str, ms: float) -> None:
        with self.lock:
            self.latency_ms.append(ms)
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def answer(self, version: str, at: float, ms: float, problems: list[str]) -> None:
        with self.lock:
            self.latency_ms.append(ms)
            s = self.seen.setdefault(version, {"responses": 0, "first_s": at, "last_s": at})
            s["responses"] += 1
            s["first_s"], s["last_s"] = min(s["first_s"], at), max(s["last_s"], at)
            if problems:
                self.inconsistencies += 1
                self.examples.extend(problems[: max(0, 10 - len(self.examples))])


def check(body: dict[str, Any], generations: Generations) -> tuple[str, list[str]]:
    """The version a response reports, and how its passages disagree with that generation."""
    version = str(body.get("index_version"))
    chunks = generations.chunks(version)
    if chunks is None:
        return version, [f"{version}: no such generation on disk"]
    problems = []
    for p in body.get("results", []):
        # a merged passage (qa_service/search/merging.py) joins its chunks' ids with "+"
        ids = str(p.get("passage_id")).split("+")
        parts = [chunks[i] for i in ids if i in chunks]
        if len(parts) != len(ids):
            problems.append(f"{version}: passage {p.get('passage_id')} is not in it")
            continue
        chunk = parts[0] if len(parts) == 1 else _merged(parts)
        for ours, theirs in CHECKED_FIELDS.items():
            if ours == "text" and len(parts) > 1:
                ok = _in_order(p.get("text", ""), [c["text"] for c in parts])
            else:
                ok = p.get(ours) == chunk[theirs]
            if not ok:
                problems.append(f"{version}: passage {p['passage_id']} {ours} differs")
    return version, problems


def _merged(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The fields a merged passage of these neighbouring chunks must have."""
    return {**parts[0], "end": parts[-1]["end"]}


def _in_order(text: str, pieces: list[str]) -> bool:
    """Whether each piece occurs in ``text``, one after the other."""
    at = 0
    for piece in pieces:
        found = text.find(piece, at)
        if found < 0:
            return False
        at = found + len(piece)
    return True


def client(
    url: str,
    questions: list[str],
    offset: int,
    t0: float,
    stop: threading.Event,
    generations: Generations,
    tally: Tally,
) -> None:
    with httpx.Client(timeout=30.0) as c:
        for n in range(MAX_REQUESTS_PER_CLIENT):
            if stop.is_set():
                return
            start = time.perf_counter()
            # A tag makes every question new to the server's query cache: each request encodes.
            q = f"{questions[(offset + n) % len(questions)]} [{offset}.{n}]"
            try:
                r = c.post(f"{url}/v1/search", json={"question": q, "top_k": 5})
            except httpx.HTTPError as exc:
                tally.error(type(exc).__name__, (time.perf_counter() - start) * 1000)
                continue
            ms = (time.perf_counter() - start) * 1000
            if r.status_code != 200:
                tally.error(f"HTTP {r.status_code}", ms)
                continue
            version, problems = check(r.json(), generations)
            tally.answer(version, round(time.perf_counter() - t0, 3), ms, problems)


def publisher(
    corpora: dict[str, Path],
    index: Path,
    schedule: list[float],
    t0: float,
    generations: Generations,
    events: list[dict[str, Any]],
) -> None:
    """Republish at the scheduled moments (seconds from t0), alternating the variants."""
    for n, at in enumerate(schedule):
        time.sleep(max(0.0, t0 + at - time.perf_counter()))
        variant = "minus" if n % 2 == 0 else "all"
        started = time.perf_counter() - t0
        try:
            seconds, switched = build(corpora[variant], index)
        except Exception as exc:
            events.append({"variant": variant, "started_s": round(started, 3), "error": str(exc)})
            h.log(f"republish {n + 1} ({variant}) failed: {exc}")
            continue
        name = (index / "CURRENT").read_text().strip()
        chunks = generations.chunks(name)  # read now, whatever happens to it later
        events.append(
            {
                "generation": name,
                "variant": variant,
                "started_s": round(started, 3),
                "published_s": round((switched or time.perf_counter()) - t0, 3),
                "build_s": round(seconds, 2),
                "passages": len(chunks or {}),
            }
        )
        h.log(f"republish {n + 1}: {variant} -> {name} ({seconds:.1f} s)")


def run(mode: str, out: Path) -> int:
    cfg = MODES[mode]
    questions = h.load_questions()
    tmp = Path(tempfile.mkdtemp(prefix="qa-republish-"))
    server = None
    try:
        corpora = make_corpora(tmp)
        index = tmp / "index"
        copy_index(index)
        warm, _ = build(corpora["all"], index)  # the copy's work reused: later builds fast
        h.log(f"warm-up build of the full corpus: {warm:.1f} s")
        initial = (index / "CURRENT").read_text().strip()
        generations = Generations(index)
        initial_passages = len(generations.chunks(initial) or {})
        server = h.Server(tmp / "server.log", ENV, ("--index", str(index)))
        with httpx.Client(timeout=30.0) as c:  # warm the server up
            for q in questions[:5]:
                c.post(f"{server.url}/v1/search", json={"question": q})

        waited = h.wait_idle(cfg["idle_wait_s"])["waited_s"]
        tally = Tally()
        events: list[dict[str, Any]] = [
            {
                "generation": initial,
                "variant": "all",
                "published_s": None,
                "passages": initial_passages,
                "initial": True,
            }
        ]
        seconds, n = cfg["seconds"], cfg["republishes"]
        # Spread over the run, the last one early enough to be served before it ends.
        schedule = [round(seconds * (i + 0.5) / (n + 0.5), 2) for i in range(n)]
        h.log(f"{cfg['clients']} clients for {seconds:.0f} s, republishing at {schedule}")
        t0, busy0 = time.perf_counter(), h.system_cpu()
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=client,
                args=(server.url, questions, 37 * i, t0, stop, generations, tally),
                daemon=True,
            )
            for i in range(cfg["clients"])
        ]
        pub = threading.Thread(
            target=publisher,
            args=(corpora, index, schedule, t0, generations, events),
            daemon=True,
        )
        for th in [*threads, pub]:
            th.start()
        time.sleep(seconds)
        # A slow machine: run on (at most EXTRA_S) until the last republish has been served.
        pub.join(timeout=EXTRA_S)
        deadline = time.perf_counter() + EXTRA_S
        while time.perf_counter() < deadline and events[-1].get("generation") not in tally.seen:
            time.sleep(0.1)
        stop.set()
        for th in threads:
            th.join(timeout=60)
        wall = time.perf_counter() - t0
        machine_busy = 100 * (h.system_cpu() - busy0) / wall / (os.cpu_count() or 1)
        pub.join(timeout=BUILD_TIMEOUT_S)
        result = summarize(mode, cfg, wall, tally, events)
        result["machine"].update(
            idle_wait_s=waited,
            busy_cpu_pct=round(machine_busy, 1),  # everything: server, clients, builds, others
            loadavg_1m_after=float(Path("/proc/loadavg").read_text().split()[0]),
        )
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    write_md(result, out)
    ok = result["errors"] == 0 and result["inconsistencies"] == 0
    ok = ok and not result["never_served"] and len(result["published"]) == n + 1
    h.log("OK" if ok else "FAILED: see the results")
    return 0 if ok else 1


def summarize(
    mode: str, cfg: dict[str, Any], wall: float, tally: Tally, events: list[dict[str, Any]]
) -> dict[str, Any]:
    published = [e for e in events if "generation" in e]
    for e in published:
        seen = tally.seen.get(e["generation"])
        e["responses"] = seen["responses"] if seen else 0
        e["first_served_s"] = seen["first_s"] if seen else None
        e["last_served_s"] = seen["last_s"] if seen else None
    return {
        "mode": mode,
        "clients": cfg["clients"],
        "seconds": round(wall, 2),
        "requests": len(tally.latency_ms),
        "rps": round(len(tally.latency_ms) / wall, 1),
        "latency_ms": h.stats(tally.latency_ms, digits=2),
        "errors": sum(tally.errors.values()),
        "error_kinds": tally.errors,
        "inconsistencies": tally.inconsistencies,
        "inconsistency_examples": tally.examples,
        "published": published,
        "failed_republishes": [e for e in events if "error" in e],
        "generations_served": len(tally.seen),
        "unknown_versions": sorted(set(tally.seen) - {e["generation"] for e in published}),
        "never_served": [e["generation"] for e in published if not e["responses"]],
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def write_md(res: dict[str, Any], out: Path) -> list[str]:
    """republish.{json,md}; the markdown lines."""
    lat, m = res["latency_ms"], res["machine"]
    lines = [
        "# Republishing under load",
        "",
        f"`bench/republish.py` ({res['mode']} mode, {res['date']}, {res['machine']['cpus']} CPUs):"
        f" `qa serve` on a copy of the index, {res['clients']} clients posting /v1/search for"
        f" {res['seconds']:.0f} s while `qa index` republished {len(res['published']) - 1} times"
        " (alternating the corpus with and without one report). Every passage returned is"
        " checked against the chunks of the generation its response names.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| requests | {res['requests']} |",
        f"| requests/s | {res['rps']} |",
        f"| latency p50 / p95 / p99 (ms) | {lat.get('p50')} / {lat.get('p95')}"
        f" / {lat.get('p99')} |",
        f"| latency max (ms) | {lat.get('max')} |",
        f"| errors (non-200, connection) | {res['errors']} {res['error_kinds'] or ''} |",
        f"| inconsistencies (passage not as in its generation) | {res['inconsistencies']} |",
        f"| generations served | {res['generations_served']} |",
        f"| machine busy during the run (all processes) | {m['busy_cpu_pct']}% of {m['cpus']}"
        f" CPUs (waited {m['idle_wait_s']} s for other work to stop first) |",
        "",
        "Times are seconds from the start of the load; a generation is published when CURRENT"
        " names it, served when a response (received at that time) reports it.",
        "",
        "| generation | corpus | build (s) | published at | first served | last served"
        " | responses | passages |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for e in res["published"]:
        when = "before the run" if e.get("initial") else e["published_s"]
        lines.append(
            f"| {e['generation']} | {e['variant']} | {e.get('build_s', '')} | {when} |"
            f" {e['first_served_s']} | {e['last_served_s']} | {e['responses']} |"
            f" {e.get('passages', '')} |"
        )
    if res["inconsistency_examples"]:
        lines += ["", "Inconsistencies (first ones):", ""]
        lines += [f"- {x}" for x in res["inconsistency_examples"]]
    h.write_results(out, "republish", res, lines)
    return lines


def main() -> None:
    args = h.arguments(__doc__).parse_args()
    sys.exit(run(h.mode_of(args), h.out_dir(args)))


if __name__ == "__main__":
    main()
