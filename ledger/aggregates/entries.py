"""Ledger entries as stored in events and aggregate state: charges, credits, adjustments, debits.

Amounts travel in events as decimal strings (exact, schema-friendly) and live in state as
Decimal. A tax line is {"category", "rate", "amount"}; rate is a percentage string.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

CHARGE = "appliedBillingCharge"
PENALTY = "appliedPenaltyCharge"
CREDIT = "appliedBillingCredit"
CHARGE_TYPES = (CHARGE, PENALTY, CREDIT)
ADJUSTMENT = "adjustment"
REVERSAL_DEBIT = "paymentReversalDebit"


@dataclass(frozen=True, slots=True)
class TaxLine:
    category: str
    rate: Decimal
    amount: Decimal

    def as_event(self, sign: int = 1) -> dict[str, str]:
        return {"category": self.category, "rate": str(self.rate), "amount": str(sign * self.amount)}


def sign_of(charge_type: str) -> int:
    """Credits reduce what the customer owes; charges and penalties increase it."""
    return -1 if charge_type == CREDIT else 1


def digest(*parts: Any) -> str:
    """A short stable fingerprint of a command's content, to tell a replay from a conflicting reuse of an id."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def unbilled_entry(
    *,
    entry_id: str,
    kind: str,
    charge_id: str,
    product_ref: str | None,
    tax_excluded: Decimal,
    taxes: list[dict[str, str]],
    tax_included: Decimal,
    effective_at: str,
    description: str = "",
) -> dict[str, Any]:
    """The state kept for an entry until a bill takes it (amounts signed: negative lowers the balance)."""
    return {
        "id": entry_id,
        "kind": kind,
        "charge_id": charge_id,
        "product_ref": product_ref,
        "tax_excluded": tax_excluded,
        "taxes": taxes,
        "tax_included": tax_included,
        "effective_at": effective_at,
        "description": description,
        "paid_by": {},
    }


def iso(moment: datetime) -> str:
    return moment.isoformat()
