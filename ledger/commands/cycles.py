"""The cycle-trigger command: start (or resume) one PartyBillingCycle occurrence and bill its accounts.

The rule lives here: which occurrence, who triggered it, which accounts it covers, and what billing one account
means (`bill_account`, a plain per-account step). How the accounts are billed in batches, overlapping the
database with the work, is the engine's business (`ledger/commands/cycle_run.py`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from decimal import Decimal
from typing import Literal
from uuid import UUID

from eventsourcing.utils import get_topic
from pydantic import Field

from ledger.aggregates import ids
from ledger.aggregates.bill_composition import compose_rows
from ledger.aggregates.billing_account import CLOSED, PREPAID, BillingAccount
from ledger.aggregates.billing_calendar import CycleCalendarError, CycleDates, end_of_day_exclusive, occurrence
from ledger.aggregates.customer_bill import ON_CYCLE, CustomerBill
from ledger.aggregates.money import at_minor_unit
from ledger.aggregates.party_billing_cycle import COMPLETED, PartyBillingCycle, trigger_record
from ledger.commands.base import Command, Id, Text
from ledger.commands.billing import due_date, issue_bill
from ledger.commands.cycle_run import AccountStep, bill_in_batches, load_cycle
from ledger.commands.cycle_workers import require_workers_possible
from ledger.commands.lookups import load_specification
from ledger.commands.recurring import RecurringCharges, RecurringStep
from ledger.commands.results import CycleRunReport
from ledger.commands.time_rules import require_period_over
from ledger.errors import CycleStateError, InvalidInput
from ledger.ports import AggregateStore, HandlerContext

_OPENED_TOPIC = get_topic(BillingAccount.Opened)


class TriggerBillingCycle(Command[CycleRunReport]):
    """Start the occurrence of `specification` whose period starts on `period_start`, recording who triggered it."""

    specification: Id
    period_start: dt.date
    trigger_type: Literal["person", "scheduler", "system"]
    triggered_by: Id
    reason: Text = ""
    send: bool = True
    early_run: bool = Field(default=False, description="bill before the period's cut-offs passed (needs a reason)")
    workers: int | None = Field(default=None, ge=1, le=64,
                                description="processes billing the accounts (default: the cycle_workers setting)")


def opened_on_specification(store: AggregateStore, specification: str) -> list[BillingAccount.Opened]:
    """The opening of every postpaid account on a cycle specification, in opening order (read from the notification
    log): the accounts its cycles bill (prepaid accounts have no bills and need no specification)."""
    return [event for event in store.created([_OPENED_TOPIC])
            if event.cycle_specification == specification and event.rating_type != PREPAID]


def cycle_report(cycle: PartyBillingCycle, already_completed: bool) -> CycleRunReport:
    return CycleRunReport(
        cycle_id=str(cycle.id), specification=cycle.specification, status=cycle.status,
        period_start=cycle.period_start, period_end=cycle.period_end, bill_date=cycle.bill_date,
        triggers=cycle.triggers, accounts_billed=len(cycle.billed), accounts_skipped=len(cycle.skipped),
        totals={code: at_minor_unit(Decimal(total), code) for code, total in cycle.totals.items()},
        already_completed=already_completed,
    )


def bill_in_workers(ctx: HandlerContext, cycle_id: UUID, accounts: list[UUID], send: bool, workers: int) -> None:
    """Bill the accounts in `workers` processes: the context's (bootstrap wires them), else refused."""
    if ctx.cycle_processes is None:
        raise InvalidInput(f"a cycle run with {workers} workers needs worker processes, which this ledger was built "
                           "without (build it with ledger.bootstrap)", workers=workers)
    ctx.cycle_processes(ctx, cycle_id, accounts, send, workers)


def trigger_billing_cycle(ctx: HandlerContext, cmd: TriggerBillingCycle) -> CycleRunReport:
    workers = cmd.workers or ctx.settings.cycle_workers
    require_workers_possible(ctx.settings, workers)
    spec = load_specification(ctx.store, cmd.specification).specification
    try:
        dates = occurrence(spec, cmd.period_start)
    except CycleCalendarError as error:
        raise InvalidInput(str(error), specification=cmd.specification, period_start=cmd.period_start) from None
    trigger = trigger_record(cmd.trigger_type, cmd.triggered_by, cmd.reason, cmd.early_run)
    cycle_id = ids.cycle_id(cmd.specification, cmd.period_start)
    cycle = ctx.store.find(PartyBillingCycle, cycle_id)
    if cycle is not None and cycle.status == COMPLETED:
        return cycle_report(cycle, already_completed=True)
    opened = opened_on_specification(ctx.store, cmd.specification)
    require_period_over(ctx.now(), dates, [event.time_zone for event in opened], cmd.early_run, cmd.reason,
                        cmd.specification)
    if cycle is None:
        cycle = PartyBillingCycle.trigger(
            ctx.now(), id=cycle_id, specification=cmd.specification, specification_values=asdict(spec),
            dates={k: v.isoformat() for k, v in asdict(dates).items()}, trigger=trigger,
        )
    else:
        cycle.resume(ctx.now(), trigger)
    ctx.store.save(cycle)

    todo = [event.originator_id for event in opened if not cycle.is_done_for(event.originator_id)]
    ctx.progress.start(len(todo), f"billing cycle {cmd.specification} {cmd.period_start}")
    if workers > 1:
        bill_in_workers(ctx, cycle_id, todo, cmd.send, workers)
    else:
        recurring = RecurringCharges.for_run(ctx.store, spec, dates)
        bill_in_batches(ctx, cycle_id, todo, on_cycle_step(cycle_id, dates, cmd.send, recurring))
    ctx.progress.finish()
    if workers > 1:
        ctx.store.forget()  # the workers changed the accounts and the cycle: nothing cached here is current
    cycle = load_cycle(ctx.store, cycle_id)
    missing = [account_id for account_id in todo if not cycle.is_done_for(account_id)]
    if missing:  # the cycle completes only once every account to do is on it
        raise CycleStateError(f"billing cycle not complete: {len(missing)} accounts not billed yet "
                              f"(e.g. {missing[0]}); trigger it again", cycle_id=str(cycle_id))
    cycle.complete(ctx.now())
    ctx.store.save(cycle)
    return cycle_report(cycle, already_completed=False)


def on_cycle_step(cycle_id: UUID, dates: CycleDates, send: bool,
                  recurring: RecurringCharges | None = None) -> AccountStep:
    """The per-account step of an on-cycle run: the subscriptions' recurring charges (when there are any), then
    `bill_account` with the occurrence's dates."""

    def step(now: dt.datetime, account: BillingAccount) -> CustomerBill | None:
        return bill_account(now, account, cycle_id, dates, send)

    return step if recurring is None else RecurringStep(recurring, step)


def bill_account(now: dt.datetime, account: BillingAccount, cycle_id: UUID, dates: CycleDates,
                 send: bool) -> CustomerBill | None:
    """Bill one account for the occurrence: the debits effective before the charge cut-off and the credits before
    the credit cut-off (the end of those days in the account's time zone) go on its on-cycle bill. None when there
    is nothing to bill (prepaid accounts have no bills; a closed account had its final bill)."""
    if account.is_prepaid or account.status == CLOSED:
        return None
    rows = account.bill_rows(end_of_day_exclusive(dates.charge_date, account.time_zone),
                             end_of_day_exclusive(dates.credit_date, account.time_zone))  # entries_for_bill's choice
    if not rows:
        return None
    return issue_bill(
        now, account, bill_id=ids.on_cycle_bill_id(account.id, cycle_id), run_type=ON_CYCLE, cycle_id=cycle_id,
        off_cycle_reason=None, entries=rows, period=(dates.period_start, dates.period_end),
        bill_date=dates.bill_date, mailing_date=dates.mailing_date,
        payment_due_date=due_date(account, dates.bill_date, (dates.payment_due_date - dates.bill_date).days), send=send,
        totals=compose_rows(rows, account.currency),
    )
