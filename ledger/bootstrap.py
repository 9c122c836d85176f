"""The composition root: builds the concrete store, clock and progress reporter and wires them into a Ledger."""

from __future__ import annotations

from ledger.ports import Clock, Progress, system_clock
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.store import LedgerStore


def bootstrap(settings: Settings | None = None, *, clock: Clock = system_clock, progress: Progress | None = None) -> Ledger:
    settings = settings or Settings()
    store = LedgerStore(env=settings.eventsourcing_env(), snapshot_interval=settings.snapshot_interval)
    return Ledger(store, settings, clock, progress)
