"""A server process on a loopback port that a benchmark owns, and the bare-socket HTTP/1.1
client the benchmarks measure it with."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.measure import QA, ROOT, qa_env

READY_TIMEOUT_S = 180.0


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server process on a free 127.0.0.1 port that this benchmark owns: ``qa serve`` by
    default, from this tree or from another checkout (``code``; this virtualenv either way),
    or ``command(port)``, with ``env`` over this process's environment (``clean``: without its
    QA_* settings). Ready when ``ready_path`` answers 200."""

    def __init__(
        self,
        log_path: Path,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        code: Path = ROOT,
        command: Callable[[int], list[str]] | None = None,
        ready_path: str = "/readyz",
        clean: bool = False,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("ab")
        if command is not None:
            argv = command(self.port)
        else:
            qa = (
                [str(QA)]
                if code == ROOT
                else [sys.executable, "-c", "from qa_service.cli import main; main()"]
            )
            argv = [*qa, "serve", "--host", "127.0.0.1", "--port", str(self.port), *args]
        extra = {} if code == ROOT else {"PYTHONPATH": str(code)}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            cwd=code,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**qa_env(clean), **(env or {}), **extra},
        )
        self.ready_s = self._wait_ready(t0, ready_path)

    def _wait_ready(self, t0: float, path: str) -> float:
        """Seconds from process start to the first 200 from ``path``."""
        while time.perf_counter() < t0 + READY_TIMEOUT_S:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            with contextlib.suppress(OSError, ProtocolError), JsonClient(self.url, 2.0) as c:
                if c.get(path) == 200:
                    return time.perf_counter() - t0
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server not ready within {READY_TIMEOUT_S} s")

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def threads(self) -> int:
        """The server process's thread count now."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 20 s; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode


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

    def get(self, path: str) -> int:
        """The status of a GET (raises as ``post``)."""
        return self.exchange(path, None)[0]

    def exchange(self, path: str, body: dict[str, Any] | None) -> tuple[int, bytes]:
        """The response status and body of a POST (a GET without ``body``)."""
        data = b"" if body is None else json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.address[0]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
            if body is not None
            else f"GET {path} HTTP/1.1\r\nHost: {self.address[0]}\r\n\r\n"
        )
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.address, timeout=self.timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.sendall(head.encode() + data)
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
        """Close the connection (the next request opens another)."""
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def __enter__(self) -> JsonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


CLIENT_ERRORS = (OSError, ProtocolError)
