"""What every subcommand gets (App: settings, the ledger built on first use) and gives back (Outcome)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from ledger.bootstrap import bootstrap
from ledger.cli.progress import ProgressBar
from ledger.service import Ledger
from ledger.settings import Settings


@dataclass
class Outcome:
    """What a subcommand produced: a JSON-ready document, its human text, and the exit code."""

    data: Any
    text: str
    code: int = 0


class App:
    """Per-invocation context: settings built once, the ledger built on first use."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        self.settings = settings
        self.args = args
        self._ledger: Ledger | None = None

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = bootstrap(self.settings, progress=ProgressBar())
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
