"""Stream test helpers: the README demo's story played on a ledger, and the event records it gives."""

from __future__ import annotations

import io
from typing import Any

from ledger.cli.demo import run_demo
from ledger.service import Ledger
from ledger.streaming.event_feed import EventFeed
from tests.support.ledger_factory import make_ledger, memory_settings
from tests.support.onboarding import MASTER_KEY


def play_story(ledger: Ledger) -> dict[str, Any]:
    """The README demo's story: charges, a cycle, under- and overpayment, a bounced check, a refund (the demo
    installs and walks its own clock)."""
    return run_demo(ledger, io.StringIO())


def story_records() -> list[dict[str, Any]]:
    """Every event record of the story, in order, as the relay would publish them (on the in-memory store)."""
    ledger = make_ledger(memory_settings(master_key=MASTER_KEY))
    try:
        play_story(ledger)
        return [item.record for item in EventFeed(ledger.store).page(0, 100_000)]
    finally:
        ledger.close()
