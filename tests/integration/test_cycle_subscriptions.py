"""A cycle run with subscriptions on SQLite and on a real PostgreSQL, in batches of two accounts: each batch's
subscriptions are read with its accounts (ahead, on PostgreSQL), and every line is charged exactly once, also when an
interrupted run is resumed. Figures computed by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.entries import CHARGE
from ledger.aggregates.subscription import Subscription
from ledger.commands.lookups import load_account
from ledger.errors import NotFound
from ledger.queries.as_of import account_as_of
from ledger.queries.charges import account_charges
from ledger.queries.history import account_history
from ledger.service import Ledger
from ledger.settings import Settings
from tests.support.ledger_factory import (
    FakeClock,
    cycle_of,
    define_spec,
    make_ledger,
    open_account,
    postgres_settings,
    run_cycle,
    run_dying_after_first_batch,
)
from tests.support.master_data import bill_lines, define_offering, recurring_price, subscribe

SettingsFactory = Callable[..., Settings]
OCT = date(2026, 10, 1)
REFS = [f"ACC-{n}" for n in range(5)]


def _expected(ref: str) -> list[tuple[str, str, str]]:
    """BASIC 31.00 from 16 October (advance): October 16/31 = 16.00, November in full; PRO 60.00 x 2 from 1 October:
    October and November in full."""
    return sorted([(CHARGE, f"rc:{ref}-B:2026-10-01|BASIC/monthly", "16.000000"),
                   (CHARGE, f"rc:{ref}-B:2026-11-01|BASIC/monthly", "31.000000"),
                   (CHARGE, f"rc:{ref}-P:2026-10-01|PRO/monthly", "120.000000"),
                   (CHARGE, f"rc:{ref}-P:2026-11-01|PRO/monthly", "120.000000")])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 9, 30, 9, tzinfo=UTC))


def _subscribed(make_settings: SettingsFactory, clock: FakeClock) -> Ledger:
    """Five accounts with two subscriptions each, billed two accounts per batch; the clock at October's bill run."""
    ledger = make_ledger(make_settings(batch_size=2), clock)
    define_spec(ledger)
    define_offering(ledger, "BASIC", recurring_price("31.00"))
    define_offering(ledger, "PRO", recurring_price("60.00"))
    for ref in REFS:
        open_account(ledger, ref, "EUR")
        subscribe(ledger, f"{ref}-B", ref, "BASIC", "2026-10-16")
        subscribe(ledger, f"{ref}-P", ref, "PRO", "2026-10-01", quantity=2)
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    return ledger


def _charged_once(ledger: Ledger) -> None:
    for ref in REFS:
        assert sorted(bill_lines(ledger, ref, f"{ref}-00001")) == _expected(ref)
        for sub in (f"{ref}-B", f"{ref}-P"):
            found = ledger.store.load(Subscription, ids.subscription_id(sub), NotFound, "subscription")
            assert found.version == 2 and found.reconciled_until == "2026-10-31"  # created, then charged once


def test_a_cycle_run_in_batches_charges_every_subscription_once(make_settings: SettingsFactory, clock: FakeClock) -> None:
    """Each account's bill holds its two subscriptions' prorated October and November lines; a second trigger changes
    nothing."""
    ledger = _subscribed(make_settings, clock)
    fresh = make_ledger(make_settings(batch_size=2), clock)  # cold: what a scheduled run's process has
    try:
        assert run_cycle(fresh, OCT).accounts_billed == 5
        assert run_cycle(fresh, OCT).already_completed
        _charged_once(fresh)
    finally:
        fresh.close()
        ledger.close()


def test_an_accounts_run_charges_are_one_event_every_reader_of_charges_reads(make_settings: SettingsFactory,
                                                                            clock: FakeClock) -> None:
    """The run records an account's new charges as one PlanChargesApplied; the charge list, the history and the as-of
    state read each as its own charge, and agree with the account."""
    ledger = _subscribed(make_settings, clock)
    try:
        run_cycle(ledger, OCT)
        ref, store = "ACC-0", ledger.store
        expected = sorted((charge_id, amount) for _, charge_id, amount in _expected(ref))
        plan = [e for e in store.history(ids.account_id(ref)) if isinstance(e, BillingAccount.PlanChargesApplied)]
        assert len(plan) == 1 and sorted((c["charge_id"], c["tax_excluded"]) for c in plan[0].charges) == expected
        listed = account_charges(store, ref)
        assert sorted((c.charge_id, str(c.tax_excluded_amount)) for c in listed) == expected
        assert {c.bill_number for c in listed} == {f"{ref}-00001"}
        lines = account_history(store, ref).lines
        assert sorted(line.refs["charge_id"] for line in lines if line.kind == CHARGE) == [c for c, _ in expected]
        account = load_account(store, ref)
        state = account_as_of(store, clock, ref)
        assert state.identity_holds and (state.balance, state.receivable) == (account.balance, account.receivable)
    finally:
        ledger.close()


@pytest.mark.postgres
def test_a_batchs_subscriptions_are_read_with_its_accounts(postgres_schema: tuple[str, str], clock: FakeClock) -> None:
    """On PostgreSQL (SQLite reads one aggregate at a time) every subscription's events come in the same query as
    its account's, and are read once."""

    def make_settings(**overrides: Any) -> Settings:
        return postgres_settings(*postgres_schema, **overrides)

    _subscribed(make_settings, clock).close()
    ledger = make_ledger(make_settings(batch_size=2), clock)
    recorder = ledger.store.recorder
    real, reads = recorder.select_events_after, []  # type: ignore[attr-defined]

    def spy(aggregate_ids: list[UUID], after: list[int]) -> Any:
        reads.append(list(aggregate_ids))
        return real(aggregate_ids, after)

    recorder.select_events_after = spy  # type: ignore[attr-defined]
    try:
        run_cycle(ledger, OCT)
        for ref in REFS:
            account = ids.account_id(ref)
            for sub in (f"{ref}-B", f"{ref}-P"):
                with_it = [read for read in reads if ids.subscription_id(sub) in read]
                assert len(with_it) == 1 and account in with_it[0]
        _charged_once(ledger)
    finally:
        ledger.close()


def test_an_interrupted_run_resumed_charges_nothing_twice(make_settings: SettingsFactory, clock: FakeClock,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that died after its first batch is resumed by a new trigger: the first batch's accounts are not charged
    again, the others are charged once."""
    ledger = _subscribed(make_settings, clock)
    run_dying_after_first_batch(monkeypatch, ledger, lambda: run_cycle(ledger, OCT))

    clock.advance(hours=2)
    restarted = make_ledger(make_settings(batch_size=2), clock)
    try:
        assert len(cycle_of(restarted, OCT).billed) == 2
        result = run_cycle(restarted, OCT)
        assert (result.status, result.accounts_billed) == ("completed", 5)
        _charged_once(restarted)
    finally:
        restarted.close()
