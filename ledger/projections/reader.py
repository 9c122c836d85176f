"""Reads the read models the way a reporting service would: balances with overdue amounts, bills, payments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ledger.projections.database import ReadModelDatabase
from ledger.projections.tables import ACCOUNT_BALANCES, BILLS

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
