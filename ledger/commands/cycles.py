"""The cycle-trigger command: start (or resume) one PartyBillingCycle occurrence and bill its accounts in batches."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from eventsourcing.utils import get_topic

from ledger.aggregates import ids
from ledger.aggregates.billing_account import CLOSED, BillingAccount
from ledger.aggregates.billing_cycle_specification import BillingCycleSpecification
from ledger.aggregates.customer_bill import ON_CYCLE
from ledger.aggregates.party_billing_cycle import COMPLETED, PartyBillingCycle, trigger_record
from ledger.billing_calendar import CycleCalendarError, CycleDates, end_of_day_exclusive, occurrence
from ledger.commands.base import handles, Command, Id, Text
from ledger.commands.billing import due_date, issue_bill
from ledger.errors import AccountNotFound, CycleNotFound, CycleSpecificationNotFound, InvalidInput

_OPENED_TOPIC = get_topic(BillingAccount.Opened)

if TYPE_CHECKING:
    from ledger.service import Ledger
    from ledger.store import ReadAhead


class TriggerBillingCycle(Command):
    """Start the occurrence of `specification` whose period starts on `period_start`, recording who triggered it."""

    specification: Id
    period_start: dt.date
    trigger_type: Literal["person", "scheduler", "system"]
    triggered_by: Id
    reason: Text = ""
    send: bool = True


def accounts_on_specification(ledger: Ledger, specification: str) -> list[UUID]:
    """Every account opened on a cycle specification, in opening order (read from the notification log)."""
    found, start = [], 1
    while True:
        page = ledger.store.notifications(start=start, limit=5_000, topics=[_OPENED_TOPIC])
        for notification in page:
            event = ledger.store.domain_event(notification)
            if event.cycle_specification == specification:
                found.append(event.originator_id)
        if len(page) < 5_000:
            return found
        start = page[-1].id + 1


def cycle_summary(cycle: PartyBillingCycle, **extra: Any) -> dict[str, Any]:
    return {
        "cycle_id": str(cycle.id), "specification": cycle.specification, "status": cycle.status,
        "period_start": cycle.period_start, "period_end": cycle.period_end, "bill_date": cycle.bill_date,
        "triggers": cycle.triggers, "accounts_billed": len(cycle.billed), "accounts_skipped": len(cycle.skipped),
        "totals": cycle.totals, **extra,
    }


@handles(TriggerBillingCycle)
def trigger_billing_cycle(ledger: Ledger, cmd: TriggerBillingCycle) -> dict[str, Any]:
    spec_agg = ledger.store.load(BillingCycleSpecification, ids.cycle_spec_id(cmd.specification),
                                 CycleSpecificationNotFound, f"billing cycle specification {cmd.specification!r}")
    spec = spec_agg.specification
    try:
        dates = occurrence(spec, cmd.period_start)
    except CycleCalendarError as error:
        raise InvalidInput(str(error), specification=cmd.specification, period_start=cmd.period_start) from None
    trigger = trigger_record(cmd.trigger_type, cmd.triggered_by, cmd.reason)
    cycle_id = ids.cycle_id(cmd.specification, cmd.period_start)
    cycle = ledger.store.find(PartyBillingCycle, cycle_id)
    if cycle is not None and cycle.status == COMPLETED:
        return cycle_summary(cycle, already_completed=True)
    if cycle is None:
        cycle = PartyBillingCycle.trigger(
            ledger.now(), id=cycle_id, specification=cmd.specification, specification_values=asdict(spec),
            dates={k: v.isoformat() for k, v in asdict(dates).items()}, trigger=trigger,
        )
    else:
        cycle.resume(ledger.now(), trigger)
    ledger.store.save(cycle)

    todo = [a for a in accounts_on_specification(ledger, cmd.specification) if not cycle.is_done_for(a)]
    ledger.progress.start(len(todo), f"billing cycle {cmd.specification} {cmd.period_start}")
    size = ledger.settings.batch_size
    batches = [todo[i : i + size] for i in range(0, len(todo), size)]
    upcoming = ledger.store.read_ahead(batches[0]) if batches else None
    for k, batch in enumerate(batches):
        # the next batch's accounts are read while this one is billed (other accounts: nothing here changes them)
        ahead, upcoming = upcoming, ledger.store.read_ahead(batches[k + 1]) if k + 1 < len(batches) else None
        ledger.store.retrying(lambda: _bill_batch(ledger, cycle_id, dates, batch, cmd.send, ahead),
                              ledger.settings.retries)
        ledger.progress.advance(len(batch))
    ledger.progress.finish()
    cycle = ledger.store.load(PartyBillingCycle, cycle_id, CycleNotFound, "billing cycle")
    cycle.complete(ledger.now())
    ledger.store.save(cycle)
    return cycle_summary(cycle, already_completed=False)


def _bill_batch(ledger: Ledger, cycle_id: UUID, dates: CycleDates, batch: list[UUID], send: bool,
                ahead: ReadAhead | None = None) -> None:
    """Bill one batch of accounts and record them on the cycle, all in one transaction (the accounts' rows from
    `ahead` when it read them)."""
    cycle = ledger.store.load(PartyBillingCycle, cycle_id, CycleNotFound, "billing cycle")
    touched: list[Any] = []
    bills, skipped = [], []
    todo = [account_id for account_id in batch if not cycle.is_done_for(account_id)]
    accounts = ledger.store.preload(BillingAccount, todo, AccountNotFound, "billing account", ahead)  # one round trip
    for account_id in todo:
        account = accounts[account_id]
        entries = [] if account.is_prepaid or account.status == CLOSED else account.entries_for_bill(
            end_of_day_exclusive(dates.charge_date, account.time_zone),
            end_of_day_exclusive(dates.credit_date, account.time_zone),
        )
        if not entries:
            skipped.append(str(account_id))
            continue
        bill = issue_bill(
            ledger, account, bill_id=ids.on_cycle_bill_id(account_id, cycle_id), run_type=ON_CYCLE, cycle_id=cycle_id,
            off_cycle_reason=None, entries=entries, period=(dates.period_start, dates.period_end),
            bill_date=dates.bill_date, mailing_date=dates.mailing_date,
            payment_due_date=due_date(account, dates.bill_date, (dates.payment_due_date - dates.bill_date).days), send=send,
        )
        bills.append({"account_id": str(account_id), "bill_id": str(bill.id), "currency": account.currency,
                      "amount_due": str(bill.amount_due)})
        touched += [account, bill]
    cycle.accounts_billed(ledger.now(), bills, skipped)
    ledger.store.save(cycle, *touched)

