"""A text progress bar for long work (cycle runs, verify), drawn on stderr; implements `ledger.ports.Progress`."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Redraws one stderr line with `\\r` while work advances, when stderr is a terminal; silent otherwise.

    `start(total, label)` begins a task, `advance(n)` adds `n` finished units, `finish()` ends the line.
    Redraws are limited to about ten per second so advancing one unit at a time stays cheap.
    """

    WIDTH = 30
    INTERVAL = 0.1

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self._stream = stream
        self._enabled = enabled
        self.total = 0
        self.done = 0
        self.label = ""
        self._started = 0.0
        self._drawn = 0.0
        self._active = False

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def enabled(self) -> bool:
        if self._enabled is not None:
            return self._enabled
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def start(self, total: int, label: str) -> None:
        if self._active:
            self.finish()
        self.total = max(int(total), 0)
        self.done = 0
        self.label = label
        self._started = time.monotonic()
        self._drawn = 0.0
        self._active = True
        self._draw(force=True)

    def advance(self, done: int) -> None:
        if not self._active:
            return
        self.done += int(done)
        self._draw(force=self.done >= self.total)

    def finish(self) -> None:
        if not self._active:
            return
        self._draw(force=True)
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
        self._active = False

    def render(self) -> str:
        """The bar's current text (without the carriage return)."""
        elapsed = max(time.monotonic() - self._started, 1e-9)
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            filled = int(fraction * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            return f"{self.label} [{bar}] {fraction:4.0%} {self.done}/{self.total} {self.done / elapsed:,.0f}/s"
        return f"{self.label}: {self.done} done ({elapsed:.1f}s)"

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn < self.INTERVAL:
            return
        self._drawn = now
        self.stream.write("\r\x1b[2K" + self.render())
        self.stream.flush()
