"""Real HTTP listeners on loopback for the hub's tests: each records what it received; it may be slow, or fail."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Behaviour = Callable[[int], tuple[int, float]]
"""The request's number -> (status to answer, seconds to wait before answering)."""


def ok(_: int) -> tuple[int, float]:
    return 200, 0.0


def slow(seconds: float) -> Behaviour:
    return lambda n: (200, seconds if n % 2 == 0 else 0.0)


def flaky(seed: int, rate: float = 0.4) -> Behaviour:
    rng = random.Random(seed)
    return lambda n: (500 if rng.random() < rate else 200, 0.0)


class Listener:
    """A listener on 127.0.0.1: `accepted` holds (headers, body) of each request it answered with 2xx."""

    def __init__(self, behaviour: Behaviour = ok) -> None:
        self.behaviour = behaviour
        self.accepted: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.requests = 0
        self.lock = threading.Lock()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with listener.lock:
                    listener.requests += 1
                    status, wait = listener.behaviour(listener.requests)
                time.sleep(wait)
                if 200 <= status < 300:
                    with listener.lock:
                        listener.accepted.append(({k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def event_ids(self) -> list[str]:
        """Each accepted event's id once, in the order first accepted."""
        seen: dict[str, None] = {}
        with self.lock:
            for _, body in self.accepted:
                seen.setdefault(body["eventId"], None)
        return list(seen)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signature_valid(secret: str, headers: dict[str, str], body: dict[str, Any]) -> bool:
    """The X-Ledger-Signature check a listener does (over the exact bytes; the notifier sends orjson's)."""
    import orjson

    parts = dict(p.split("=", 1) for p in headers["x-ledger-signature"].split(","))
    raw = orjson.dumps(body)
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])
