"""The end-to-end tests' fixtures: `cli` runs the installed `ledger` command in a subprocess on its own SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.processes import check_subprocesses_import_this_ledger

Run = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def cli(tmp_path: Path) -> Run:
    """Run `python -m ledger ARGS...` (the installed package, from tmp_path) against a fresh SQLite store in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {
        "LEDGER_SQLITE_PATH": str(tmp_path / "ledger.sqlite"),
        "TMPDIR": str(tmp_path),  # where `ledger demo` puts its throw-away store
    }
    check_subprocesses_import_this_ledger(env)

    def run(*args: str, stdin: str | None = None, at: str | None = None) -> subprocess.CompletedProcess:
        """One command; `at` sets the ledger's clock for it (LEDGER_FIXED_NOW), else the system clock runs."""
        return subprocess.run([sys.executable, "-m", "ledger", *args], input=stdin, capture_output=True, text=True,
                              env=env | ({"LEDGER_FIXED_NOW": at} if at else {}), cwd=tmp_path, timeout=180)

    return run
