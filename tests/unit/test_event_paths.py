"""The ledger's short paths for recording and replaying events give what the eventsourcing library's paths give."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Aggregate, OriginatorVersionError

from ledger.aggregates.bill_composition import compose
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import ON_CYCLE, CustomerBill
from ledger.aggregates.entries import TaxLine
from ledger.eventstore.store import mutate, project
from tests.support.accounts import new_account

D = Decimal
T0 = datetime(2026, 10, 1, 9, tzinfo=timezone.utc)
ACCOUNT_ID = UUID("12345678-1234-5678-1234-567812345678")


def _account() -> BillingAccount:
    return new_account(at=T0, id=ACCOUNT_ID, account_ref="A-1", time_zone="Europe/Paris")


def _bill_kwargs(account: BillingAccount) -> dict[str, Any]:
    entries = [account.unbilled[k] for k in account.entries]
    return dict(id=uuid4(), account_id=account.id, account_ref="A-1", bill_number="A-1-00001", run_type=ON_CYCLE,
                off_cycle_reason=None, cycle_id=uuid4(), currency_code="EUR", billing_period=(date(2026, 10, 1), date(2026, 10, 31)),
                bill_date=date(2026, 11, 1), mailing_date=None, payment_due_date=date(2026, 11, 15),
                totals=compose(entries, "EUR"))


def _charged() -> BillingAccount:
    account = _account()
    account.apply_charge(T0, charge_id="c1", charge_type="appliedBillingCharge", currency_code="EUR",
                         tax_excluded=D("10.5"), taxes=[TaxLine("VAT", D(20), D("2.1"))], tax_included=D("12.6"),
                         effective_at=T0, product_ref="P")
    return account


def _same(fast: Any, slow: Any) -> None:
    assert type(fast) is type(slow) and list(vars(fast)) == list(vars(slow)) and vars(fast) == vars(slow)


def test_recording_an_event_gives_the_librarys_event_and_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """_record makes the event trigger_event makes (same attributes, same order) and leaves the same state."""
    fast = _charged()
    monkeypatch.setattr(BillingAccount, "_record", lambda self, cls, now, **f: self.trigger_event(cls, timestamp=now, **f))
    slow = _charged()
    monkeypatch.undo()
    for mine, theirs in zip(fast.collect_events(), slow.collect_events()):
        _same(mine, theirs)
    _same(fast, slow)


def test_recording_with_wrong_fields_fails_as_the_library_does() -> None:
    with pytest.raises(TypeError):
        _account()._record(BillingAccount.StatusChanged, T0, status="x", reason="y")  # final_bill_id missing


def test_creating_an_aggregate_gives_the_librarys_event_and_state() -> None:
    """_create (a bill) makes the creation event and aggregate the library's _create makes."""
    kwargs = _bill_kwargs(_charged())
    fast = CustomerBill.issue(T0, **kwargs)
    original = CustomerBill._create
    CustomerBill._create = classmethod(Aggregate._create.__func__)  # type: ignore[method-assign, attr-defined]
    try:
        slow = CustomerBill.issue(T0, **kwargs)
    finally:
        CustomerBill._create = original  # type: ignore[method-assign]
    [mine], [theirs] = fast.collect_events(), slow.collect_events()
    _same(mine, theirs)
    _same(fast, slow)


def test_replaying_gives_the_librarys_state() -> None:
    """mutate (creation, then next versions) rebuilds what each event's own mutate rebuilds; out of sequence raises."""
    account = _charged()
    account.suspend(T0, "check")
    events = account.collect_events()
    slow = None
    for event in events:
        slow = event.mutate(slow)
    _same(project(None, events), slow)
    with pytest.raises(OriginatorVersionError):
        mutate(events[2], project(None, events[:1]))
