"""HTTP overhead, A/B: what the HTTP path adds to a search, under two code trees or settings.

Two `qa serve` processes on the same index are asked the same questions in alternating blocks,
so drift in the machine's load hits both alike.

A side is this tree's code, or another revision's (``--base REV``: checked out into a temporary
git worktree, run with this checkout's virtualenv), each with optional environment settings
(``--env-a`` / ``--env-b KEY=VALUE``), e.g. QA_ACCESS_LOG=1 against the default. Each block
sends, on one keep-alive connection (the harness's bare-socket client):
  - ``cached``: one question repeated (the query vector is cached: no encode);
  - ``uncached``: eval questions with a per-block tag (every request encodes).
For each, the p50 of the wall time and of what lies outside the server's reported stages
(``timings_ms``): HTTP, framework, hand-off to the worker thread and back, the client.

Run: .venv/bin/python bench/http_overhead.py [--base REV] [--env-a K=V ...] [--env-b K=V ...]
        [--blocks 12] [--name NAME] [--smoke]
Writes http-overhead-NAME.{json,md}; http-overhead.md sums up the committed runs. Loopback
only; every loop is bounded.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness as h


def _env(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            sys.exit(f"--env takes KEY=VALUE, not {pair!r}")
        out[key] = value
    return out


def _block(client: h.JsonClient, questions: list[str], cached: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"cached": [], "uncached": [], "uncached_outside": []}
    for _ in range(cached):
        t = time.perf_counter()
        status, _ = client.exchange("/v1/search", {"question": "missing children"})
        out["cached"].append((time.perf_counter() - t) * 1000)
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
    for q in questions:
        t = time.perf_counter()
        status, body = client.exchange("/v1/search", {"question": q})
        ms = (time.perf_counter() - t) * 1000
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        out["uncached"].append(ms)
        out["uncached_outside"].append(ms - sum(json.loads(body)["timings_ms"].values()))
    return out


def main() -> None:
    ap = h.arguments(__doc__)
    ap.add_argument("--base", metavar="REV", help="side A runs this revision (default: this tree)")
    ap.add_argument("--env-a", nargs="*", default=[], metavar="KEY=VALUE")
    ap.add_argument("--env-b", nargs="*", default=[], metavar="KEY=VALUE")
    ap.add_argument("--blocks", type=int, default=12)
    ap.add_argument("--name", default="latest")
    args = ap.parse_args()
    blocks = 2 if args.smoke else max(2, args.blocks)
    per_block, cached = (5, 5) if args.smoke else (60, 50)
    out = h.out_dir(args)
    questions = h.load_questions()
    env = h.qa_env(QA_INDEX_DIR=str(h.require_index()))
    env_a, env_b = _env(args.env_a), _env(args.env_b)
    with tempfile.TemporaryDirectory(prefix="qa-ab-") as tmpdir:
        tmp = Path(tmpdir)
        code_a = h.ROOT
        if args.base:
            code_a = tmp / "base"
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(h.ROOT),
                    "worktree",
                    "add",
                    "--detach",
                    "-q",
                    str(code_a),
                    args.base,
                ],
                check=True,
            )
        sides = {"A": (code_a, {**env, **env_a}), "B": (h.ROOT, {**env, **env_b})}
        servers: dict[str, h.Server] = {}
        samples: dict[str, dict[str, list[float]]] = {}
        try:
            for name, (code, side_env) in sides.items():
                servers[name] = h.Server(tmp / f"serve-{name}.log", side_env, code=code)
                samples[name] = {"cached": [], "uncached": [], "uncached_outside": []}
            load = [h.loadavg()]
            clients = {name: h.JsonClient(s.url, timeout=30.0) for name, s in servers.items()}
            for block in range(blocks):
                order = ["A", "B"] if block % 2 == 0 else ["B", "A"]
                qs = [
                    f"{q} [{block}]"
                    for q in (questions * 2)[block * per_block % len(questions) :][:per_block]
                ]
                for name in order:
                    for key, values in _block(clients[name], qs, cached).items():
                        samples[name][key].extend(values)
                h.log(f"block {block + 1}/{blocks}")
            load.append(h.loadavg())
        finally:
            for s in servers.values():
                s.stop()
            if args.base:
                subprocess.run(
                    ["git", "-C", str(h.ROOT), "worktree", "remove", "--force", str(code_a)],
                    check=False,
                )
    res: dict[str, Any] = {
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "smoke": args.smoke,
        "blocks": blocks,
        "load_avg_1m": load,
        "sides": {
            "A": {"code": args.base or "this tree", "env": env_a},
            "B": {"code": "this tree", "env": env_b},
        },
        "p50_ms": {
            name: {k: round(statistics.median(v), 3) for k, v in s.items()}
            for name, s in samples.items()
        },
        "n": {name: {k: len(v) for k, v in s.items()} for name, s in samples.items()},
    }
    lines = [
        f"# HTTP overhead A/B: {args.name} ({res['generated']}{', smoke' if args.smoke else ''})",
        "",
        f"{blocks} alternating blocks on one index, one keep-alive client per side; "
        f"1-minute load average {load[0]} at start, {load[1]} at end. p50 in ms.",
        "",
        "| side | code | environment | cached search | uncached search | uncached, outside "
        "the stages |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("A", "B"):
        side, p = res["sides"][name], res["p50_ms"][name]
        env_text = " ".join(f"{k}={v}" for k, v in side["env"].items()) or "defaults"
        lines.append(
            f"| {name} | {side['code']} | {env_text} | {p['cached']} | {p['uncached']} "
            f"| {p['uncached_outside']} |"
        )
    h.write_results(out, f"http-overhead-{args.name}", res, lines)


if __name__ == "__main__":
    main()
