"""The notification-log follower feeding the publisher and projection ports."""

from __future__ import annotations

from datetime import datetime, timezone

from ledger.adapters.memory_publisher import InMemoryPublisher
from ledger.bootstrap import bootstrap
from ledger.commands import DefineCycleSpecification, OpenBillingAccount, PostCharge
from ledger.follower import project_from, publish_from
from ledger.settings import Settings


def _ledger(tmp_path):
    ledger = bootstrap(Settings(sqlite_path=tmp_path / "l.sqlite"), clock=lambda: datetime(2026, 10, 1, tzinfo=timezone.utc))
    ledger.execute(DefineCycleSpecification.parse({"name": "m"}))
    ledger.execute(OpenBillingAccount.parse({"account_id": "A", "customer_id": "C", "currency": "EUR", "cycle_specification": "m"}))
    return ledger


def _charge(ledger, n):
    ledger.execute(PostCharge.parse({"charge_id": f"c{n}", "account_id": "A", "currency": "EUR",
                                     "tax_excluded_amount": "1", "date": "2026-10-02T00:00:00Z"}))


def test_publishes_every_event_in_order(tmp_path):
    """Every stored event reaches the publisher once, in notification order."""
    ledger = _ledger(tmp_path)
    for n in range(3):
        _charge(ledger, n)
    publisher = InMemoryPublisher()
    position = publish_from(ledger.store, publisher, after=0)
    ids = [p for p, _ in publisher.published]
    assert ids == sorted(ids) and len(ids) == 5 and position == ids[-1]


def test_resumes_after_position_without_gaps_or_repeats(tmp_path):
    """Resuming from a saved position publishes only the newer events."""
    ledger = _ledger(tmp_path)
    publisher = InMemoryPublisher()
    position = publish_from(ledger.store, publisher, after=0)
    _charge(ledger, 9)
    position = publish_from(ledger.store, publisher, after=position)
    kinds = [type(e).__name__ for _, e in publisher.published]
    assert kinds == ["Defined", "Opened", "ChargeApplied"] and position == 3


def test_projection_sees_each_event_with_its_position(tmp_path):
    """A projection is handed each event with its notification id."""
    ledger = _ledger(tmp_path)
    seen = []

    class Recorder:
        def handle(self, position, event):
            seen.append((position, type(event).__name__))

    assert project_from(ledger.store, Recorder(), after=1) == 2
    assert seen == [(2, "Opened")]
