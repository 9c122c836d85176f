"""The HTTP endpoints a supervisor probes: /livez (the loop turns), /readyz (the process does its work), /metrics
(Prometheus text). One daemon thread; a port of 0 picks a free one (tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Probe = Callable[[], tuple[bool, str]]
"""(healthy, reason) for a probe's answer."""


class HealthServer:
    def __init__(self, host: str, port: int, live: Probe, ready: Probe, registry: CollectorRegistry) -> None:
        routes: dict[str, Callable[[], tuple[int, bytes, str]]] = {
            "/livez": lambda: _probe(live), "/healthz": lambda: _probe(live), "/readyz": lambda: _probe(ready),
            "/metrics": lambda: (200, generate_latest(registry), CONTENT_TYPE_LATEST),
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                route = routes.get(self.path.split("?")[0])
                status, body, kind = route() if route else (404, b"not found\n", "text/plain")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - probes every few seconds: no log
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="ledger-health", daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _probe(probe: Probe) -> tuple[int, bytes, str]:
    ok, reason = probe()
    return (200 if ok else 503), (reason + "\n").encode(), "text/plain; charset=utf-8"
