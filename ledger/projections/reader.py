"""Reads the read models the way a reporting service would: balances with overdue amounts, bills, payments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ledger.projections.database import ReadModelDatabase
from ledger.projections.tables import ACCOUNT_BALANCES, BILLS, CUSTOMER_GROUPS, GROUP_BILLS_SELECT

Row = dict[str, Any]


def _due(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def account_overview(db: ReadModelDatabase, account_ref: str | None = None, today: date | None = None) -> list[Row]:
    """Each account's row plus overdue_amount and open_bills (the `account_overview` view, on either database)."""
    today = today or datetime.now(UTC).date()
    accounts = [r for r in db.all_rows(ACCOUNT_BALANCES) if account_ref is None or r["account_ref"] == account_ref]
    bills_by_account: dict[str, list[Row]] = {}
    for bill in db.all_rows(BILLS):
        bills_by_account.setdefault(bill["billing_account_id"], []).append(bill)
    for row in accounts:
        open_bills = [b for b in bills_by_account.get(row["billing_account_id"], []) if b["remaining_amount"] > 0]
        row["open_bills"] = len(open_bills)
        row["overdue_amount"] = sum((Decimal(b["remaining_amount"]) for b in open_bills
                                     if _due(b["payment_due_date"]) < today), Decimal(0))
    return accounts


def group_totals(db: ReadModelDatabase, group_ref: str | None = None) -> list[Row]:
    """Billed, paid and outstanding per group and currency (the `group_totals` view on PostgreSQL; summed exactly
    here on SQLite, which keeps money as text), with every group that has no bill yet as a row of zeros (currency
    None). A bill counts for the group its account's customer was a member of on the bill date."""
    if db.dialect == "postgres":
        found = db.select("SELECT group_ref, name, currency, bills, billed, paid, outstanding FROM group_totals")
    else:
        sums: dict[tuple[str, str, str], Row] = {}
        for bill in db.select(GROUP_BILLS_SELECT):
            row = sums.setdefault((bill["group_ref"], bill["name"], bill["currency"]), {
                "group_ref": bill["group_ref"], "name": bill["name"], "currency": bill["currency"], "bills": 0,
                "billed": Decimal(0), "paid": Decimal(0), "outstanding": Decimal(0)})
            row["bills"] += 1
            row["billed"] += Decimal(bill["amount_due"])
            row["paid"] += Decimal(bill["allocated_amount"])
            row["outstanding"] += Decimal(bill["remaining_amount"])
        found = list(sums.values())
    billed = {r["group_ref"] for r in found}
    found += [{"group_ref": g["group_ref"], "name": g["name"], "currency": None, "bills": 0, "billed": Decimal(0),
               "paid": Decimal(0), "outstanding": Decimal(0)}
              for g in db.all_rows(CUSTOMER_GROUPS) if g["group_ref"] not in billed and g["state"] != "deleted"]
    return sorted((r for r in found if group_ref is None or r["group_ref"] == group_ref),
                  key=lambda r: (r["group_ref"], r["currency"] or ""))
