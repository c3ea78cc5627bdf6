"""``qa serve`` stops gracefully on SIGTERM or SIGINT: a request in flight is answered, then
the process exits 0 (not 143 or 130); one that cannot finish in time makes it exit 1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.reliability.test_slow_clients import QA, free_port, read_until_closed, wait_ready

BODY = json.dumps({"question": "children detained overnight in custody", "top_k": 3}).encode()
HEAD = (
    f"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    f"Content-Length: {len(BODY)}\r\n\r\n"
).encode()


@contextmanager
def qa_serve(index: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    full_env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **env)
    proc = subprocess.Popen(
        [str(QA), "serve", "--port", str(port), "--index", str(index)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=full_env,
    )
    try:
        wait_ready(port, proc)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


def start_request(port: int) -> socket.socket:
    """A search whose body is half sent: in flight until the rest comes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(HEAD + BODY[:10])
    time.sleep(0.3)  # the app has the request and is reading its body
    return s


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_graceful_stop_finishes_the_request_in_flight_and_exits_0(
    small_index: Path, sig: signal.Signals
) -> None:
    with qa_serve(small_index) as (proc, port):
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        in_flight = start_request(port)
        proc.send_signal(sig)
        idle_data, _ = read_until_closed(idle, 5)  # connections without a request just close
        assert idle_data == b""
        time.sleep(0.5)
        assert proc.poll() is None, "it stopped before the request in flight was answered"
        in_flight.sendall(BODY[10:])
        data, _ = read_until_closed(in_flight, 10)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), data[:300]
        assert json.loads(body)["results"], body[:300]
        status = proc.wait(20)
        assert proc.stdout is not None
        log = proc.stdout.read().decode(errors="replace")
    assert status == 0, log
    assert "Traceback" not in log and "Aborted" not in log, log


def test_a_request_cut_off_at_the_shutdown_timeout_makes_the_exit_status_1(
    small_index: Path,
) -> None:
    with qa_serve(small_index, QA_SHUTDOWN_TIMEOUT_S="1") as (proc, port):
        stuck = start_request(port)  # the rest of its body never comes
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(20)
        stuck.close()
    assert status == 1
    assert time.monotonic() - t0 < 5
