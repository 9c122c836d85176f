"""Shared by the throw-away servers the tests start: running a tool with its output, and free loopback ports."""

from __future__ import annotations

import contextlib
import socket
import subprocess
from collections.abc import Sequence
from typing import Any


def run_tool(cmd: Sequence[str], error: type[Exception], timeout: float = 120, **kwargs: Any) -> str:
    """Run ``cmd``; return its output, or raise ``error`` with the output's tail on failure."""
    try:
        proc = subprocess.run(
            list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=timeout, **kwargs,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"{' '.join(cmd)} failed: {exc}") from exc
    if proc.returncode != 0:
        raise error(f"{' '.join(cmd)} exited with {proc.returncode}:\n{proc.stdout[-4000:]}")
    return proc.stdout


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 just now."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports
