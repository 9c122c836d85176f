"""The cycle-trigger command: start (or resume) one PartyBillingCycle occurrence and bill its accounts in batches."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from ledger.aggregates import ids
from ledger.aggregates.billing_account import CLOSED, BillingAccount
from ledger.aggregates.billing_cycle_specification import BillingCycleSpecification
from ledger.aggregates.customer_bill import ON_CYCLE
from ledger.aggregates.party_billing_cycle import COMPLETED, PartyBillingCycle, trigger_record
from ledger.aggregates.billing_calendar import CycleCalendarError, CycleDates, end_of_day_exclusive, occurrence
from ledger.commands.base import handles, Command, Id, Text
from ledger.commands.billing import due_date, issue_bill
from ledger.errors import AccountNotFound, CycleNotFound, CycleSpecificationNotFound, InvalidInput

_OPENED_TOPIC = get_topic(BillingAccount.Opened)

if TYPE_CHECKING:
    from ledger.service import Ledger
    from ledger.eventstore.overlap import PendingSave, ReadAhead


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
    _bill_batches(ledger, cycle_id, dates, [todo[i : i + size] for i in range(0, len(todo), size)], cmd.send)
    ledger.progress.finish()
    cycle = ledger.store.load(PartyBillingCycle, cycle_id, CycleNotFound, "billing cycle")
    cycle.complete(ledger.now())
    ledger.store.save(cycle)
    return cycle_summary(cycle, already_completed=False)


def _bill_batches(ledger: Ledger, cycle_id: UUID, dates: CycleDates, batches: list[list[UUID]], send: bool) -> None:
    """Bill the batches in order, each in one transaction, overlapping the database with the billing: the next
    batch's accounts are read while one is billed, and a batch's events are inserted while the next one is billed
    (other accounts; the cycle is changed only once the insert before is done). A version conflict (someone else
    changed an account) drops what is in memory and bills the batches concerned again, one at a time; any other
    failure ends the run once the insert in flight is over (a new trigger resumes it)."""
    store = ledger.store
    upcoming = store.read_ahead(batches[0]) if batches else None
    pending: tuple[list[UUID], PendingSave] | None = None
    for k, batch in enumerate(batches):
        ahead, upcoming = upcoming, store.read_ahead(batches[k + 1]) if k + 1 < len(batches) else None
        try:
            bills, skipped, touched = _bill_accounts(ledger, cycle_id, dates, batch, send, ahead)
            if pending is not None:
                pending[1].wait()
                ledger.progress.advance(len(pending[0]))
                pending = None
            pending = (batch, _record_batch(ledger, cycle_id, bills, skipped, touched, behind=True))
        except IntegrityError:  # the insert in flight met a version conflict: neither batch is stored
            _bill_again(ledger, cycle_id, dates, [pending[0], batch] if pending is not None else [batch], send)
            pending = None
        except BaseException:
            if pending is not None:
                _settle(pending[1])
            raise
    if pending is not None:
        try:
            pending[1].wait()
            ledger.progress.advance(len(pending[0]))
        except IntegrityError:
            _bill_again(ledger, cycle_id, dates, [pending[0]], send)


def _bill_again(ledger: Ledger, cycle_id: UUID, dates: CycleDates, batches: list[list[UUID]], send: bool) -> None:
    """After a version conflict: forget what is in memory and bill the batches one at a time, as plain retried
    commands (accounts the cycle already has are skipped)."""
    ledger.store.forget()
    for batch in batches:
        ledger.store.retrying(lambda: _bill_batch(ledger, cycle_id, dates, batch, send), ledger.settings.retries)
        ledger.progress.advance(len(batch))


def _settle(pending: PendingSave) -> None:
    """Let a save in flight end before giving up; its own failure is not the one to report."""
    try:
        pending.wait()
    except Exception:  # noqa: BLE001
        pass


def _bill_batch(ledger: Ledger, cycle_id: UUID, dates: CycleDates, batch: list[UUID], send: bool,
                ahead: ReadAhead | None = None) -> None:
    """Bill one batch of accounts and record them on the cycle, all in one transaction."""
    bills, skipped, touched = _bill_accounts(ledger, cycle_id, dates, batch, send, ahead)
    _record_batch(ledger, cycle_id, bills, skipped, touched, behind=False)


def _bill_accounts(ledger: Ledger, cycle_id: UUID, dates: CycleDates, batch: list[UUID], send: bool,
                   ahead: ReadAhead | None) -> tuple[list[dict[str, str]], list[str], list[Any]]:
    """Issue the bills of a batch's accounts not yet done for the cycle (their rows from `ahead` when it read them):
    (bills, skipped account ids, accounts and bills changed). Reads the cycle, changes nothing on it."""
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
    return bills, skipped, touched


def _record_batch(ledger: Ledger, cycle_id: UUID, bills: list[dict[str, str]], skipped: list[str],
                  touched: list[Any], behind: bool) -> PendingSave | None:
    """Record the batch on the cycle and save it with the accounts and bills: now, or behind (returns the pending
    save)."""
    cycle = ledger.store.load(PartyBillingCycle, cycle_id, CycleNotFound, "billing cycle")
    cycle.accounts_billed(ledger.now(), bills, skipped)
    if behind:
        return ledger.store.save_behind(cycle, *touched)
    ledger.store.save(cycle, *touched)
    return None
