"""Slow clients against ``qa serve``, and what the guard costs a normal request.

1. The issue's attack: N connections (300) each send half a request head and wait, while one
   client keeps asking /healthz and /v1/search. With the default settings every slow
   connection is closed: those over ``QA_MAX_PENDING_CONNECTIONS`` (256) at once, the rest at
   ``QA_REQUEST_READ_TIMEOUT_S`` (10 s); the client must get only 200s.
2. Overhead: a tiny ASGI app served by uvicorn's httptools protocol with and without the guard
   (separate processes, same settings), one keep-alive client, alternating blocks of requests;
   the p50 round trip of each side.

Run: .venv/bin/python bench/slow_clients.py [--index DIR] [--slow 300] [--blocks 10] [--smoke]
  --smoke  CI check: 20 slow connections, 2 blocks of 200 requests.
Writes slow-clients.{json,md}. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import http.client
import json
import os
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import harness as h

HALF_HEAD = b"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
ECHO_SERVER = """
import sys
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from qa_service.api.server import ConnectionGuard, Server, config, guarded_protocol
from qa_service.settings import Settings

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})

settings = Settings()
guarded = sys.argv[2] == "guarded"
protocol = (guarded_protocol(ConnectionGuard.from_settings(settings), HttpToolsProtocol)
            if guarded else HttpToolsProtocol)
Server(config(app, settings, "127.0.0.1", int(sys.argv[1]), http=protocol,
              log_level="error", lifespan="off")).run()
"""


def attack(index: Path, slow: int, log: Path) -> dict[str, Any]:
    """``slow`` half-sent requests and one honest client against ``qa serve``."""
    server = h.Server(log, args=("--index", str(index)), clean=True)
    port = server.port
    try:
        opened: dict[socket.socket, float] = {}
        for _ in range(slow):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(HALF_HEAD)
            opened[s] = time.monotonic()
        statuses: Counter[int] = Counter()
        done = threading.Event()

        def client() -> None:
            body = json.dumps({"question": "children held overnight in custody", "top_k": 3})
            n = 0
            while not done.is_set() and n < 20_000:
                n += 1
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                if n % 2:
                    conn.request("GET", "/healthz")
                else:
                    conn.request(
                        "POST",
                        "/v1/search",
                        body=body,
                        headers={"Content-Type": "application/json"},
                    )
                response = conn.getresponse()
                response.read()
                statuses[response.status] += 1
                conn.close()
                time.sleep(0.01)

        worker = threading.Thread(target=client)
        worker.start()
        closed: list[float] = []
        answers: Counter[str] = Counter()
        selector = selectors.DefaultSelector()
        for s in opened:
            s.setblocking(False)
            selector.register(s, selectors.EVENT_READ, b"")
        deadline = time.monotonic() + 40
        while len(closed) < slow and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                chunk = s.recv(65536)
                if chunk:
                    selector.modify(s, selectors.EVENT_READ, key.data + chunk)
                    continue
                closed.append(time.monotonic() - opened[s])
                answers[key.data[:12].decode() or "(nothing)"] += 1
                selector.unregister(s)
                s.close()
        done.set()
        worker.join(30)
        for s in opened:
            s.close()
    finally:
        exit_status = server.stop()
    early = [t for t in closed if t < 5]
    late = [t for t in closed if t >= 5]
    return {
        "slow_connections": slow,
        "closed": len(closed),
        "closed_at_once": len(early),
        "closed_at_once_max_s": round(max(early, default=0.0), 3),
        "closed_at_timeout": len(late),
        "closed_at_timeout_s": [round(min(late, default=0), 3), round(max(late, default=0), 3)],
        "answers": dict(answers),
        "client_statuses": {str(k): v for k, v in statuses.items()},
        "exit_status_after_sigterm": exit_status,
    }


def _round_trips(port: int, n: int) -> list[float]:
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(n):
            t = time.perf_counter()
            s.sendall(request)
            data = b""
            while not data.endswith(b"ok"):
                chunk = s.recv(4096)
                if not chunk:
                    raise RuntimeError("closed")
                data += chunk
            out.append((time.perf_counter() - t) * 1e6)
    return out


def overhead(blocks: int, per_block: int) -> dict[str, Any]:
    """p50 round trip (µs) of the bare app with and without the guard, alternating blocks."""
    servers = {}
    for side in ("plain", "guarded"):
        echo = Path(tempfile.gettempdir()) / f"qa-slow-clients-{side}.log"
        servers[side] = h.Server(
            echo,
            command=lambda port, side=side: [sys.executable, "-c", ECHO_SERVER, str(port), side],
            ready_path="/",
        )
    p50: dict[str, list[float]] = {"plain": [], "guarded": []}
    try:
        for b in range(blocks):
            order = ("plain", "guarded") if b % 2 == 0 else ("guarded", "plain")
            for side in order:
                p50[side].append(statistics.median(_round_trips(servers[side].port, per_block)))
    finally:
        for server in servers.values():
            server.stop()
    plain, guarded = statistics.median(p50["plain"]), statistics.median(p50["guarded"])
    return {
        "blocks": blocks,
        "requests_per_block": per_block,
        "p50_us_plain": round(plain, 1),
        "p50_us_guarded": round(guarded, 1),
        "difference_us": round(guarded - plain, 1),
        "block_p50s_us": {k: [round(v, 1) for v in vs] for k, vs in p50.items()},
    }


def main() -> None:
    parser = h.arguments(__doc__)
    parser.add_argument("--index", type=Path, default=h.ROOT / "index")
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=10)
    args = parser.parse_args()
    out = h.out_dir(args)
    slow, blocks, per_block = (20, 2, 200) if args.smoke else (args.slow, args.blocks, 2000)
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg": os.getloadavg()[0],
        "attack": attack(args.index, slow, Path(tempfile.gettempdir()) / "qa-slow-clients.log"),
        "overhead": overhead(blocks, per_block),
    }
    a, o = result["attack"], result["overhead"]
    lines = [
        "# Slow clients (bench/slow_clients.py)",
        "",
        f"{result['when']}, load average {result['loadavg']:.2f}, default settings"
        " (QA_REQUEST_READ_TIMEOUT_S=10, QA_MAX_PENDING_CONNECTIONS=256).",
        "",
        f"- {a['slow_connections']} connections sent half a request head and waited:"
        f" {a['closed']} closed, {a['closed_at_once']} at once (over the cap, within"
        f" {a['closed_at_once_max_s']} s) and {a['closed_at_timeout']} at"
        f" {a['closed_at_timeout_s'][0]}-{a['closed_at_timeout_s'][1]} s; answers"
        f" {a['answers']}.",
        f"- A concurrent client meanwhile: {a['client_statuses']} (status: count).",
        f"- `qa serve` exit status after SIGTERM: {a['exit_status_after_sigterm']}.",
        f"- Guard overhead, bare ASGI app, httptools, one keep-alive client, {o['blocks']}"
        f" alternating blocks of {o['requests_per_block']}: p50 round trip"
        f" {o['p50_us_plain']} µs without, {o['p50_us_guarded']} µs with"
        f" ({o['difference_us']:+} µs).",
        "",
    ]
    h.write_results(out, "slow-clients", result, lines)


if __name__ == "__main__":
    main()
