"""Shared by the throw-away servers and the ledger processes the tests start: running a tool with its output, free
loopback ports, and the check that a ledger subprocess runs the code under test."""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
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


_PACKAGES = ("ledger", "consumers", "schemas")  # what the ledger processes import


def check_subprocesses_import_this_ledger(env: Mapping[str, str]) -> None:
    """Fail clearly when a ledger subprocess with `env`, started outside the repository with no path added, would
    import another ledger than the one under test (a stale or foreign install) instead of testing the wrong code."""
    _check_imports(env.get("PYTHONPATH", ""))


@functools.cache
def _check_imports(pythonpath: str) -> None:
    expected = [os.path.realpath(importlib.import_module(name).__file__ or "") for name in _PACKAGES]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | ({"PYTHONPATH": pythonpath} if pythonpath else {})
    script = "; ".join(f"import {name}; print({name}.__file__)" for name in _PACKAGES)
    advice = "install this checkout (python -m pip install -e .) or run pytest with it on PYTHONPATH"
    with tempfile.TemporaryDirectory() as outside:
        try:
            output = run_tool([sys.executable, "-c", script], AssertionError, timeout=60, cwd=outside, env=env)
        except AssertionError as error:
            raise AssertionError(f"a ledger subprocess cannot import {', '.join(_PACKAGES)}: {advice}\n{error}") from None
    found = [os.path.realpath(line) for line in output.splitlines()]
    if found != expected:
        raise AssertionError(f"a ledger subprocess would import {found}, not the code under test {expected}: {advice}")
