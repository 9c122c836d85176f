"""Application-level scenarios run on SQLite and on a real PostgreSQL: same commands, same results."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.aggregates.customer_bill import PARTIALLY_PAID, SENT, SETTLED
from ledger.errors import IdempotencyConflict
from ledger.service import Ledger
from ledger.settings import Settings
from tests.support.ledger_factory import (
    FakeClock,
    account_of,
    bill_by_number,
    charge_cmd,
    charged_accounts,
    cycle_of,
    define_spec,
    fresh,
    fresh_account,
    make_ledger,
    max_notification_id,
    open_account,
    pay,
    payment_cmd,
    payment_of,
    post_charge,
    refund,
    replay_store,
    reverse,
    run_cycle,
    run_dying_after_first_batch,
    tax,
)

D = Decimal
OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
SettingsFactory = Callable[..., Settings]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 10, 1, 8, tzinfo=UTC))


@pytest.fixture
def ledger(make_settings: SettingsFactory, clock: FakeClock) -> Iterator[Ledger]:
    """A Ledger on SQLite or PostgreSQL with the monthly cycle specification defined."""
    ledger = make_ledger(make_settings(), clock)
    define_spec(ledger, payment_due_date_offset=14)
    yield ledger
    ledger.close()


def _bill(ledger: Ledger, ref: str, number: int) -> Any:
    return bill_by_number(ledger, ref, f"{ref}-{number:05d}")


def test_full_lifecycle(ledger: Ledger, clock: FakeClock) -> None:
    """Open, charge, bill, underpay, overpay, credit carried to the next bill, reversal reopens, refund."""
    open_account(ledger, "ACC-1", "EUR", time_zone="Europe/Paris")
    clock.set(datetime(2026, 10, 5, 10, tzinfo=UTC))
    for i in range(3):
        post_charge(ledger, "ACC-1", f"oct-{i}", "10.004", "EUR", "2026-10-05T10:00:00Z", taxes=[tax("VAT", "20", "2.0008")])

    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    run_cycle(ledger, OCT, by="alice")
    october = _bill(ledger, "ACC-1", 1)
    assert (october.amount_due, october.rounding_difference, october.state) == (D("36.01"), D("-0.0044"), SENT)

    clock.set(datetime(2026, 11, 5, tzinfo=UTC))
    pay(ledger, "ACC-1", "P1", "20.00", "EUR", "2026-11-05T00:00:00Z")
    assert _bill(ledger, "ACC-1", 1).state == PARTIALLY_PAID

    clock.set(datetime(2026, 11, 6, tzinfo=UTC))
    pay(ledger, "ACC-1", "P2", "30.00", "EUR", "2026-11-06T00:00:00Z")
    account = account_of(ledger, "ACC-1")
    assert _bill(ledger, "ACC-1", 1).state == SETTLED
    assert account.credit_balance == D("13.99") and account.balance == D("-13.99")

    clock.set(datetime(2026, 11, 10, 10, tzinfo=UTC))
    post_charge(ledger, "ACC-1", "nov-1", "20.00", "EUR", "2026-11-10T10:00:00Z")
    clock.set(datetime(2026, 12, 1, 6, tzinfo=UTC))
    run_cycle(ledger, NOV, by="scheduler", trigger_type="scheduler")
    november = _bill(ledger, "ACC-1", 2)
    assert november.applied_payments == [{"payment_id": None, "source": "creditBalance", "amount": "13.99"}]
    assert (november.remaining_amount, november.state) == (D("6.01"), PARTIALLY_PAID)
    assert account_of(ledger, "ACC-1").credit_balance == 0

    reverse(ledger, "P1", reason="NSF")
    assert (_bill(ledger, "ACC-1", 1).state, _bill(ledger, "ACC-1", 1).remaining_amount) == (PARTIALLY_PAID, D("20.00"))
    assert payment_of(ledger, "P1").status == "canceled"

    clock.set(datetime(2026, 12, 5, tzinfo=UTC))
    pay(ledger, "ACC-1", "P3", "40.00", "EUR", "2026-12-05T00:00:00Z")
    account = account_of(ledger, "ACC-1")
    assert [_bill(ledger, "ACC-1", n).state for n in (1, 2)] == [SETTLED, SETTLED]
    assert account.credit_balance == D("13.99") and not account.open_bills

    clock.set(datetime(2026, 12, 6, tzinfo=UTC))
    refund(ledger, "ACC-1", "R1", "13.99", "2026-12-06T00:00:00Z")
    account = account_of(ledger, "ACC-1")
    assert account.credit_balance == 0 and account.balance == 0 and account.identity_holds()


def test_redelivered_charges_and_payments_apply_once(ledger: Ledger, clock: FakeClock) -> None:
    """The same charge and payment delivered twice change the ledger once; different content under the same id is refused."""
    open_account(ledger, "ACC-1", "JPY", time_zone="Asia/Tokyo")
    clock.set(datetime(2026, 10, 6, tzinfo=UTC))
    charge = charge_cmd("ACC-1", "c1", "1000", "JPY", "2026-10-05T10:00:00Z", taxes=[tax("CT", "10", "100")])
    payment = payment_cmd("ACC-1", "P1", "500", "JPY", "2026-10-06T00:00:00Z")
    assert ledger.execute(charge).applied and ledger.execute(payment).created
    position = max_notification_id(ledger)
    assert ledger.execute(charge).applied is False
    assert ledger.execute(payment).created is False
    assert max_notification_id(ledger) == position
    assert account_of(ledger, "ACC-1").balance == D(600)
    with pytest.raises(IdempotencyConflict):
        ledger.execute(payment_cmd("ACC-1", "P1", "501", "JPY", "2026-10-06T00:00:00Z"))
    with pytest.raises(IdempotencyConflict):
        post_charge(ledger, "ACC-1", "c1", "1001", "JPY", "2026-10-05T10:00:00Z")
    assert max_notification_id(ledger) == position


@pytest.mark.parametrize("shared", [False, True], ids=["ledger-per-thread", "one-shared-ledger"])
def test_concurrent_posting_loses_no_update(ledger: Ledger, make_settings: SettingsFactory, shared: bool) -> None:
    """Writers in threads (each with its own Ledger, or sharing one) post to one account: nothing is lost."""
    open_account(ledger, "HOT", "BHD")
    writers, per_writer = 4, 15
    if shared:
        ledgers = [make_ledger(make_settings(retries=500), FakeClock())] * writers
    else:
        ledgers = [make_ledger(make_settings(retries=500), FakeClock()) for _ in range(writers)]
    barrier, errors = threading.Barrier(writers), []

    def write(index: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                post_charge(ledgers[index], "HOT", f"w{index}-{i}", "0.0015", "BHD", "2026-10-01T10:00:00Z")
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in set(ledgers):
        other.close()
    assert errors == []
    account = fresh_account(ledger, "HOT")
    assert account.balance == writers * per_writer * D("0.0015")
    assert len(account.unbilled) == writers * per_writer and account.version == 1 + writers * per_writer
    assert account.identity_holds()


def _five_charged_accounts_at_bill_time(make_settings: SettingsFactory, clock: FakeClock) -> tuple[Ledger, list[str]]:
    """A ledger billing 2 accounts per batch, five accounts with a 7.00 charge each, the clock at October's bill run."""
    ledger = make_ledger(make_settings(batch_size=2), clock)
    define_spec(ledger)
    clock.set(datetime(2026, 10, 5, 10, tzinfo=UTC))  # the accounts open when their charges come
    refs = charged_accounts(ledger, 5, "7.00")
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    return ledger, refs


def test_a_batch_whose_insert_meets_another_writer_is_billed_again(make_settings: SettingsFactory, clock: FakeClock,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process charges an account while its batch's bills are being inserted: the insert fails on the
    version, and the batch is billed again with the new charge; every account gets exactly one bill."""
    ledger, refs = _five_charged_accounts_at_bill_time(make_settings, clock)
    other = make_ledger(make_settings(), clock)
    recorder = ledger.store.recorder
    real_insert, inserts = recorder.insert_events, []

    def other_writer_first(*args: Any, **kw: Any) -> Any:
        inserts.append(1)
        if len(inserts) == 2:  # the first batch's insert (after the cycle's creation): ACC-0 changes under it
            post_charge(other, "ACC-0", "late", "3.00", "EUR", "2026-10-30T10:00:00Z")
        return real_insert(*args, **kw)

    monkeypatch.setattr(recorder, "insert_events", other_writer_first)
    try:
        result = run_cycle(ledger, OCT, by="cron", trigger_type="scheduler")
    finally:
        other.close()
    assert (result.status, result.accounts_billed, result.totals) == ("completed", 5, {"EUR": Decimal("38.00")})
    assert len(inserts) == 6  # cycle, 3 batches and completion, plus the failed first insert of the first batch
    checker = make_ledger(make_settings(), clock)
    try:
        assert all(account_of(checker, ref).bill_count == 1 for ref in refs)
        assert not account_of(checker, "ACC-0").unbilled
    finally:
        checker.close()
    ledger.close()


def test_interrupted_cycle_resumes(make_settings: SettingsFactory, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cycle run that died after its first batch is resumed by a new trigger, billing each account exactly once."""
    ledger, refs = _five_charged_accounts_at_bill_time(make_settings, clock)
    run_dying_after_first_batch(monkeypatch, ledger, lambda: run_cycle(ledger, OCT, by="cron", trigger_type="scheduler"))

    clock.advance(hours=2)
    restarted = make_ledger(make_settings(batch_size=2), clock)
    try:
        assert len(cycle_of(restarted, OCT).billed) == 2
        result = run_cycle(restarted, OCT, by="ops")
        assert (result.status, result.accounts_billed) == ("completed", 5)
        assert [t["by"] for t in cycle_of(restarted, OCT).triggers] == ["cron", "ops"]
        assert all(account_of(restarted, ref).bill_count == 1 for ref in refs)
        assert result.totals == {"EUR": Decimal("35.00")}
    finally:
        restarted.close()


def test_snapshots_give_the_same_state_as_a_full_replay(make_settings: SettingsFactory, clock: FakeClock) -> None:
    """With snapshots every 3 events, an account loaded from its snapshot equals one replayed from all events."""
    ledger = make_ledger(make_settings(snapshot_interval=3), clock)
    define_spec(ledger)
    open_account(ledger, "SNAP", "EUR")
    clock.set(datetime(2026, 10, 6, tzinfo=UTC))
    for i in range(7):
        post_charge(ledger, "SNAP", f"c{i}", f"{i + 1}.125", "EUR", "2026-10-05T10:00:00Z", taxes=[tax("VAT", "20", "0.225")])
    pay(ledger, "SNAP", "P1", "5.00", "EUR", "2026-10-06T00:00:00Z",
        allocations=[{"target": "charge", "id": "c6", "amount": "5.00"}])
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    run_cycle(ledger, OCT)
    clock.set(datetime(2026, 11, 6, tzinfo=UTC))
    pay(ledger, "SNAP", "P2", "100.00", "EUR", "2026-11-06T00:00:00Z")
    reverse(ledger, "P1")
    live = account_of(ledger, "SNAP")
    assert ledger.store.snapshots is not None
    snapshots = list(ledger.store.snapshots.get(live.id))
    assert snapshots, "snapshots should have been taken"
    from_snapshot = fresh(ledger, live.id)
    replay = replay_store(ledger)
    try:
        from_events = replay.repository.get(live.id)
        assert from_snapshot.__dict__ == from_events.__dict__ == live.__dict__
        assert from_events.identity_holds() and from_events.version == live.version
    finally:
        replay.close()
        ledger.close()
