"""`ledger serve` (and other ledger processes) as real subprocesses of the installed package, from outside the
repository, with their logs kept for inspection."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import check_subprocesses_import_this_ledger, free_ports


def ledger_env(folder: Path, **settings: str) -> dict[str, str]:
    """The environment of a ledger subprocess: no inherited LEDGER_*, the given settings, an SQLite store in `folder`
    unless told otherwise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {"LEDGER_SQLITE_PATH": str(folder / "ledger.sqlite"),
            "LEDGER_READ_MODEL_SQLITE_PATH": str(folder / "read_models.sqlite"), **settings}
    check_subprocesses_import_this_ledger(env)
    return env


def ledger_cli(env: dict[str, str], folder: Path, *args: str) -> Any:
    """Run `ledger --json ARGS` and return its JSON output (fails on a non-zero exit)."""
    done = subprocess.run([sys.executable, "-m", "ledger", "--json", *args], capture_output=True, text=True, env=env,
                          cwd=folder, timeout=120)
    assert done.returncode == 0, f"ledger {' '.join(args)}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


@dataclass
class Served:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serving(env: dict[str, str], folder: Path, workers: int = 1) -> Iterator[Served]:
    """`ledger serve` on a free loopback port until the block ends (then SIGTERM); waits for /health."""
    port = free_ports(1)[0]
    log = folder / f"serve-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "ledger", "serve", "--host", "127.0.0.1", "--port", str(port),
                                    "--workers", str(workers)], env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", log, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"ledger serve exited with {process.returncode}:\n{served.logs()}")
            try:
                if httpx.get(f"{served.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"ledger serve did not answer within 60 s:\n{served.logs()}")
            time.sleep(0.1)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
