"""One cycle trigger billed by several worker processes (the `cycle_workers` setting, `ledger cycle run --workers`).

The bill run is CPU-bound in Python, so one process uses one core. With N workers the trigger's process (which
records the trigger, and completes the cycle) splits the accounts still to bill into N disjoint parts by a hash of
the account id (`partition_of`: the same account always falls in the same part for a given N) and starts N
processes, each with its own Ledger and connections, which bill their part with the batch engine
(`ledger/commands/cycle_run.py`) and record each batch on the one cycle, in the batch's transaction as a single
process does. A worker's insert that conflicts on the cycle only (another worker recorded a batch first) is
rebased (`LedgerStore.save_behind`), so the workers never redo each other's billing. Everything a single process
guarantees stands: bill ids are deterministic (account, cycle) and bill numbers are per account, so a resumed run
(any number of workers) skips what the cycle already has and bills nothing twice; the cycle's progress and totals
grow batch by batch (what the API's billCycle GET shows); the cycle completes once, in the trigger's process, only
when every worker finished and every account to do is on the cycle. A worker that fails (or dies) fails the run
once the others are done; a new trigger resumes it.

PostgreSQL only: the workers share the store, which SQLite files and the in-memory store cannot do well (SQLite
takes one writer at a time and its busy timeout would turn the workers' batches into lock waits).
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from ledger.aggregates.billing_calendar import occurrence
from ledger.commands.cycle_run import bill_in_batches, load_cycle
from ledger.commands.lookups import load_specification
from ledger.commands.recurring import RecurringCharges
from ledger.errors import InvalidInput, LedgerError
from ledger.ports import HandlerContext
from ledger.settings import Settings


def partition_of(account_id: UUID, parts: int) -> int:
    """The part (0 .. parts-1) an account falls in: a hash of its id (uuid4 and uuid5 ids are uniform)."""
    return account_id.int % parts


def partitions(accounts: list[UUID], parts: int) -> list[list[UUID]]:
    """The accounts split into `parts` disjoint lists by `partition_of`, each in the order given."""
    split: list[list[UUID]] = [[] for _ in range(parts)]
    for account_id in accounts:
        split[partition_of(account_id, parts)].append(account_id)
    return split


def require_workers_possible(settings: Settings, workers: int) -> None:
    """More than one worker needs the PostgreSQL store (refused before anything is recorded)."""
    if workers > 1 and settings.store != "postgres":
        raise InvalidInput(f"a cycle run with {workers} workers needs the PostgreSQL store (LEDGER_STORE=postgres), "
                           f"not {settings.store}: run it with one worker", workers=workers, store=settings.store)


class WorkerFailed(LedgerError):
    """A worker process of a cycle run failed: the run is unfinished and a new trigger resumes it."""

    code = "cycle_worker_failed"
    exit_code = 1


def bill_part(ctx: HandlerContext, cycle_id: UUID, accounts: list[UUID], send: bool) -> int:
    """Bill `accounts` (one worker's part) for the cycle, as the trigger's own run would, recording each batch on
    the shared cycle: accounts the cycle already has are skipped. The number of accounts of the part it billed or
    skipped now."""
    from ledger.commands.cycles import on_cycle_step  # the trigger's module imports this one

    cycle = load_cycle(ctx.store, cycle_id)
    spec = load_specification(ctx.store, cycle.specification).specification
    dates = occurrence(spec, date.fromisoformat(cycle.period_start))
    todo = [account_id for account_id in accounts if not cycle.is_done_for(account_id)]
    recurring = RecurringCharges.for_run(ctx.store, spec, dates)
    bill_in_batches(ctx, cycle_id, todo, on_cycle_step(cycle_id, dates, send, recurring), shared=True)
    return len(todo)
