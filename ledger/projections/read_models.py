"""The pure projector: applies event records to read-model rows held in memory (no I/O).

Each row keeps the version of the last event applied to it, so a redelivered event (at-least-once delivery)
is skipped; bill and payment rows apply deltas, so a missing event is an error rather than a wrong figure.
Account rows take the figures the event carries (`position`), so they are exact by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
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
                 groups: dict[str, Row] | None = None, **more: dict[str, Row]) -> None:
        self.accounts = accounts
        self.bills = bills
        self.payments = payments
        self.groups = {} if groups is None else groups
        self.rows = {"account_balances": accounts, "bills": bills, "payments": payments,
                     "customer_groups": self.groups}  # by table name
        self.rows.update({table: more.get(table, {}) for table in VERSIONED_TABLES[4:]})
        self.changed: dict[str, set[str]] = {table: set() for table in self.rows}
        self.allocations: list[Row] = []
        self.members: list[Row] = []  # group_members rows written (a later one for the same key replaces it)
        self.prices: list[Row] = []  # offering_prices rows written (the same: the last one holds)
        self.phases: list[Row] = []  # subscription_phases rows written (the same: the last one holds)
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
               currency=r["currency"], rating_type=r["rating_type"], time_zone=r.get("time_zone"))
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


def _account_customer(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    row = _account_position(batch, row, r)
    row["customer_id"] = r["customer_id"]
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


def _bill_states_changed(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row["state"] = r["steps"][-1]["to_state"]
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


# ---------------------------------------------------------------- product offerings and their prices

def _offering_defined(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    return {"offering_id": str(r["aggregate_id"]), "offering_ref": r["offering_ref"], "name": r["name"],
            "lifecycle_status": "Active", "prices": 0, "created_at": r["recorded_at"]}


def _offering_price(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    terms = r["terms"]
    if int(r["version"]) == 1:
        row["prices"] = int(row["prices"]) + 1
    batch.prices.append({"offering_id": row["offering_id"], "offering_ref": row["offering_ref"],
                         "price_id": r["price_id"], "price_type": terms["price_type"], "currency": terms["currency"],
                         "recurring_period": terms.get("recurring_period"), "timing": terms.get("timing"),
                         "versions": int(r["version"]), "recorded_at": r["recorded_at"]})
    return row


def _offering_status(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row["lifecycle_status"] = r["to_status"]
    return row


# ---------------------------------------------------------------- subscriptions

def _phase(batch: ReadModelBatch, row: Row) -> Row:
    batch.phases.append({"subscription_id": row["subscription_id"], "from_date": row["phase_from"],
                         "offering_ref": row["offering_ref"], "quantity": row["quantity"], "state": row["state"]})
    return row


def _subscribed(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    return _phase(batch, {
        "subscription_id": str(r["aggregate_id"]), "subscription_ref": r["subscription_ref"],
        "billing_account_id": _id(r["account_id"]), "account_ref": r["account_ref"], "start_date": r["start_date"],
        "end_date": r.get("end_date"), "offering_ref": r["offering_ref"], "quantity": int(r["quantity"]),
        "state": "active", "phase_from": r["start_date"], "reconciled_until": None, "created_at": r["recorded_at"]})


def _subscription_changed(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row.update(offering_ref=r["offering_ref"], quantity=int(r["quantity"]), phase_from=r["effective_date"])
    return _phase(batch, row)


def _subscription_state(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    effective = r["effective_date"]
    if r["state"] == "terminated":  # its last day served is the day before
        day = effective if isinstance(effective, date) else date.fromisoformat(str(effective))
        row["end_date"] = day - timedelta(days=1)
        return row
    row.update(state=r["state"], phase_from=effective)
    return _phase(batch, row)


def _subscription_charged(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row["reconciled_until"] = r["reconciled_until"]
    return row


def _unchanged(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    return row


# ---------------------------------------------------------------- payment methods

def _method_added(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    return {"method_id": str(r["aggregate_id"]), "method_ref": r["method_ref"], "owner_type": r["owner_type"],
            "owner_ref": r["owner_ref"], "method_type": r["method_type"], "status": "active",
            "valid_to": r.get("valid_to"), "created_at": r["recorded_at"]}


def _method_status(batch: ReadModelBatch, row: Row | None, r: dict[str, Any]) -> Row:
    assert row is not None
    row["status"] = r["status"]
    return row


VERSIONED_TABLES = ("account_balances", "bills", "payments", "customer_groups", "product_offerings",
                    "subscriptions", "payment_methods")
"""The tables whose rows keep the version of the last event applied (one row per aggregate)."""
_STRICT = VERSIONED_TABLES[1:]  # rows built from their creation event, every event in order
_ACCOUNT_EVENTS = ("ChargeApplied", "PlanChargesApplied", "ChargeAdjusted", "BillIssued", "PaymentReceived", "PaymentReversed",
                   "CreditRefunded", "StatusChanged", "TermsChanged")
_HANDLERS: dict[str, tuple[str, Callable[..., Row]]] = {
    "BillingAccount.Opened": ("account_balances", _account_opened),
    **{f"BillingAccount.{name}": ("account_balances", _account_position) for name in _ACCOUNT_EVENTS},
    "BillingAccount.CustomerLinked": ("account_balances", _account_customer),
    "CustomerBill.Issued": ("bills", _bill_issued),
    "CustomerBill.StateChanged": ("bills", _bill_state_changed),
    "CustomerBill.StatesChanged": ("bills", _bill_states_changed),
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
    "ProductOffering.Defined": ("product_offerings", _offering_defined),
    "ProductOffering.PriceVersionAdded": ("product_offerings", _offering_price),
    "ProductOffering.LifecycleStatusChanged": ("product_offerings", _offering_status),
    "Subscription.Subscribed": ("subscriptions", _subscribed),
    "Subscription.Changed": ("subscriptions", _subscription_changed),
    "Subscription.StateChanged": ("subscriptions", _subscription_state),
    "Subscription.Charged": ("subscriptions", _subscription_charged),
    "Subscription.Discounted": ("subscriptions", _unchanged),
    "PaymentMethod.Added": ("payment_methods", _method_added),
    "PaymentMethod.StatusChanged": ("payment_methods", _method_status),
}


def projected_ids(records: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Which rows a batch of records touches, by table, so they can be loaded in one query each."""
    ids: dict[str, set[str]] = {table: set() for table in VERSIONED_TABLES}
    for record in records:
        handler = _HANDLERS.get(record["event_type"])
        if handler:
            ids[handler[0]].add(str(record["aggregate_id"]))
    return ids
