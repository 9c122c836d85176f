"""Payment plans: the priority in which a payment is applied to a billing account's open bills."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.aggregates.money import ZERO


def oldest_due_first(open_bills: dict[str, dict[str, Any]], amount: Decimal) -> list[dict[str, Any]]:
    """The default plan: open bills by payment due date, then bill date, then bill number; the rest is left over."""
    order = sorted(open_bills.items(), key=lambda kv: (kv[1]["payment_due_date"], kv[1]["bill_date"], kv[1]["bill_number"]))
    allocations, left = [], amount
    for bill_id, bill in order:
        if left <= ZERO:
            break
        take = min(left, bill["remaining"])
        allocations.append({"target": "bill", "id": bill_id, "amount": take})
        left -= take
    return allocations
