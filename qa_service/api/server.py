"""Run the app under uvicorn, with slow clients cut off and a clean exit on SIGTERM/SIGINT.

uvicorn 0.54 has a keep-alive timeout (an idle connection between requests) but no limit on
how long a request may take to arrive: a client that sends half a request head and waits is
held open for ever, so a few hundred of them exhaust the server's connections or descriptors
(slowloris). Its own options do not cover it: ``timeout_keep_alive`` runs only between
requests and stops at the first byte, ``h11_max_incomplete_event_size`` bounds a head's size
and only under h11, and ``limit_concurrency`` answers 503 once connections exceed it, counting
the slow ones, so under attack it would turn honest clients away. Other servers were weighed:
gunicorn's uvicorn workers leave the connections to uvicorn (its ``--timeout`` is a worker
heartbeat), and swapping in hypercorn or granian would replace the HTTP stack every benchmark
here measured. A reverse proxy (nginx's ``client_header_timeout``) does the same job in front,
but ``qa serve`` should be safe on its own. So the protocol uvicorn already uses (httptools,
h11 without it) is subclassed with a small guard instead:

* a connection must deliver a whole request, head and body, within ``request_read_timeout_s``
  of opening or of its previous response (keep-alive). Otherwise it is closed, with a 408 if
  it had sent part of a request and no response is under way;
* at most ``max_pending_connections`` connections wait for a request at once; one more and the
  one that has waited longest is closed (an honest client sends its request at once, so it is
  the slow ones that go, and a flood of them cannot lock out new clients);
* a request head over ``max_header_bytes`` gets 431 (httptools sets no limit of its own).

The guard touches the protocol only at uvicorn's own hooks (connection made and lost, data
received, response complete) and reads the request cycle's public flags, which both uvicorn
protocols keep; uvicorn is pinned in pyproject.toml and tests/reliability/test_slow_clients.py
checks both protocols. A connection's timer is armed once and re-armed only when it fires
early (the connection has started waiting again since): setting and cancelling a
``loop.call_later`` for every request cost ~4 µs under uvloop, this costs a clock read.

``Server`` also makes a graceful shutdown exit 0: uvicorn re-raises the SIGTERM or SIGINT it
handled once it has finished, so the process died of the signal (143, or 130 via
KeyboardInterrupt) and process managers read a clean stop as a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from ..settings import Settings

log = logging.getLogger(__name__)


def _closing_response(status: str, text: str) -> bytes:
    body = text.encode() + b"\n"
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


_REQUEST_TIMEOUT = _closing_response("408 Request Timeout", "the request did not arrive in time")
_HEAD_TOO_LARGE = _closing_response(
    "431 Request Header Fields Too Large", "the request head is too large"
)
_REPORT_EVERY_S = 60.0  # at most one log line per minute about closed slow connections


@dataclass
class ConnectionGuard:
    """Limits shared by every connection of one server, and what they did."""

    read_timeout_s: float
    max_pending: int
    max_head_bytes: int
    # Connections waiting for a complete request, longest-waiting first (dict order).
    pending: dict[Any, None] = field(default_factory=dict)
    timed_out: int = 0
    evicted: int = 0
    too_large: int = 0
    _reported: float = float("-inf")
    _unreported: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionGuard:
        """The guard the settings ask for."""
        return cls(
            settings.request_read_timeout_s,
            settings.max_pending_connections,
            settings.max_header_bytes,
        )

    def closed(self, why: str) -> None:
        """Count a connection closed for ``why`` and log now and then."""
        setattr(self, why, getattr(self, why) + 1)
        self._unreported += 1
        now = time.monotonic()
        if now - self._reported >= _REPORT_EVERY_S:
            log.warning(
                "closed %d connection(s) that sent no complete request in time (so far:"
                " %d timed out after %g s, %d over the %d waiting, %d heads too large)",
                self._unreported,
                self.timed_out,
                self.read_timeout_s,
                self.evicted,
                self.max_pending,
                self.too_large,
            )
            self._reported, self._unreported = now, 0


class _Guarded:
    """Mixin over a uvicorn HTTP protocol (see the module docstring)."""

    guard: ConnectionGuard  # set on each generated subclass
    # From the uvicorn protocol this is mixed into:
    transport: asyncio.Transport
    cycle: Any
    loop: asyncio.AbstractEventLoop

    def connection_made(self, transport: asyncio.Transport) -> None:
        """Start waiting for the first request."""
        super().connection_made(transport)  # type: ignore[misc]
        self._waiting_since: float | None = None  # loop time; None: a request is in
        self._timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._await_request()

    def data_received(self, data: bytes) -> None:
        """Hand the bytes to uvicorn; stop the clock once a whole request is in."""
        waiting = self._waiting_since is not None
        if waiting and not self._head_complete():
            self._head_bytes += len(data)
        super().data_received(data)  # type: ignore[misc]
        if not waiting or self.transport.is_closing():
            return
        if self._request_complete():
            self._stop_waiting()
        elif not self._head_complete() and self._head_bytes > self.guard.max_head_bytes:
            self._close("too_large", _HEAD_TOO_LARGE)

    def on_response_complete(self) -> None:
        """After a response, the connection waits for its next request (keep-alive)."""
        super().on_response_complete()  # type: ignore[misc]
        self._stop_waiting()  # the app may answer before reading all of a request
        if not self.transport.is_closing() and not self._request_complete():
            self._await_request()  # (a pipelined request may be in already)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection."""
        self._stop_waiting()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)  # type: ignore[misc]

    def _head_complete(self) -> bool:
        cycle = self.cycle
        return cycle is not None and not cycle.response_complete

    def _request_complete(self) -> bool:
        cycle = self.cycle
        return cycle is not None and not cycle.response_complete and not cycle.more_body

    def _await_request(self) -> None:
        guard = self.guard
        while len(guard.pending) >= guard.max_pending:
            oldest = next(iter(guard.pending))
            oldest._close("evicted", _REQUEST_TIMEOUT)
        self._head_bytes = 0
        self._waiting_since = self.loop.time()
        guard.pending[self] = None
        if self._timer is None:
            self._timer = self.loop.call_later(guard.read_timeout_s, self._check_deadline)

    def _stop_waiting(self) -> None:
        if self._waiting_since is not None:
            self._waiting_since = None
            self.guard.pending.pop(self, None)

    def _check_deadline(self) -> None:
        self._timer = None
        if self._waiting_since is None or self.transport.is_closing():
            return  # a request came in; the next wait arms a new timer
        left = self._waiting_since + self.guard.read_timeout_s - self.loop.time()
        if left > 0:  # waiting again since the timer was armed
            self._timer = self.loop.call_later(left, self._check_deadline)
        else:
            self._close("timed_out", _REQUEST_TIMEOUT)

    def _close(self, why: str, response: bytes) -> None:
        """Close the connection; answer first if the client sent part of a request and no
        response is under way (otherwise the app sees a disconnect)."""
        self._stop_waiting()
        if self.transport.is_closing():
            return  # closing already (e.g. uvicorn's keep-alive timeout): gone in a moment
        self.guard.closed(why)
        if self._head_bytes and not self._head_complete():
            self.transport.write(response)
        self.transport.close()


def guarded_protocol(guard: ConnectionGuard, base: type[asyncio.Protocol] | None = None) -> type:
    """uvicorn's HTTP protocol class (``base``, default what uvicorn would pick) with ``guard``."""
    base = base or AutoHTTPProtocol
    return type(f"Guarded{base.__name__}", (_Guarded, base), {"guard": guard})


class Server(uvicorn.Server):
    """uvicorn's server, exiting 0 after a graceful SIGTERM or SIGINT shutdown."""

    drained = False  # every request in flight at shutdown finished within the timeout

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's handlers, without re-raising the handled signal once stopped (the exit
        status says how the stop went)."""
        with super().capture_signals():
            yield
            self._captured_signals.clear()

    async def _wait_tasks_to_complete(self) -> None:
        await super()._wait_tasks_to_complete()  # cancelled if the shutdown timeout passes
        self.drained = not self.force_exit

    @property
    def clean_exit(self) -> bool:
        """Whether the server stopped without cutting off a request in flight."""
        return self.drained and not self.force_exit


def config(app: Any, settings: Settings, host: str, port: int, **overrides: Any) -> uvicorn.Config:
    """The uvicorn configuration ``qa serve`` runs with."""
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": settings.access_log,
        "timeout_graceful_shutdown": settings.shutdown_timeout_s,
        "http": guarded_protocol(ConnectionGuard.from_settings(settings)),
        "ws": "none",  # no WebSocket routes; an upgrade would also escape the guard
        "h11_max_incomplete_event_size": settings.max_header_bytes,  # if httptools is missing
        "lifespan": "on",
        **overrides,
    }
    return uvicorn.Config(app, **options)


def serve(app: Any, settings: Settings, host: str, port: int) -> int:
    """Serve until SIGTERM or SIGINT; the exit status: 0 after a graceful shutdown, 1 if a
    request in flight had to be cut off (shutdown timeout or a second signal)."""
    server = Server(config(app, settings, host, port))
    server.run()
    if not server.started:
        return 3  # uvicorn's status for a failed startup (it has logged why)
    return 0 if server.clean_exit else 1
