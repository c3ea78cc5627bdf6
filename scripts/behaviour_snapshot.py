"""Record what the service answers to every eval question, to check that a change is behaviour-free.

Starts ``qa serve`` on a loopback port over the built index and asks, for every question in the
eval file: ``POST /v1/search`` (top 10), ``POST /v1/chat``, ``POST /v1/compare``, and
``POST /v1/cite`` for each of its evidence quotes; plus ``GET /v1/documents``. Each response is
written as one JSON line with sorted keys, without the per-stage timings and the index's
generation name, so two snapshots of the same behaviour are byte-identical, even across builds.

Use it around a refactoring (a change meant to alter no result):
  .venv/bin/python scripts/behaviour_snapshot.py --out /tmp/before.jsonl     # on the old commit
  .venv/bin/python scripts/behaviour_snapshot.py --compare /tmp/before.jsonl  # on the new one
``--compare`` exits 1 and prints the first differing responses when anything changed.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
# Differ between runs or builds with the same behaviour: wall-clock figures, generation names.
VOLATILE = {"timings_ms", "index_version"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stable(value: Any) -> Any:
    """The response without its volatile fields."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def requests_for(
    questions: list[dict[str, Any]],
) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
    """(method, path, body) for every request the snapshot makes, in a fixed order."""
    yield "GET", "/v1/documents", None
    for q in questions:
        text = q["question"]
        yield "POST", "/v1/search", {"question": text, "top_k": 10}
        yield "POST", "/v1/chat", {"messages": [{"role": "user", "content": text}]}
        yield "POST", "/v1/compare", {"question": text}
        for ev in q.get("evidence", []):
            yield "POST", "/v1/cite", {"quote": ev["text"]}


def snapshot(questions: list[dict[str, Any]], index: Path | None, out: Path) -> int:
    """Serve the index, record every response to ``out``; the number of requests made."""
    port = _free_port()
    cmd = [str(ROOT / ".venv" / "bin" / "qa"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if index is not None:
        cmd += ["--index", str(index)]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    n = 0
    try:
        with httpx.Client(base_url=base, timeout=60.0) as client:
            deadline = time.monotonic() + 120
            while True:
                if server.poll() is not None:
                    err = server.stderr.read().decode() if server.stderr else ""
                    sys.exit(f"qa serve exited: {err.strip()}")
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    sys.exit("qa serve did not become ready within 120 s")
                time.sleep(0.25)
            with out.open("w", encoding="utf-8") as f:
                for method, path, body in requests_for(questions):
                    resp = client.request(method, path, json=body)
                    record = {
                        "request": [method, path, body],
                        "status": resp.status_code,
                        "response": _stable(resp.json()),
                    }
                    f.write(json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n")
                    n += 1
    finally:
        server.terminate()
        server.wait(timeout=30)
    return n


def compare(before: Path, after: Path, show: int = 3) -> int:
    """Print the first differing responses; the number of differences."""
    old = before.read_text(encoding="utf-8").splitlines()
    new = after.read_text(encoding="utf-8").splitlines()
    diffs = [i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b]
    if len(old) != len(new):
        print(f"{len(old)} responses before, {len(new)} after")
    for i in diffs[:show]:
        print(f"--- response {i + 1}, before:\n{old[i][:2000]}\n+++ after:\n{new[i][:2000]}\n")
    return len(diffs) + abs(len(old) - len(new))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=Path, default=ROOT / "eval" / "questions.jsonl")
    ap.add_argument("--index", type=Path, default=None, help="index folder (default: the server's)")
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="write the snapshot here")
    group.add_argument("--compare", type=Path, help="take a snapshot and compare it with this one")
    args = ap.parse_args()
    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line]
    if args.out:
        n = snapshot(questions, args.index, args.out)
        print(f"{n} responses written to {args.out}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        now = Path(tmp) / "snapshot.jsonl"
        n = snapshot(questions, args.index, now)
        changed = compare(args.compare, now)
    print(f"{n} responses, {changed} differ from {args.compare}")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
