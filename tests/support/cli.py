"""Running the `ledger` command line in-process on a test's store: `--json` output parsed, the exit code kept."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from ledger.cli.app import main
from ledger.settings import Settings
from tests.support.onboarding import MASTER_KEY
from tests.support.pipeline import process_env

Cli = Callable[..., tuple[int, Any]]


def in_process_cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """`run(*args)` runs `ledger --json ARGS` with the settings' LEDGER_* environment (the test master key): (exit
    code, the JSON document printed, or None). The text on stdout and stderr is kept as `run.last`."""
    for name in [k for k in os.environ if k.startswith("LEDGER_")]:
        monkeypatch.delenv(name)
    for name, value in process_env(settings).items():
        if name.startswith("LEDGER_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("LEDGER_MASTER_KEY", MASTER_KEY)  # the settings print it masked

    def run(*args: str, as_json: bool = True) -> tuple[int, Any]:
        code = main(["--json"] * as_json + ["--log-level", "ERROR", *args])
        captured = capsys.readouterr()
        run.last = captured.out + captured.err  # type: ignore[attr-defined]
        return code, json.loads(captured.out) if as_json and captured.out.strip() else None

    return run
