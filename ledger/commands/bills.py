"""Commands on bills: off-cycle bills (customer request), account close with its final bill, bill state changes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.billing_cycle_specification import BillingCycleSpecification
from ledger.aggregates.customer_bill import OFF_CYCLE, CustomerBill
from ledger.commands.accounts import load_account
from ledger.commands.base import handles, Command, Id, Instant, Text
from ledger.commands.billing import due_date, issue_bill
from ledger.errors import AccountStateError, BillNotFound, CycleSpecificationNotFound, RuleViolation

if TYPE_CHECKING:
    from ledger.service import Ledger


def _spec_due_offset(ledger: Ledger, account: BillingAccount) -> int:
    spec = ledger.store.load(BillingCycleSpecification, ids.cycle_spec_id(account.cycle_specification),
                             CycleSpecificationNotFound, f"cycle specification {account.cycle_specification!r}")
    return spec.specification.payment_due_date_offset


def _off_cycle(ledger: Ledger, account: BillingAccount, request_id: str, reason: str, up_to: datetime | None,
               send: bool) -> CustomerBill | None:
    entries = account.entries_for_bill(up_to, up_to)
    if not entries:
        return None
    bill_date = ledger.now().astimezone(ZoneInfo(account.time_zone)).date()
    return issue_bill(
        ledger, account, bill_id=ids.off_cycle_bill_id(account.id, request_id), run_type=OFF_CYCLE, cycle_id=None,
        off_cycle_reason=reason, entries=entries, period=None, bill_date=bill_date, mailing_date=bill_date,
        payment_due_date=due_date(account, bill_date, _spec_due_offset(ledger, account)), send=send,
    )


class IssueOffCycleBill(Command):
    """An OffCyclePartyBill on customer request: bills the unbilled entries effective before `up_to` (default: all)."""

    account_id: Id
    request_id: Id
    up_to: Instant | None = None
    send: bool = True


@handles(IssueOffCycleBill)
def issue_off_cycle_bill(ledger: Ledger, cmd: IssueOffCycleBill) -> dict[str, Any]:
    account = load_account(ledger, cmd.account_id)
    bill_id = ids.off_cycle_bill_id(account.id, cmd.request_id)
    existing = ledger.store.find(CustomerBill, bill_id)
    if existing is not None:
        return {**existing.summary(), "created": False}
    if account.status == "closed":
        raise AccountStateError(f"account {cmd.account_id} is closed", account=cmd.account_id)
    bill = _off_cycle(ledger, account, cmd.request_id, "customerRequest", cmd.up_to, cmd.send)
    if bill is None:
        raise RuleViolation(f"account {cmd.account_id} has nothing unbilled to put on a bill", account=cmd.account_id)
    ledger.store.save(account, bill)
    return {**bill.summary(), "created": True}


class CloseAccount(Command):
    """Close an account; a postpaid account's unbilled entries go on an off-cycle final bill."""

    account_id: Id
    reason: Text = ""


@handles(CloseAccount)
def close_account(ledger: Ledger, cmd: CloseAccount) -> dict[str, Any]:
    account = load_account(ledger, cmd.account_id)
    bill = None if account.is_prepaid else _off_cycle(ledger, account, "final", "accountClose", None, True)
    account.close(ledger.now(), cmd.reason, bill.id if bill else None)
    ledger.store.save(account, bill)
    result = {"account_id": cmd.account_id, "status": account.status}
    return {**result, "final_bill": bill.summary()} if bill else result


class ChangeBillState(Command):
    """Move a bill through its TMF678 life cycle: validate, hold, release (back to new), send."""

    account_id: Id
    bill_number: Id
    action: Literal["validate", "hold", "release", "send"]
    reason: Text = ""


def load_bill(ledger: Ledger, account: BillingAccount, bill_number: str) -> CustomerBill:
    bill_id = account.bills.get(bill_number)
    if bill_id is None:
        raise BillNotFound(f"account {account.account_ref} has no bill {bill_number!r}", bill=bill_number)
    return ledger.store.load(CustomerBill, ids.UUID(bill_id), BillNotFound, f"bill {bill_number}")


@handles(ChangeBillState)
def change_bill_state(ledger: Ledger, cmd: ChangeBillState) -> dict[str, Any]:
    account = load_account(ledger, cmd.account_id)
    bill = load_bill(ledger, account, cmd.bill_number)
    action = {"validate": bill.validate, "hold": bill.put_on_hold, "release": bill.release, "send": bill.send}[cmd.action]
    action(ledger.now(), cmd.reason)
    ledger.store.save(bill)
    return bill.summary()

