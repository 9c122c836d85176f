"""Building Ledgers for tests: a controllable clock, in-memory/SQLite/PostgreSQL settings, command shortcuts,
replay stores.

Usage:
    clock = FakeClock(datetime(2026, 10, 1, tzinfo=UTC))
    ledger = make_ledger(memory_settings(), clock)          # or sqlite_settings(tmp_path / "l.sqlite"), ...
    define_spec(ledger); open_account(ledger, "ACC-1", "EUR")
    post_charge(ledger, "ACC-1", "c1", "10.00", "EUR", "2026-10-05T10:00:00Z")
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.application import project_aggregate

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.customer_payment import CustomerPayment
from ledger.aggregates.party_billing_cycle import PartyBillingCycle
from ledger.bootstrap import bootstrap
from ledger.commands import (
    AdjustCharge,
    DefineCycleSpecification,
    IssueOffCycleBill,
    OpenBillingAccount,
    PostCharge,
    RecordPayment,
    RefundCredit,
    ReversePayment,
    TriggerBillingCycle,
)
from ledger.errors import AccountNotFound, BillNotFound, CycleNotFound, PaymentNotFound
from ledger.eventstore.store import LedgerStore
from ledger.service import Ledger
from ledger.settings import Settings

SPEC = "monthly"


class FakeClock:
    """A clock the test moves by hand; `ledger.now()` returns whatever it was last set to. With `tick`, every
    reading first moves it on by that much (each event gets its own moment)."""

    def __init__(self, start: datetime = datetime(2026, 10, 1, tzinfo=UTC), *, tick: timedelta | None = None) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self.moment = start
        self.tick = tick

    def __call__(self) -> datetime:
        if self.tick:
            self.moment += self.tick
        return self.moment

    def set(self, moment: datetime) -> None:
        self.moment = moment

    def advance(self, **delta: float) -> datetime:
        self.moment += timedelta(**delta)
        return self.moment


def memory_settings(**overrides: Any) -> Settings:
    """Settings of the in-memory store (the library's POPO recorders): no file, no server, nothing kept."""
    return Settings(store="memory", **overrides)


def sqlite_settings(path: Path | str, **overrides: Any) -> Settings:
    return Settings(store="sqlite", sqlite_path=Path(path), **overrides)


def postgres_settings(url: str, schema: str, **overrides: Any) -> Settings:
    return Settings(store="postgres", postgres_url=url, postgres_schema=schema, **overrides)


def _silent_logger() -> Any:
    return structlog.wrap_logger(structlog.PrintLogger(io.StringIO()),
                                 wrapper_class=structlog.make_filtering_bound_logger("critical"))


def make_ledger(settings: Settings, clock: FakeClock | None = None, *, quiet: bool = True) -> Ledger:
    """A Ledger on `settings` with `clock` (default: a FakeClock at 2026-10-01T00:00Z); logs dropped when quiet."""
    ledger = bootstrap(settings, clock=clock or FakeClock())
    if quiet:
        ledger.log = _silent_logger()
    return ledger


@contextmanager
def ledger_on(settings: Settings, clock: FakeClock | None = None) -> Iterator[Ledger]:
    ledger = make_ledger(settings, clock)
    try:
        yield ledger
    finally:
        ledger.close()


def replay_store(ledger: Ledger) -> LedgerStore:
    """A second store on the ledger's database with no cache and no snapshots: every load replays all events.
    On the memory store, whose events live in the ledger's own recorder, it reads that recorder."""
    plain = ledger.settings.model_copy(update={"cache_size": 0, "snapshot_interval": 0})
    store = LedgerStore(env=plain.eventsourcing_env(), snapshot_interval=0)
    if plain.store == "memory":
        store.recorder = store.events.recorder = ledger.store.recorder
    return store


def max_notification_id(ledger: Ledger) -> int:
    """The position of the last stored event (0 when the store is empty)."""
    return ledger.store.recorder.max_notification_id() or 0


# ---------------------------------------------------------------- reading (always from the database)


def account_of(store_or_ledger: LedgerStore | Ledger, ref: str) -> BillingAccount:
    store = _store(store_or_ledger)
    return store.load(BillingAccount, ids.account_id(ref), AccountNotFound, ref)


def fresh(store_or_ledger: LedgerStore | Ledger, aggregate_id: UUID) -> Any:
    """An aggregate rebuilt from the database (snapshot + events), bypassing the store's cache.

    Uses the repository's reconstruction directly (eventsourcing 9.5.6 is pinned): a cached copy can be
    stale when another Ledger instance wrote to the same database.
    """
    return _store(store_or_ledger).repository._reconstruct_aggregate(aggregate_id, None, project_aggregate)


def fresh_account(store_or_ledger: LedgerStore | Ledger, ref: str) -> BillingAccount:
    return fresh(store_or_ledger, ids.account_id(ref))


def bill_of(store_or_ledger: LedgerStore | Ledger, bill_id: str | UUID) -> CustomerBill:
    return _store(store_or_ledger).load(CustomerBill, UUID(str(bill_id)), BillNotFound, "bill")


def bill_by_number(store_or_ledger: LedgerStore | Ledger, ref: str, number: str) -> CustomerBill:
    account = account_of(store_or_ledger, ref)
    return bill_of(store_or_ledger, account.bills[number])


def bills_of(store_or_ledger: LedgerStore | Ledger, ref: str) -> list[CustomerBill]:
    account = account_of(store_or_ledger, ref)
    return [bill_of(store_or_ledger, bill_id) for bill_id in account.bills.values()]


def payment_of(store_or_ledger: LedgerStore | Ledger, external_reference: str) -> CustomerPayment:
    return _store(store_or_ledger).load(CustomerPayment, ids.payment_id(external_reference), PaymentNotFound, "payment")


def cycle_of(store_or_ledger: LedgerStore | Ledger, period_start: date, spec: str = SPEC) -> PartyBillingCycle:
    return _store(store_or_ledger).load(PartyBillingCycle, ids.cycle_id(spec, period_start), CycleNotFound, "cycle")


def _store(store_or_ledger: LedgerStore | Ledger) -> LedgerStore:
    return store_or_ledger.store if isinstance(store_or_ledger, Ledger) else store_or_ledger


# ---------------------------------------------------------------- command shortcuts


def define_spec(ledger: Ledger, name: str = SPEC, **values: Any) -> dict[str, Any]:
    return ledger.execute(DefineCycleSpecification.parse({"name": name, **values}))


def open_account(ledger: Ledger, ref: str, currency: str = "EUR", **values: Any) -> dict[str, Any]:
    data = {"account_id": ref, "customer_id": f"cust-{ref}", "currency": currency, "cycle_specification": SPEC, **values}
    return ledger.execute(OpenBillingAccount.parse(data))


def charged_accounts(ledger: Ledger, count: int, amount: str = "10.00", *, charges: int = 1,
                     currency: str = "EUR") -> list[str]:
    """Open ACC-0 .. ACC-{count - 1} (the spec must be defined), each with `charges` charges of `amount` effective
    at the ledger's clock, as they are rated (ids ACC-n-c1, ACC-n-c2, ...); returns their references."""
    refs = [f"ACC-{n}" for n in range(count)]
    for ref in refs:
        open_account(ledger, ref, currency)
        for k in range(1, charges + 1):
            post_charge(ledger, ref, f"{ref}-c{k}", amount, currency, ledger.now().isoformat())
    return refs


def tax(category: str, rate: str, amount: str) -> dict[str, str]:
    return {"tax_category": category, "tax_rate": rate, "tax_amount": amount}


def charge_cmd(ref: str, charge_id: str, amount: str, currency: str, when: str, *, taxes: list[dict[str, str]] = (),
               kind: str = "appliedBillingCharge", **extra: Any) -> PostCharge:
    return PostCharge.parse({"charge_id": charge_id, "account_id": ref, "type": kind, "currency": currency,
                             "tax_excluded_amount": amount, "applied_tax": list(taxes), "date": when, **extra})


def post_charge(ledger: Ledger, ref: str, charge_id: str, amount: str, currency: str, when: str, **kw: Any) -> dict[str, Any]:
    return ledger.execute(charge_cmd(ref, charge_id, amount, currency, when, **kw))


def adjust(ledger: Ledger, ref: str, adjustment_id: str, charge_id: str, amount: str, when: str, *,
           taxes: list[dict[str, str]] = (), reason: str = "correction") -> dict[str, Any]:
    return ledger.execute(AdjustCharge.parse({
        "adjustment_id": adjustment_id, "account_id": ref, "charge_id": charge_id, "tax_excluded_amount": amount,
        "applied_tax": list(taxes), "date": when, "reason": reason,
    }))


def payment_cmd(ref: str, external_reference: str, amount: str, currency: str, when: str, *,
                allocations: list[dict[str, str]] | None = None, method: str = "bankCard") -> RecordPayment:
    data = {"account_id": ref, "external_reference": external_reference, "amount": amount, "currency": currency,
            "method": method, "payer_ref": f"payer-{ref}", "date": when}
    if allocations is not None:
        data["allocations"] = allocations
    return RecordPayment.parse(data)


def pay(ledger: Ledger, ref: str, external_reference: str, amount: str, currency: str, when: str, **kw: Any) -> dict[str, Any]:
    return ledger.execute(payment_cmd(ref, external_reference, amount, currency, when, **kw))


def reverse(ledger: Ledger, external_reference: str, kind: str = "bouncedCheck", reason: str = "",
            when: str | None = None) -> dict[str, Any]:
    """Reverse a payment, effective at `when` (default: the ledger's clock)."""
    return ledger.execute(ReversePayment.parse({"external_reference": external_reference, "kind": kind, "reason": reason,
                                                "date": when or ledger.now().isoformat()}))


def refund(ledger: Ledger, ref: str, refund_id: str, amount: str, when: str, method: str = "bankCard") -> dict[str, Any]:
    return ledger.execute(RefundCredit.parse({"account_id": ref, "refund_id": refund_id, "amount": amount,
                                              "method": method, "date": when}))


def run_cycle(ledger: Ledger, period_start: date | str, *, spec: str = SPEC, by: str = "tester",
              trigger_type: str = "person", **extra: Any) -> dict[str, Any]:
    start = period_start if isinstance(period_start, str) else period_start.isoformat()
    return ledger.execute(TriggerBillingCycle.parse({"specification": spec, "period_start": start,
                                                     "trigger_type": trigger_type, "triggered_by": by, **extra}))


def off_cycle(ledger: Ledger, ref: str, request_id: str, **extra: Any) -> dict[str, Any]:
    return ledger.execute(IssueOffCycleBill.parse({"account_id": ref, "request_id": request_id, **extra}))


def lose_connection_after_inserts(monkeypatch: Any, recorder: Any, inserts: int) -> None:
    """From the recorder's insert number `inserts + 1` on, every insert fails as a connection lost for good would
    (undo with `monkeypatch.undo()`): a run that dies part way."""
    real_insert, calls = recorder.insert_events, []

    def failing(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) > inserts:
            raise ConnectionError("connection lost")
        return real_insert(*args, **kw)

    monkeypatch.setattr(recorder, "insert_events", failing)


def run_dying_after_first_batch(monkeypatch: Any, ledger: Ledger, run: Callable[[], Any]) -> None:
    """Call `run` (a cycle run) with the connection lost for good after the cycle's creation and its first batch:
    it must fail so; the ledger is closed after it, as a process that died."""
    lose_connection_after_inserts(monkeypatch, ledger.store.recorder, 2)
    try:
        run()
    except ConnectionError:
        pass
    else:
        raise AssertionError("the run did not meet the lost connection")
    finally:
        monkeypatch.undo()
    ledger.close()
