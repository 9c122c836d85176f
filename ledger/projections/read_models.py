"""The pure projector: applies event records to read-model rows held in memory (no I/O).

Each row keeps the version of the last event applied to it, so a redelivered event (at-least-once delivery)
is skipped; bill and payment rows apply deltas, so a missing event is an error rather than a wrong figure.
Account rows take the figures the event carries (`position`), so they are exact by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledger.errors import ReadModelError

Row = dict[str, Any]
ZERO = Decimal(0)


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


class ReadModelBatch:
    """Rows touched by one batch of events: loaded rows in, changed rows and new allocation rows out."""

    def __init__(self, accounts: dict[str, Row], bills: dict[str, Row], payments: dict[str, Row],
                 groups: dict[str, Row] | None = None) -> None:
        self.accounts = accounts
        self.bills = bills
        self.payments = payments
        self.groups = {} if groups is None else groups
        self.rows = {"account_balances": accounts, "bills": bills, "payments": payments,
                     "customer_groups": self.groups}  # by table name
        self.changed: dict[str, set[str]] = {table: set() for table in self.rows}
        self.allocations: list[Row] = []
        self.members: list[Row] = []  # group_members rows written (a later one for the same key replaces it)
        self.applied = self.skipped = 0

    def apply(self, record: dict[str, Any]) -> bool:
        """Apply one event record; False when it was already applied (or is not projected here)."""
        handler = _HANDLERS.get(record["event_type"])
        if handler is None:
            return False
        table, rows = handler[0], self.rows[handler[0]]
        key = str(record["aggregate_id"])
        row = rows.get(key)
        version = int(record["aggregate_version"])
        if row is not None and version <= row["version"]:
            self.skipped += 1
            return False
        if row is None and version != 1 and table in _STRICT:
            raise ReadModelError(f"{record['event_type']} v{version} for {key} arrived before its creation event",
                                 aggregate_id=key, version=version)
        if row is not None and table in _STRICT and version != row["version"] + 1:
            raise ReadModelError(f"{record['event_type']} for {key}: expected version {row['version'] + 1}, got {version}",
                                 aggregate_id=key, version=version)
        new_row = handler[1](self, row, record) or row
        new_row["version"] = version  # type: ignore[index]  # a handler builds the row when there was none
        new_row["last_activity"] = record["recorded_at"]  # type: ignore[index]  # a handler builds the row when there was none
        rows[key] = new_row  # type: ignore[assignment]  # a handler builds the row when there was none
        self.changed[table].add(key)
        self.applied += 1
        return True

    def changed_rows(self, table: str) -> list[Row]:
        return [self.rows[table][key] for key in sorted(self.changed[table])]


# ---------------------------------------------------------------- accounts

def _account_opened(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    row = row or {}
    row.update(billing_account_id=str(r["aggregate_id"]), account_ref=r["account_ref"], customer_id=r["customer_id"],
               currency=r["currency"], rating_type=r["rating_type"])
    return _account_position(batch, row, r)


def _account_position(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    if row is None:  # an account event before its Opened: keep the figures; Opened fills the rest
        row = {"billing_account_id": str(r["aggregate_id"]), "account_ref": None, "customer_id": None,
               "currency": None, "rating_type": None}
    position = r.get("position")
    if position is None:
        raise ReadModelError(f"{r['event_type']} for account {r['aggregate_id']} carries no position",
                             aggregate_id=str(r["aggregate_id"]))
    row.update({k: position[k] for k in ("balance", "unbilled", "unbilled_count", "receivable", "credit_balance",
                                         "prepaid_balance", "status")})
    return row


# ---------------------------------------------------------------- bills

def _bill_issued(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    amount_due = Decimal(r["amount_due"])
    return {
        "bill_id": str(r["aggregate_id"]), "billing_account_id": _id(r["billing_account_id"]),
        "account_ref": r["account_ref"], "bill_number": r["bill_number"], "run_type": r["run_type"],
        "cycle_id": _id(r.get("cycle_id")), "currency": r["currency"], "state": "new",
        "billing_period_start": r.get("billing_period_start"), "billing_period_end": r.get("billing_period_end"),
        "bill_date": r["bill_date"], "payment_due_date": r["payment_due_date"],
        "tax_excluded_amount": r["tax_excluded_amount"], "tax_included_amount": r["tax_included_amount"],
        "amount_due": amount_due, "allocated_amount": ZERO, "remaining_amount": max(amount_due, ZERO),
    }


def _bill_state_changed(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row["state"] = r["to_state"]
    return row


def _bill_paid(sign: int) -> Callable[[ReadModelBatch, Row | None, dict[str, Any]], Row]:
    def apply(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
        assert row is not None
        amount = Decimal(r["amount"]) * sign
        row["remaining_amount"] = Decimal(row["remaining_amount"]) - amount
        row["allocated_amount"] = Decimal(row["allocated_amount"]) + amount
        row["state"] = r["new_state"]
        batch.allocations.append({
            "bill_id": row["bill_id"], "version": int(r["aggregate_version"]), "payment_id": _id(r.get("payment_id")),
            "source": r.get("source", "reversal"), "amount": amount, "recorded_at": r["recorded_at"],
        })
        return row

    return apply


# ---------------------------------------------------------------- payments

def _payment_received(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    return {
        "payment_id": str(r["aggregate_id"]), "billing_account_id": _id(r["billing_account_id"]),
        "account_ref": r["account_ref"], "external_reference": r["external_reference"], "amount": r["amount"],
        "currency": r["currency"], "method": r["method"], "payer_ref": r["payer_ref"],
        "payment_date": r["payment_date"], "allocated_amount": ZERO, "credited_to_balance": ZERO,
        "status": "done", "reversal_reason": None, "reversed_at": None,
    }


def _payment_allocated(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row["allocated_amount"] = Decimal(row["allocated_amount"]) + Decimal(r["amount"])
    return row


def _payment_credited(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row["credited_to_balance"] = Decimal(r["amount"])
    return row


def _payment_reversed(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row.update(status="canceled", reversal_reason=r["reason"], reversed_at=r["recorded_at"])
    return row


# ---------------------------------------------------------------- customer groups

def _group_formed(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    return {"group_id": str(r["aggregate_id"]), "group_ref": r["group_ref"], "name": r["name"], "state": "active",
            "discount_rate": Decimal(r["discount_rate"]), "rate_from": None,
            "bill_presentation_media": r["preferences"].get("bill_presentation_media")}


def _group_updated(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    if r.get("name") is not None:
        row["name"] = r["name"]
    if "bill_presentation_media" in r["preferences"]:
        row["bill_presentation_media"] = r["preferences"]["bill_presentation_media"]
    return row


def _group_rate(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row.update(discount_rate=Decimal(r["discount_rate"]), rate_from=r["effective_date"])
    return row


def _group_member(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    batch.members.append({"group_id": row["group_id"], "group_ref": row["group_ref"], "customer_ref": r["customer_ref"],
                          "from_date": r["from_date"], "until_date": r.get("until_date"),
                          "recorded_at": r["recorded_at"]})
    return row


def _group_deleted(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row["state"] = "deleted"
    return row


_STRICT = ("bills", "payments", "customer_groups")  # rows built from their creation event, every event in order
_ACCOUNT_EVENTS = ("ChargeApplied", "ChargeAdjusted", "BillIssued", "PaymentReceived", "PaymentReversed",
                   "CreditRefunded", "StatusChanged", "TermsChanged")
_HANDLERS: dict[str, tuple[str, Callable[..., Row]]] = {
    "BillingAccount.Opened": ("account_balances", _account_opened),
    **{f"BillingAccount.{name}": ("account_balances", _account_position) for name in _ACCOUNT_EVENTS},
    "CustomerBill.Issued": ("bills", _bill_issued),
    "CustomerBill.StateChanged": ("bills", _bill_state_changed),
    "CustomerBill.PaymentApplied": ("bills", _bill_paid(1)),
    "CustomerBill.PaymentUndone": ("bills", _bill_paid(-1)),
    "CustomerPayment.Received": ("payments", _payment_received),
    "CustomerPayment.Allocated": ("payments", _payment_allocated),
    "CustomerPayment.CreditedToBalance": ("payments", _payment_credited),
    "CustomerPayment.Reversed": ("payments", _payment_reversed),
    "CustomerGroup.Formed": ("customer_groups", _group_formed),
    "CustomerGroup.Updated": ("customer_groups", _group_updated),
    "CustomerGroup.DiscountRateChanged": ("customer_groups", _group_rate),
    "CustomerGroup.MemberAssigned": ("customer_groups", _group_member),
    "CustomerGroup.MemberRemoved": ("customer_groups", _group_member),
    "CustomerGroup.Deleted": ("customer_groups", _group_deleted),
}


def projected_ids(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Which rows a batch of records touches, by table, so they can be loaded in one query each."""
    ids: dict[str, set[str]] = {"account_balances": set(), "bills": set(), "payments": set(), "customer_groups": set()}
    for record in records:
        handler = _HANDLERS.get(record["event_type"])
        if handler:
            ids[handler[0]].add(str(record["aggregate_id"]))
    return ids
