"""Compares the read models with a replay of the event store and lists every difference."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.customer_payment import CustomerPayment
from ledger.aggregates.payment_method import PaymentMethod
from ledger.aggregates.product_offering import ProductOffering
from ledger.aggregates.subscription import Subscription
from ledger.contracts.ledger_events import account_position
from ledger.errors import NotFound
from ledger.ports import AggregateStore, NoProgress, Progress
from ledger.projections.database import ReadModelDatabase
from ledger.projections.tables import (
    ACCOUNT_BALANCES,
    BILLS,
    PAYMENT_METHODS,
    PAYMENTS,
    PRODUCT_OFFERINGS,
    SUBSCRIPTIONS,
    Table,
)
from ledger.queries.verify import VerifyReport, all_ids

_CHUNK = 2_000


def _bill_figures(bill: CustomerBill) -> dict[str, Any]:
    return {"state": bill.state, "amount_due": bill.amount_due, "remaining_amount": bill.remaining_amount,
            "allocated_amount": bill.allocated_amount, "version": bill.version}


def _payment_figures(payment: CustomerPayment) -> dict[str, Any]:
    allocated = sum((Decimal(a["amount"]) for a in payment.allocations), Decimal(0))
    return {"amount": payment.amount, "allocated_amount": allocated, "credited_to_balance": payment.to_balance,
            "status": payment.status, "version": payment.version}


def _account_figures(account: BillingAccount) -> dict[str, Any]:
    return {**account_position(account), "customer_id": account.customer_id, "version": account.version}


def _offering_figures(offering: ProductOffering) -> dict[str, Any]:
    return {"offering_ref": offering.offering_ref, "name": offering.name, "prices": len(offering.prices),
            "lifecycle_status": offering.lifecycle_status, "version": offering.version}


def _day_text(value: Any) -> str | None:
    return None if value is None else str(value)[:10]


def _subscription_figures(sub: Subscription) -> dict[str, Any]:
    last = sub.phases[-1]
    return {"account_ref": sub.account_ref, "start_date": sub.start_date, "end_date": sub.end_date,
            "offering_ref": last["offering"], "quantity": last["quantity"], "state": last["state"],
            "version": sub.version}


def _method_figures(method: PaymentMethod) -> dict[str, Any]:
    return {"owner_type": method.owner_type, "owner_ref": method.owner_ref, "method_type": method.method_type,
            "status": method.status, "valid_to": method.valid_to, "version": method.version}


_DAYS = frozenset(("start_date", "end_date", "valid_to"))

_KINDS: list[tuple[str, Table, type, Callable[[Any], dict[str, Any]]]] = [
    ("accounts", ACCOUNT_BALANCES, BillingAccount, _account_figures),
    ("bills", BILLS, CustomerBill, _bill_figures),
    ("payments", PAYMENTS, CustomerPayment, _payment_figures),
    ("offerings", PRODUCT_OFFERINGS, ProductOffering, _offering_figures),
    ("subscriptions", SUBSCRIPTIONS, Subscription, _subscription_figures),
    ("payment_methods", PAYMENT_METHODS, PaymentMethod, _method_figures),
]


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Decimal) or isinstance(actual, Decimal):
        try:
            return Decimal(expected) == Decimal(actual)
        except (TypeError, ArithmeticError):
            return False
    return expected == actual


def verify_read_models(store: AggregateStore, db: ReadModelDatabase, progress: Progress | None = None) -> VerifyReport:
    """Every account, bill and payment in the event store against its read-model row (and no extra rows)."""
    progress = progress or NoProgress()
    ids = all_ids(store)
    differences: list[str] = []
    checked: dict[str, int] = {}
    progress.start(sum(len(ids[kind]) for kind, *_ in _KINDS), "verifying read models")
    for kind, table, cls, figures in _KINDS:
        wanted: list[UUID] = ids[kind]
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            rows = db.load(table, {str(i) for i in chunk})
            for aggregate_id in chunk:
                aggregate = store.load(cls, aggregate_id, NotFound, kind)  # type: ignore[var-annotated]  # the class of this kind
                row = rows.get(str(aggregate_id))
                if row is None:
                    differences.append(f"{table.name} {aggregate_id}: missing from the read model")
                    continue
                for column, expected in figures(aggregate).items():
                    actual = _day_text(row[column]) if column in _DAYS else row[column]
                    if not _same(expected, actual):
                        differences.append(f"{table.name} {aggregate_id}: {column} is {actual}, "
                                           f"the event store says {expected}")
            progress.advance(len(chunk))
        if db.count(table) != len(wanted):
            known = {str(i) for i in wanted}
            extra = [r[table.key[0]] for r in db.all_rows(table) if r[table.key[0]] not in known]
            differences += [f"{table.name} {key}: in the read model but not in the event store" for key in extra]
        checked[kind] = len(wanted)
    checked["groups"] = _verify_groups(store, db, differences)
    progress.finish()
    return VerifyReport(checked=checked, differences=differences)


def _verify_groups(store: AggregateStore, db: ReadModelDatabase, differences: list[str]) -> int:
    """Each customer group's row (name, state, discount rate, version) and its memberships against the event
    store; the groups' billed/paid/outstanding totals are sums over these memberships and the verified bills."""
    from ledger.commands.groups import all_groups
    from ledger.projections.tables import CUSTOMER_GROUPS, GROUP_MEMBERS

    groups = list(all_groups(store))
    rows = {r["group_id"]: r for r in db.all_rows(CUSTOMER_GROUPS)}
    members: dict[str, set[tuple[str, str, str | None]]] = {}
    for m in db.all_rows(GROUP_MEMBERS):
        members.setdefault(m["group_id"], set()).add(
            (m["customer_ref"], str(m["from_date"])[:10], _day_text(m["until_date"])))
    for group in groups:
        key = str(group.id)
        row = rows.pop(key, None)
        if row is None:
            differences.append(f"customer_groups {key}: missing from the read model")
            continue
        expected = {"group_ref": group.group_ref, "name": group.name, "state": group.state,
                    "discount_rate": Decimal(group.rates[-1]["rate"]), "version": group.version}
        for column, value in expected.items():
            if not _same(value, row[column]):
                differences.append(f"customer_groups {key}: {column} is {row[column]}, the event store says {value}")
        want = {(c, f.isoformat(), u.isoformat() if u else None) for c, f, u in group.memberships()}
        if members.pop(key, set()) != want:
            differences.append(f"group_members of {group.group_ref}: the memberships differ from the event store's")
    differences += [f"customer_groups {key}: in the read model but not in the event store" for key in rows]
    differences += [f"group_members {key}: memberships of a group the event store does not have" for key in members]
    return len(groups)
