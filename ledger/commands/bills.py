"""Commands on bills: off-cycle bills (customer request), account close with its final bill, bill state changes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import OFF_CYCLE, CustomerBill
from ledger.commands.base import Command, Id, Instant, Text
from ledger.commands.billing import due_date, issue_bill
from ledger.commands.lookups import load_account, load_bill, load_specification
from ledger.commands.results import AccountStatusChanged, BillSummary, OffCycleBillIssued
from ledger.errors import AccountStateError, RuleViolation
from ledger.ports import HandlerContext


def _spec_due_offset(ctx: HandlerContext, account: BillingAccount) -> int:
    return load_specification(ctx.store, account.cycle_specification).specification.payment_due_date_offset


def _off_cycle(ctx: HandlerContext, account: BillingAccount, request_id: str, reason: str, up_to: datetime | None,
               send: bool) -> CustomerBill | None:
    entries = account.entries_for_bill(up_to, up_to)
    if not entries:
        return None
    now = ctx.now()
    bill_date = now.astimezone(ZoneInfo(account.time_zone)).date()
    return issue_bill(
        now, account, bill_id=ids.off_cycle_bill_id(account.id, request_id), run_type=OFF_CYCLE, cycle_id=None,
        off_cycle_reason=reason, entries=entries, period=None, bill_date=bill_date, mailing_date=bill_date,
        payment_due_date=due_date(account, bill_date, _spec_due_offset(ctx, account)), send=send,
    )


class IssueOffCycleBill(Command[OffCycleBillIssued]):
    """An OffCyclePartyBill on customer request: bills the unbilled entries effective before `up_to` (default: all)."""

    account_id: Id
    request_id: Id
    up_to: Instant | None = None
    send: bool = True


def issue_off_cycle_bill(ctx: HandlerContext, cmd: IssueOffCycleBill) -> OffCycleBillIssued:
    account = load_account(ctx.store, cmd.account_id)
    bill_id = ids.off_cycle_bill_id(account.id, cmd.request_id)
    existing = ctx.store.find(CustomerBill, bill_id)
    if existing is not None:
        return OffCycleBillIssued(**BillSummary.of(existing).model_dump(), created=False)
    if account.status == "closed":
        raise AccountStateError(f"account {cmd.account_id} is closed", account=cmd.account_id)
    bill = _off_cycle(ctx, account, cmd.request_id, "customerRequest", cmd.up_to, cmd.send)
    if bill is None:
        raise RuleViolation(f"account {cmd.account_id} has nothing unbilled to put on a bill", account=cmd.account_id)
    ctx.store.save(account, bill)
    return OffCycleBillIssued(**BillSummary.of(bill).model_dump(), created=True)


class CloseAccount(Command[AccountStatusChanged]):
    """Close an account; a postpaid account's unbilled entries go on an off-cycle final bill."""

    account_id: Id
    reason: Text = ""


def close_account(ctx: HandlerContext, cmd: CloseAccount) -> AccountStatusChanged:
    account = load_account(ctx.store, cmd.account_id)
    bill = None if account.is_prepaid else _off_cycle(ctx, account, "final", "accountClose", None, True)
    account.close(ctx.now(), cmd.reason, bill.id if bill else None)
    ctx.store.save(account, *([bill] if bill else []))
    return AccountStatusChanged(account_id=cmd.account_id, status=account.status,
                                final_bill=BillSummary.of(bill) if bill else None)


class ChangeBillState(Command[BillSummary]):
    """Move a bill through its TMF678 life cycle: validate, hold, release (back to new), send."""

    account_id: Id
    bill_number: Id
    action: Literal["validate", "hold", "release", "send"]
    reason: Text = ""


def change_bill_state(ctx: HandlerContext, cmd: ChangeBillState) -> BillSummary:
    account = load_account(ctx.store, cmd.account_id)
    bill = load_bill(ctx.store, account, cmd.bill_number)
    action = {"validate": bill.validate, "hold": bill.put_on_hold, "release": bill.release, "send": bill.send}[cmd.action]
    action(ctx.now(), cmd.reason)
    ctx.store.save(bill)
    return BillSummary.of(bill)

