"""The cycle run's throughput engine: bills accounts in batches with a per-account step, one transaction a batch.

The engine knows nothing of what billing an account means: it is given a step (account -> a new bill, or None to
skip the account) and the cycle it records each batch on. It overlaps the database with the work: the next batch's
accounts are read while one is billed, and a batch's events are inserted while the next one is billed (other
accounts; the cycle is changed only once the insert before is done). A version conflict (someone else changed an
account meanwhile) drops what is in memory and bills the batches concerned again, one at a time, as plain retried
units, so no bill is ever stored from an out-of-date account; any other failure ends the run once the insert in
flight is over (a new trigger resumes it: accounts the cycle already has are skipped).

Several processes may bill disjoint parts of one cycle's accounts at once (`ledger/commands/cycle_workers.py`), each
recording its batches on the same cycle: a batch's insert that conflicts only because another worker recorded on
the cycle meanwhile records the batch again on the cycle as it now stands and inserts the same accounts and bills
(`save_behind`'s rebase), so no billing work is redone for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any
from uuid import UUID

from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.library_bypasses import project
from ledger.aggregates.party_billing_cycle import PartyBillingCycle
from ledger.errors import AccountNotFound, CycleNotFound
from ledger.ports import AggregateStore, HandlerContext, PendingWork, VersionConflict

AccountStep = Callable[[datetime, BillingAccount], CustomerBill | None]
"""Bill one account (changing it in memory) at a moment: its new bill, or None when it has nothing to bill."""

Batch = list[UUID]


def load_cycle(store: AggregateStore, cycle_id: UUID) -> PartyBillingCycle:
    return store.load(PartyBillingCycle, cycle_id, CycleNotFound, "billing cycle")


def bill_in_batches(ctx: HandlerContext, cycle_id: UUID, accounts: list[UUID], step: AccountStep,
                    shared: bool = False) -> None:
    """Bill `accounts` in batches of the `batch_size` setting, in order, each with the cycle's record of it.
    `shared`: other processes record batches on the same cycle meanwhile (the cycle is caught up before each)."""
    size = ctx.settings.batch_size
    batches = [accounts[i : i + size] for i in range(0, len(accounts), size)]
    store = ctx.store
    besides = getattr(step, "reads", None)  # a step that reads other aggregates of a batch's accounts: read with them

    def read_ahead(batch: Batch) -> Any:
        return store.read_ahead(batch + besides(batch) if besides is not None else batch)

    upcoming = read_ahead(batches[0]) if batches else None
    pending: tuple[Batch, PendingWork] | None = None
    for k, batch in enumerate(batches):
        ahead, upcoming = upcoming, read_ahead(batches[k + 1]) if k + 1 < len(batches) else None
        try:
            bills, skipped, touched = _bill_accounts(ctx, cycle_id, batch, step, ahead)
            if pending is not None:
                pending[1].wait()
                ctx.progress.advance(len(pending[0]))
                pending = None
            pending = (batch, _record_batch_behind(ctx, cycle_id, bills, skipped, touched, shared))
        except VersionConflict:  # the insert in flight met a version conflict: neither batch is stored
            _bill_again(ctx, cycle_id, [pending[0], batch] if pending is not None else [batch], step)
            pending = None
        except BaseException:
            if pending is not None:
                _settle(pending[1])
            raise
    if pending is not None:
        try:
            pending[1].wait()
            ctx.progress.advance(len(pending[0]))
        except VersionConflict:
            _bill_again(ctx, cycle_id, [pending[0]], step)


def _bill_again(ctx: HandlerContext, cycle_id: UUID, batches: list[Batch], step: AccountStep) -> None:
    """After a version conflict: forget what is in memory and bill the batches one at a time, as plain retried
    units (accounts the cycle already has are skipped)."""
    ctx.store.forget()
    for batch in batches:
        ctx.store.retrying(partial(_bill_batch, ctx, cycle_id, batch, step), ctx.settings.retries)
        ctx.progress.advance(len(batch))


def _settle(pending: PendingWork) -> None:
    """Let a save in flight end before giving up; its own failure is not the one to report."""
    try:
        pending.wait()
    except Exception:  # noqa: BLE001
        pass


def _bill_batch(ctx: HandlerContext, cycle_id: UUID, batch: Batch, step: AccountStep) -> None:
    """Bill one batch of accounts and record them on the cycle, all in one transaction."""
    bills, skipped, touched = _bill_accounts(ctx, cycle_id, batch, step, None)
    cycle = load_cycle(ctx.store, cycle_id)
    cycle.accounts_billed(ctx.now(), bills, skipped)
    ctx.store.save(cycle, *touched)


def _bill_accounts(ctx: HandlerContext, cycle_id: UUID, batch: Batch, step: AccountStep,
                   ahead: Any) -> tuple[list[dict[str, str]], list[str], list[Any]]:
    """Run the step on the batch's accounts not yet done for the cycle (their rows from `ahead` when it read them):
    (bills, skipped account ids, accounts and bills changed). Reads the cycle, changes nothing on it."""
    cycle = load_cycle(ctx.store, cycle_id)
    touched: list[Any] = []
    bills, skipped = [], []
    todo = [account_id for account_id in batch if not cycle.is_done_for(account_id)]
    accounts = ctx.store.preload(BillingAccount, todo, AccountNotFound, "billing account", ahead)  # one round trip
    prepare = getattr(step, "prepare", None)  # a step that loads what the batch needs besides (from `ahead`: read)
    if prepare is not None:
        prepare(todo, ahead)
    now = ctx.now()
    for account_id in todo:
        account = accounts[account_id]
        bill = step(now, account)
        if bill is None:
            skipped.append(str(account_id))
            continue
        bills.append({"account_id": str(account_id), "bill_id": str(bill.id), "currency": account.currency,
                      "amount_due": str(bill.amount_due)})
        touched += [account, bill]
    changed = getattr(step, "changed", None)  # other aggregates the step changed, saved with the batch
    if changed is not None:
        touched += changed()
    return bills, skipped, touched


def _record_batch_behind(ctx: HandlerContext, cycle_id: UUID, bills: list[dict[str, str]], skipped: list[str],
                         touched: list[Any], shared: bool = False) -> PendingWork:
    """Record the batch on the cycle and save it with the accounts and bills, the insert written behind (`shared`:
    the cycle brought up to date first with what other workers recorded, one query)."""
    cycle = load_cycle(ctx.store, cycle_id)
    if shared:
        project(cycle, ctx.store.histories([cycle_id], {cycle_id: cycle.version})[cycle_id])
    now = ctx.now()
    cycle.accounts_billed(now, bills, skipped)

    def redo(fresh: PartyBillingCycle) -> None:  # other workers recorded their batches on the cycle meanwhile
        fresh.accounts_billed(now, bills, skipped)

    return ctx.store.save_behind(cycle, *touched, rebase=(cycle, redo))
