"""An account as it stands now: status, terms, balances, open bills (overdue judged in its time zone), bills.
Amounts at one scale per kind (`ledger/commands/results.py`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from ledger.aggregates import ids
from ledger.aggregates.money import at_minor_unit, at_rated_scale
from ledger.commands.lookups import load_account, load_bill
from ledger.ports import AggregateStore, Clock
from ledger.queries.views import View


class OpenBillLine(View):
    bill_number: str
    bill_date: str
    payment_due_date: str
    remaining: Decimal
    overdue: bool


class BillLine(View):
    bill_number: str
    state: str
    run_type: str
    bill_date: str
    payment_due_date: str
    amount_due: Decimal
    remaining_amount: Decimal
    overdue: bool


class AccountSummary(View):
    """An account's terms, status, balances and open bills (what one load of the account gives)."""

    account_id: str
    customer_id: str
    name: str
    currency: str
    rating_type: str
    cycle_specification: str
    time_zone: str
    payment_terms_days: int | None
    credit_limit: Decimal
    default_payment_method: dict[str, str] | None
    status: str
    status_since: str
    as_of: date
    balance: Decimal
    unbilled: Decimal
    unbilled_entries: int
    unbilled_prepaid: Decimal
    receivable: Decimal
    credit_balance: Decimal
    prepaid_balance: Decimal
    identity_holds: bool
    last_modified: str
    open_bills: list[OpenBillLine]


class AccountView(AccountSummary):
    """The summary with every bill of the account (one load per bill)."""

    bills: list[BillLine]


def account_summary(store: AggregateStore, clock: Clock, account_ref: str) -> AccountSummary:
    """An account's current state and which open bills are overdue (in the account's time zone)."""
    return AccountSummary(**summary_fields(load_account(store, account_ref), clock))


class VersionedStore(AggregateStore, Protocol):
    def version(self, aggregate_id: UUID) -> int | None:
        """The version of the aggregate's last stored event (None: none), as the database holds it now."""
        ...


def account_aggregate_id(account_ref: str) -> UUID:
    """The aggregate id of the account with this reference."""
    return ids.account_id(account_ref)


def account_version(store: VersionedStore, account_ref: str) -> tuple[UUID, int | None]:
    """The account's aggregate id and stored version (None: no such account): one cheap select, no load."""
    aggregate_id = ids.account_id(account_ref)
    return aggregate_id, store.version(aggregate_id)


def account_day(clock: Clock, time_zone: str) -> date:
    """Today in an account's time zone (what its bills are overdue against)."""
    return clock().astimezone(ZoneInfo(time_zone)).date()


def account_view(store: AggregateStore, clock: Clock, account_ref: str) -> AccountView:
    """An account's current state, with its bills and which open bills are overdue (in the account's time zone)."""
    account = load_account(store, account_ref)
    fields = summary_fields(account, clock)
    today, code = fields["as_of"], account.currency
    bills = []
    for number in account.bills:
        bill = load_bill(store, account, number)
        bills.append(BillLine(bill_number=number, state=bill.state, run_type=bill.run_type, bill_date=bill.bill_date,
                              payment_due_date=bill.payment_due_date, amount_due=at_minor_unit(bill.amount_due, code),
                              remaining_amount=at_minor_unit(bill.remaining_amount, code), overdue=bill.is_overdue(today)))
    return AccountView(**fields, bills=bills)


def summary_fields(account: Any, clock: Clock) -> dict[str, Any]:
    """An `AccountSummary`'s fields of a loaded account (its open bills' overdue judged today in its time zone)."""
    today = clock().astimezone(ZoneInfo(account.time_zone)).date()
    code = account.currency
    open_bills = [
        OpenBillLine(bill_number=b["bill_number"], bill_date=b["bill_date"], payment_due_date=b["payment_due_date"],
                     remaining=at_minor_unit(b["remaining"], code), overdue=today > date.fromisoformat(b["payment_due_date"]))
        for b in sorted(account.open_bills.values(), key=lambda b: (b["payment_due_date"], b["bill_number"]))
    ]
    return dict(
        account_id=account.account_ref, customer_id=account.customer_id, name=account.name,
        currency=account.currency, rating_type=account.rating_type,
        cycle_specification=account.cycle_specification, time_zone=account.time_zone,
        payment_terms_days=account.payment_terms_days, credit_limit=at_minor_unit(account.credit_limit, code),
        default_payment_method=account.default_payment_method,
        status=account.status, status_since=account.status_since, as_of=today,
        balance=at_rated_scale(account.balance), unbilled=at_rated_scale(account.unbilled_total),
        unbilled_entries=len(account.unbilled), unbilled_prepaid=at_minor_unit(account.unbilled_prepaid, code),
        receivable=at_minor_unit(account.receivable, code), credit_balance=at_minor_unit(account.credit_balance, code),
        prepaid_balance=at_rated_scale(account.prepaid_balance), identity_holds=account.identity_holds(),
        last_modified=account.last_activity, open_bills=open_bills,
    )
