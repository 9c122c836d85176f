"""One cycle trigger billed by two worker processes on a real PostgreSQL, in batches of two accounts: every account
is billed once, with the bills and totals a one-process run makes (the in-memory store's), also when a worker died
part way and a new trigger resumed the run; other stores refuse more than one worker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger import cycle_processes
from ledger.aggregates import ids
from ledger.commands import cycle_workers
from ledger.errors import CycleNotFound, InvalidInput
from ledger.ports import HandlerContext
from ledger.service import Ledger
from ledger.settings import Settings
from tests.support.ledger_factory import (
    FakeClock,
    bills_of,
    cycle_of,
    define_spec,
    lose_connection_after_inserts,
    make_ledger,
    memory_settings,
    open_account,
    post_charge,
    postgres_settings,
    run_cycle,
    sqlite_settings,
)
from tests.support.master_data import bill_lines, define_offering, recurring_price, subscribe

OCT = date(2026, 10, 1)
REFS = [f"ACC-{n}" for n in range(9)]
Outcome = tuple[dict[str, str], int, int, list[tuple[str, str, str, list[tuple[str, str, str]]]]]


def _set_up(settings: Settings, clock: FakeClock) -> Ledger:
    """Nine accounts, each with a subscription (BASIC from 16 October, in advance) and its own usage charge; the
    clock at October's bill run."""
    ledger = make_ledger(settings, clock)
    define_spec(ledger)
    define_offering(ledger, "BASIC", recurring_price("31.00"))
    for ref in REFS:
        open_account(ledger, ref, "EUR")
        subscribe(ledger, f"{ref}-B", ref, "BASIC", "2026-10-16")
    clock.set(datetime(2026, 10, 20, 10, tzinfo=UTC))
    for n, ref in enumerate(REFS):
        post_charge(ledger, ref, f"{ref}-u1", f"{n + 1}.25", "EUR", clock().isoformat())
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    return ledger


def _outcome(ledger: Ledger) -> Outcome:
    """The cycle's totals and counts, and each account's bills (number, amount due, lines)."""
    cycle = cycle_of(ledger, OCT)
    bills = [(ref, bill.bill_number, str(bill.amount_due), bill_lines(ledger, ref, bill.bill_number))
             for ref in REFS for bill in bills_of(ledger, ref)]
    return dict(cycle.totals), len(cycle.billed), len(cycle.skipped), bills


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 9, 30, 9, tzinfo=UTC))


@pytest.fixture
def one_process_outcome() -> Outcome:
    """What a one-process run of the same set-up gives (in memory)."""
    ledger = _set_up(memory_settings(batch_size=2), FakeClock(datetime(2026, 9, 30, 9, tzinfo=UTC)))
    try:
        assert run_cycle(ledger, OCT).accounts_billed == len(REFS)
        return _outcome(ledger)
    finally:
        ledger.close()


@pytest.fixture
def make_settings(postgres_schema: tuple[str, str]) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return postgres_settings(*postgres_schema, batch_size=2, **overrides)

    return make


def test_two_workers_bill_every_account_once_as_one_process_does(make_settings: Callable[..., Settings],
                                                                 clock: FakeClock, one_process_outcome: Outcome) -> None:
    """A two-worker run completes with each account billed once, the same bills and totals as one process."""
    _set_up(make_settings(), clock).close()
    ledger = make_ledger(make_settings(), clock)
    try:
        result = run_cycle(ledger, OCT, workers=2)
        assert (result.status, result.accounts_billed) == ("completed", len(REFS))
        assert _outcome(ledger) == one_process_outcome
        assert [bill[1] for bill in one_process_outcome[3]] == [f"{ref}-00001" for ref in REFS]  # numbers per account
        assert run_cycle(ledger, OCT, workers=2).already_completed
    finally:
        ledger.close()


def test_the_cycle_workers_setting_runs_the_workers(make_settings: Callable[..., Settings], clock: FakeClock,
                                                    one_process_outcome: Outcome) -> None:
    """LEDGER_CYCLE_WORKERS=2 (no workers on the command) bills in two processes, to the same outcome."""
    _set_up(make_settings(), clock).close()
    ledger = make_ledger(make_settings(cycle_workers=2), clock)
    spawned: list[int] = []
    real = cycle_processes.bill_in_workers

    def spy(ctx: HandlerContext, cycle_id: UUID, accounts: list[UUID], send: bool, workers: int) -> None:
        spawned.append(workers)
        real(ctx, cycle_id, accounts, send, workers)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("ledger.commands.cycles.bill_in_workers", spy)
            assert run_cycle(ledger, OCT).status == "completed"
        assert spawned == [2]
        assert _outcome(ledger) == one_process_outcome
    finally:
        ledger.close()


def test_a_run_whose_worker_died_is_resumed_to_the_same_outcome(make_settings: Callable[..., Settings],
                                                                clock: FakeClock, one_process_outcome: Outcome,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """One worker bills its part, the other dies after its first batch (the run fails, the cycle stays running);
    a new two-worker trigger bills the rest once, to the one-process outcome."""
    ledger = _set_up(make_settings(), clock)

    def dying_workers(ctx: HandlerContext, cycle_id: UUID, accounts: list[UUID], send: bool, workers: int) -> None:
        first, second = cycle_workers.partitions(accounts, 2)
        cycle_workers.bill_part(ctx, cycle_id, second, send)
        lose_connection_after_inserts(monkeypatch, ctx.store.recorder, 1)  # type: ignore[attr-defined]
        cycle_workers.bill_part(ctx, cycle_id, first, send)

    monkeypatch.setattr("ledger.commands.cycles.bill_in_workers", dying_workers)
    with pytest.raises(ConnectionError):
        run_cycle(ledger, OCT, workers=2)
    monkeypatch.undo()
    ledger.close()

    clock.advance(hours=2)
    restarted = make_ledger(make_settings(), clock)
    try:
        cycle = cycle_of(restarted, OCT)
        first, second = cycle_workers.partitions([ids.account_id(ref) for ref in REFS], 2)
        assert cycle.status == "running" and len(cycle.billed) == len(second) + 2
        result = run_cycle(restarted, OCT, workers=2)
        assert (result.status, result.accounts_billed) == ("completed", len(REFS))
        assert len(cycle_of(restarted, OCT).triggers) == 2
        assert _outcome(restarted) == one_process_outcome
    finally:
        restarted.close()


def test_more_than_one_worker_needs_postgresql(tmp_path: Path, clock: FakeClock) -> None:
    """On SQLite a two-worker trigger is refused before anything is recorded."""
    ledger = _set_up(sqlite_settings(tmp_path / "ledger.sqlite", batch_size=2), clock)
    try:
        with pytest.raises(InvalidInput, match="PostgreSQL"):
            run_cycle(ledger, OCT, workers=2)
        with pytest.raises(CycleNotFound):
            cycle_of(ledger, OCT)
    finally:
        ledger.close()
