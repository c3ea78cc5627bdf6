"""ASGI middleware bounding what one request may cost: body size and time.

``BodySizeLimit`` reads the request body itself, counting bytes as they stream in, and answers
413 as soon as the limit is passed (or at once when Content-Length says so): the rest of the
body is never read. The body it accepted is replayed to the app unchanged.

The time limit (504) is kept where the slow work is handed to a thread: ``AppState.run``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_BODY_METHODS = {"POST", "PUT", "PATCH"}


async def send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    """Send a complete JSON response."""
    data = json.dumps(body).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode("ascii")),
    ]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data, "more_body": False})


def _too_large(limit: int) -> dict[str, Any]:
    return {"detail": f"request body is larger than the limit of {limit} bytes"}


class BodySizeLimit:
    """Reject request bodies over ``max_bytes`` with 413 before reading all of them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_json(send, 400, {"detail": "invalid Content-Length header"})
                    return
                if declared > self.max_bytes:
                    await send_json(send, 413, _too_large(self.max_bytes))
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before sending its body
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:  # a chunked or lying body: stop reading here
                await send_json(send, 413, _too_large(self.max_bytes))
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()  # afterwards only http.disconnect can come

        await self.app(scope, replay, send)
