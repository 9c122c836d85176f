"""Unit tests for the PartyBillingCycle aggregate: who triggered it, resume, billing each account once, completion."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from ledger.aggregates.party_billing_cycle import COMPLETED, RUNNING, PartyBillingCycle, trigger_record
from ledger.errors import CycleStateError, RuleViolation
from ledger.service import Ledger
from tests.support.ledger_factory import (
    FakeClock,
    account_of,
    bill_of,
    bills_of,
    charged_accounts,
    cycle_of,
    define_spec,
    make_ledger,
    max_notification_id,
    memory_settings,
    open_account,
    pay,
    post_charge,
    run_cycle,
)

T0 = datetime(2026, 11, 1, 2, tzinfo=UTC)
DATES = {"period_start": "2026-10-01", "period_end": "2026-10-31", "bill_date": "2026-11-01", "charge_date": "2026-10-31",
         "credit_date": "2026-10-31", "mailing_date": "2026-11-03", "payment_due_date": "2026-11-15"}


def new_cycle(by: str = "alice", kind: str = "person") -> PartyBillingCycle:
    return PartyBillingCycle.trigger(T0, id=uuid4(), specification="monthly", specification_values={"name": "monthly"},
                                     dates=DATES, trigger=trigger_record(kind, by, "October run"))


def bill(account: str, amount: str = "10.00", currency: str = "EUR") -> dict[str, str]:
    return {"account_id": account, "bill_id": str(uuid4()), "currency": currency, "amount_due": amount}


def test_trigger_records_who_when_and_why() -> None:
    """A new cycle is running and remembers who triggered it, when and why."""
    cycle = new_cycle()
    assert cycle.status == RUNNING
    assert cycle.triggers == [{"type": "person", "by": "alice", "reason": "October run", "at": T0.isoformat()}]
    assert cycle.period_start == "2026-10-01" and cycle.payment_due_date == "2026-11-15"


@pytest.mark.parametrize("kind,by", [("robot", "x"), ("person", ""), ("scheduler", "   ")])
def test_trigger_needs_a_known_type_and_a_name(kind: str, by: str) -> None:
    """The trigger type is person/scheduler/system and someone must be named."""
    with pytest.raises(RuleViolation):
        trigger_record(kind, by, "")


def test_resume_appends_a_trigger() -> None:
    """Triggering an unfinished cycle again records the new trigger."""
    cycle = new_cycle()
    cycle.resume(T0 + timedelta(hours=1), trigger_record("scheduler", "cron", "retry"))
    assert [t["by"] for t in cycle.triggers] == ["alice", "cron"]


def test_completed_cycle_cannot_be_resumed() -> None:
    """A completed cycle refuses resume."""
    cycle = new_cycle()
    cycle.complete(T0)
    with pytest.raises(CycleStateError, match="completed"):
        cycle.resume(T0, trigger_record("person", "bob", ""))


def test_an_account_is_billed_once_per_cycle() -> None:
    """Recording a bill for an account already billed (or skipped) by the cycle is refused."""
    cycle = new_cycle()
    cycle.accounts_billed(T0, [bill("a1")], ["a2"])
    assert cycle.is_done_for("a1") and cycle.is_done_for("a2") and not cycle.is_done_for("a3")
    with pytest.raises(CycleStateError, match="already handled"):
        cycle.accounts_billed(T0, [bill("a1")], [])
    with pytest.raises(CycleStateError, match="already handled"):
        cycle.accounts_billed(T0, [], ["a2"])
    assert len(cycle.billed) == 1 and list(cycle.skipped) == ["a2"]


def test_empty_batch_records_nothing() -> None:
    """A batch with no bills and no skips adds no event."""
    cycle = new_cycle()
    version = cycle.version
    cycle.accounts_billed(T0, [], [])
    assert cycle.version == version


def test_completion_counts_and_totals_per_currency() -> None:
    """Completion records how many accounts were billed and skipped and the totals per currency."""
    cycle = new_cycle()
    cycle.accounts_billed(T0, [bill("a1", "10.00"), bill("a2", "5.50"), bill("a3", "100", "JPY")], ["a4"])
    cycle.accounts_billed(T0, [bill("a5", "-2.00")], ["a6"])
    cycle.complete(T0)
    assert cycle.status == COMPLETED
    assert cycle.completion["accounts_billed"] == 4 and cycle.completion["accounts_skipped"] == 2
    assert cycle.completion["totals"] == {"EUR": "13.50", "JPY": "100"}


def test_completed_cycle_takes_no_more_bills_and_completes_once() -> None:
    """After completion nothing more can be recorded."""
    cycle = new_cycle()
    cycle.complete(T0)
    with pytest.raises(CycleStateError):
        cycle.accounts_billed(T0, [bill("a1")], [])
    with pytest.raises(CycleStateError):
        cycle.complete(T0)


# --- cycle runs through a Ledger on the in-memory store --------------------------------------


OCT = date(2026, 10, 1)
NOV = date(2026, 11, 1)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 10, 5, tzinfo=UTC))  # accounts open on the day of their first charges


@pytest.fixture
def ledger(clock: FakeClock) -> Iterator[Ledger]:
    ledger = make_ledger(memory_settings(batch_size=2), clock)
    define_spec(ledger)
    yield ledger
    ledger.close()


def test_cycle_run_bills_each_account_and_completes(ledger: Ledger, clock: FakeClock) -> None:
    """Triggering a period bills every account on the specification and completes the cycle."""
    refs = charged_accounts(ledger, 3)
    open_account(ledger, "EMPTY", "EUR")
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    result = run_cycle(ledger, OCT, by="alice")
    assert (result.status, result.accounts_billed, result.accounts_skipped) == (COMPLETED, 3, 1)
    assert result.totals == {"EUR": Decimal("30.00")}
    assert all(account_of(ledger, ref).bill_count == 1 for ref in refs)
    assert account_of(ledger, "EMPTY").bill_count == 0


def test_retriggering_a_completed_cycle_never_bills_twice(ledger: Ledger, clock: FakeClock) -> None:
    """A second trigger of a completed period changes nothing and says so."""
    refs = charged_accounts(ledger, 3)
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    run_cycle(ledger, OCT)
    before = max_notification_id(ledger)
    again = run_cycle(ledger, OCT, by="bob")
    assert again.already_completed is True
    assert max_notification_id(ledger) == before
    assert [account_of(ledger, ref).bill_count for ref in refs] == [1, 1, 1]


def test_interrupted_cycle_resumes_and_bills_only_the_rest(ledger: Ledger, clock: FakeClock,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that died after its first batch resumes on re-trigger and bills only the accounts not yet billed."""
    refs = charged_accounts(ledger, 5)
    first_run = datetime(2026, 11, 1, 6, tzinfo=UTC)
    clock.set(first_run)
    real_save = ledger.store.save
    calls = {"n": 0}

    def crash_on_second_batch(*aggregates: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:  # 1: the cycle's Triggered event, 2: first batch, 3: second batch
            raise RuntimeError("database went away")
        return real_save(*aggregates, **kw)

    monkeypatch.setattr(ledger.store, "save", crash_on_second_batch)
    with pytest.raises(RuntimeError, match="went away"):
        run_cycle(ledger, OCT, by="scheduler-1", trigger_type="scheduler")
    monkeypatch.undo()

    cycle = cycle_of(ledger, OCT)
    assert cycle.status == RUNNING and len(cycle.billed) == 2
    billed_first = {account_id: bill_id for account_id, bill_id in cycle.billed.items()}

    clock.set(first_run + timedelta(hours=1))
    result = run_cycle(ledger, OCT, by="operator", reason="resume after outage")
    assert result.status == COMPLETED and result.accounts_billed == 5
    cycle = cycle_of(ledger, OCT)
    assert [t["by"] for t in cycle.triggers] == ["scheduler-1", "operator"]
    assert all(cycle.billed[a] == b for a, b in billed_first.items())
    for ref in refs:
        account = account_of(ledger, ref)
        assert account.bill_count == 1 and not account.unbilled
        bill = bill_of(ledger, cycle.billed[str(account.id)])
        expected = first_run if str(account.id) in billed_first else first_run + timedelta(hours=1)
        assert bill.created_on == expected


def test_cycle_skips_prepaid_and_other_specifications(ledger: Ledger, clock: FakeClock) -> None:
    """Prepaid accounts and accounts on another specification are not part of the run (prepaid have no bills)."""
    define_spec(ledger, "quarterly", frequency="quarterly")
    open_account(ledger, "PRE", "EUR", rating_type="prepaid", credit_limit="100")
    post_charge(ledger, "PRE", "p1", "5", "EUR", "2026-10-05T10:00:00Z")
    open_account(ledger, "Q", "EUR", cycle_specification="quarterly")
    post_charge(ledger, "Q", "q1", "5", "EUR", "2026-10-05T10:00:00Z")
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    result = run_cycle(ledger, OCT)
    assert (result.accounts_billed, result.accounts_skipped) == (0, 0)
    assert account_of(ledger, "Q").unbilled and account_of(ledger, "PRE").bill_count == 0


def test_cycle_cutoff_follows_each_account_time_zone(ledger: Ledger, clock: FakeClock) -> None:
    """23:30 on 31 October in New York (03:30Z on 1 November) is on New York's October bill but after Paris's cut-off."""
    open_account(ledger, "NY", "USD", time_zone="America/New_York")
    open_account(ledger, "PAR", "EUR", time_zone="Europe/Paris")
    instant = "2026-11-01T03:30:00Z"
    clock.set(datetime(2026, 11, 1, 3, 30, tzinfo=UTC))
    post_charge(ledger, "NY", "ny-late", "10.00", "USD", instant)
    post_charge(ledger, "PAR", "par-late", "10.00", "EUR", instant)
    clock.set(datetime(2026, 11, 1, 12, tzinfo=UTC))
    run_cycle(ledger, OCT)
    [ny_bill] = bills_of(ledger, "NY")
    assert [i["charge_id"] for i in ny_bill.items] == ["ny-late"] and ny_bill.billing_period_end == "2026-10-31"
    assert bills_of(ledger, "PAR") == [] and "par-late" in account_of(ledger, "PAR").unbilled
    clock.set(datetime(2026, 12, 1, 12, tzinfo=UTC))
    run_cycle(ledger, NOV)
    [par_bill] = bills_of(ledger, "PAR")
    assert [i["charge_id"] for i in par_bill.items] == ["par-late"] and par_bill.billing_period_start == "2026-11-01"


def test_cycle_applies_credit_and_reports_totals(ledger: Ledger, clock: FakeClock) -> None:
    """An account's credit balance is applied to its cycle bill automatically."""
    open_account(ledger, "A", "EUR")
    pay(ledger, "A", "P-pre", "4.00", "EUR", "2026-10-02T00:00:00Z")
    post_charge(ledger, "A", "c1", "10.00", "EUR", "2026-10-05T10:00:00Z")
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    run_cycle(ledger, OCT)
    [bill] = bills_of(ledger, "A")
    assert bill.remaining_amount == Decimal("6.00") and bill.applied_payments[0]["source"] == "creditBalance"
    assert bill.state == "partiallyPaid"
