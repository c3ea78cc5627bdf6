"""Slow clients are cut off (qa_service/api/server.py) while everyone else is served.

The guard itself is checked on a tiny ASGI app with both uvicorn protocols (httptools, h11)
and short timeouts; then 100 half-sent requests against a real ``qa serve`` with its default
settings are all closed within the read timeout while a concurrent client gets only 200s.
"""

from __future__ import annotations

import http.client
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from qa_service.api.server import ConnectionGuard, Server, config, guarded_protocol
from qa_service.settings import Settings

QA = Path(sys.executable).with_name("qa")
HALF_HEAD = b"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
SLOW = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body, answers 200 with its length."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass
class Running:
    port: int
    guard: ConnectionGuard


@pytest.fixture(params=[HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
def protocol(request: pytest.FixtureRequest) -> type:
    return request.param  # type: ignore[no-any-return]


def _serve_in_thread(settings: Settings, protocol: type) -> Iterator[Running]:
    guard = ConnectionGuard.from_settings(settings)
    port = free_port()
    cfg = config(
        echo_app,
        settings,
        "127.0.0.1",
        port,
        http=guarded_protocol(guard, protocol),
        log_level="error",
    )
    server = Server(cfg)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield Running(port, guard)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def small_server(protocol: type) -> Iterator[Running]:
    """The echo app behind the guard: 1 s to send a request, at most 5 waiting."""
    settings = Settings(
        request_read_timeout_s=1.0, max_pending_connections=5, max_header_bytes=4096
    )
    yield from _serve_in_thread(settings, protocol)


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s


def read_until_closed(s: socket.socket, limit_s: float = 10.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and when it closed (monotonic)."""
    s.settimeout(limit_s)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data, time.monotonic()
        data += chunk


def get(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/", body=b"hello")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_a_half_sent_head_gets_408_at_the_timeout(small_server: Running) -> None:
    s = connect(small_server.port)
    t0 = time.monotonic()
    s.sendall(HALF_HEAD)
    data, closed = read_until_closed(s)
    assert data.startswith(b"HTTP/1.1 408 "), data
    assert 0.9 <= closed - t0 <= 1.6
    assert get(small_server.port) == 200
    assert small_server.guard.timed_out == 1


def test_a_silent_connection_is_closed_without_a_response(small_server: Running) -> None:
    s = connect(small_server.port)
    t0 = time.monotonic()
    data, closed = read_until_closed(s)
    assert data == b"" and 0.9 <= closed - t0 <= 1.6


def test_a_body_that_stops_arriving_is_cut_off(small_server: Running) -> None:
    s = connect(small_server.port)
    t0 = time.monotonic()
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 10)
    data, closed = read_until_closed(s)
    assert data == b"", data  # the app had the request: it sees a disconnect, no 408 is forged
    assert 0.9 <= closed - t0 <= 1.6


def test_a_request_sent_in_pieces_within_the_timeout_is_served_and_each_request_gets_its_own_time(
    small_server: Running,
) -> None:
    s = connect(small_server.port)
    s.settimeout(5)
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    for _ in range(2):  # the second on the same (keep-alive) connection
        for piece in (request[:10], request[10:30], request[30:]):
            s.sendall(piece)
            time.sleep(0.25)  # 0.75 s in all: inside 1 s, but not twice over
        assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
    s.close()
    assert small_server.guard.timed_out == 0


def test_over_the_cap_the_longest_waiting_connection_goes(small_server: Running) -> None:
    waiting = [connect(small_server.port) for _ in range(5)]
    for s in waiting:
        s.sendall(HALF_HEAD)
    time.sleep(0.1)
    newcomers = [connect(small_server.port) for _ in range(3)]
    for s in waiting[:3]:  # evicted at once, oldest first, with a 408
        data, _ = read_until_closed(s, 0.5)
        assert data.startswith(b"HTTP/1.1 408 ")
    assert get(small_server.port) == 200  # a normal client still gets in (and evicts one)
    assert small_server.guard.evicted in (4, 5)  # the client, waiting again after its response
    for s in waiting + newcomers:
        s.close()


def test_a_head_over_the_limit_gets_431(small_server: Running) -> None:
    s = connect(small_server.port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000)
    data, _ = read_until_closed(s, 2)
    if data.startswith(b"HTTP/1.1 400 "):  # h11 enforces the same limit itself
        assert small_server.guard.too_large == 0
    else:
        assert data.startswith(b"HTTP/1.1 431 "), data


def test_a_big_but_allowed_head_is_served(small_server: Running) -> None:
    s = connect(small_server.port)
    s.settimeout(5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 3000 + b"\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
    s.close()


# --- qa serve, default settings ---------------------------------------------------------


@pytest.fixture(scope="module")
def qa_serve(small_index: Path) -> Iterator[int]:
    """``qa serve`` on the small index with default settings; its port."""
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("QA_")}
    proc = subprocess.Popen(
        [str(QA), "serve", "--port", str(port), "--index", str(small_index)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_ready(port, proc)
        yield port
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


def wait_ready(port: int, proc: subprocess.Popen[bytes], limit_s: float = 90.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, "qa serve exited"
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail("qa serve did not become ready")


def test_100_half_sent_requests_are_closed_in_time_while_a_client_gets_200s(
    qa_serve: int,
) -> None:
    timeout = Settings().request_read_timeout_s
    assert timeout <= 10
    port = qa_serve
    slow: dict[socket.socket, float] = {}
    for _ in range(SLOW):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(HALF_HEAD)
        slow[s] = time.monotonic()

    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def client() -> None:
        # Fresh and kept-alive connections, cheap and real routes, until the slow ones are gone.
        search = json.dumps({"question": "children detained overnight in custody", "top_k": 3})
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n = 0
        while not stop.is_set() and n < 5000:
            n += 1
            if n % 3 == 0:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            if n % 2:
                conn.request("GET", "/healthz")
            else:
                conn.request(
                    "POST", "/v1/search", body=search, headers={"Content-Type": "application/json"}
                )
            response = conn.getresponse()
            response.read()
            statuses[response.status] += 1
            time.sleep(0.01)
        conn.close()

    worker = threading.Thread(target=client)
    worker.start()
    closed_after: list[float] = []
    answers: Counter[bytes] = Counter()
    selector = selectors.DefaultSelector()
    buffers: dict[socket.socket, bytes] = {}
    for s in slow:
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
        buffers[s] = b""
    deadline = time.monotonic() + timeout + 10
    try:
        while len(closed_after) < SLOW and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.5):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                chunk = s.recv(65536)
                if chunk:
                    buffers[s] += chunk
                    continue
                closed_after.append(time.monotonic() - slow[s])
                answers[buffers[s][:12]] += 1
                selector.unregister(s)
                s.close()
    finally:
        stop.set()
        worker.join(30)
        for s in list(buffers):
            s.close()

    print(
        f"\n{len(closed_after)} of {SLOW} slow connections closed after"
        f" {min(closed_after, default=0):.2f}-{max(closed_after, default=0):.2f} s"
        f" (timeout {timeout:g} s); concurrent client: {dict(statuses)}"
    )
    assert len(closed_after) == SLOW
    assert all(timeout - 0.1 <= t <= timeout + 1.5 for t in closed_after), closed_after
    assert answers == {b"HTTP/1.1 408": SLOW}
    assert set(statuses) == {200} and statuses[200] >= 100, statuses
