"""The composition root: builds the concrete store, clock and progress reporter and wires them into a Ledger."""

from __future__ import annotations

import contextlib
import gc

from ledger.adapters.postgres_setup_lock import setting_up
from ledger.ports import Clock, Progress, system_clock
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.store import LedgerStore


def bootstrap(settings: Settings | None = None, *, clock: Clock = system_clock, progress: Progress | None = None) -> Ledger:
    settings = settings or Settings()
    on_postgres = settings.store == "postgres" and settings.postgres_url
    # processes starting together would race creating the tables
    with setting_up(settings.postgres_url) if on_postgres else contextlib.nullcontext():  # type: ignore[arg-type]
        store = LedgerStore(env=settings.eventsourcing_env(), snapshot_interval=settings.snapshot_interval)
    return Ledger(store, settings, clock, progress)


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Collect the young generation every 50,000 allocations instead of 700: a command batch allocates many
    short-lived objects and the cached aggregates make every collection slow. For process entry points only
    (the CLI, the bench), never at import time."""
    gc.set_threshold(*GC_THRESHOLDS)
