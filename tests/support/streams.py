"""Stream test helpers: a ledger on the in-memory event store with a story played on it, and its event records."""

from __future__ import annotations

import io
from typing import Any

from ledger.cli.demo import DemoClock, run_demo
from ledger.streaming.event_feed import EventFeed
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.eventstore.store import LedgerStore
from tests.support.ledger_factory import _silent_logger


def memory_ledger(clock: Any = None) -> Ledger:
    """A Ledger on eventsourcing's in-memory (POPO) recorder: no files, no server."""
    settings = Settings()
    env = {**settings.eventsourcing_env(), "PERSISTENCE_MODULE": "eventsourcing.popo"}
    ledger = Ledger(LedgerStore(env=env, snapshot_interval=settings.snapshot_interval), settings, clock or DemoClock())
    ledger.log = _silent_logger()
    return ledger


def play_story(ledger: Ledger) -> dict[str, Any]:
    """The README demo's story: charges, a cycle, under- and overpayment, a bounced check, a refund."""
    clock = ledger.clock if isinstance(ledger.clock, DemoClock) else DemoClock()
    return run_demo(ledger, io.StringIO(), clock=clock)


def story_records() -> list[dict[str, Any]]:
    """Every event record of the story, in order, as the relay would publish them."""
    ledger = memory_ledger()
    play_story(ledger)
    return [item.record for item in EventFeed(ledger.store).page(0, 100_000)]
