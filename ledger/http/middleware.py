"""ASGI middleware: the request body size limit (413), and one access log line per request that names the caller
by key id or token subject, never a credential, header or body."""

from __future__ import annotations

import time
from typing import Any

import orjson
import structlog

from ledger.http.errors import REASONS

Scope = dict[str, Any]


def _tmf(status: int, code: str, message: str) -> bytes:
    return orjson.dumps({"code": code, "reason": REASONS.get(status, "Error"), "message": message, "status": str(status),
                         "@type": "Error"})


class BodyLimit:
    """Refuses a request whose body is larger than `limit` bytes (by Content-Length, or while it streams in),
    and a URL holding a NUL character (400: no database keeps one)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"") or b"%00" in scope.get("raw_path", b""):
            await _send(send, 400, _tmf(400, "invalid_input", "the URL must not contain NUL characters"))
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _refuse(send, self.limit)
            return
        seen = 0
        refused = False

        async def limited() -> Any:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _refuse(send, self.limit)


class _TooLarge(Exception):
    pass


async def _refuse(send: Any, limit: int) -> None:
    message = f"request bodies are limited to {limit} bytes (LEDGER_API_MAX_BODY_BYTES)"
    await _send(send, 413, _tmf(413, "body_too_large", message))


async def _send(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class AccessLog:
    """`request` log lines: method, path, status, milliseconds, the caller's subject and role (no query string:
    filters may name accounts of a customer; no headers)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.log = structlog.get_logger("ledger.http")

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            caller = scope.get("state", {}).get("caller")
            self.log.info("request", method=scope["method"], path=scope["path"], status=status,
                          ms=round((time.perf_counter() - start) * 1000, 2),
                          caller=getattr(caller, "subject", None), role=getattr(caller, "role", None))
