"""Ledger entries: the kinds (charges, credits, adjustments, debits), tax lines, and `Entry`, an unbilled entry as
rules and bills read it.

Amounts travel in events as decimal strings (exact, schema-friendly); an `Entry` holds them as Decimals, signed
(negative lowers what the customer owes). How an account keeps its entries is `account_storage`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

CHARGE: Final = "appliedBillingCharge"
PENALTY: Final = "appliedPenaltyCharge"
CREDIT: Final = "appliedBillingCredit"
CHARGE_TYPES = (CHARGE, PENALTY, CREDIT)
ADJUSTMENT = "adjustment"
REVERSAL_DEBIT = "paymentReversalDebit"


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One tax on an amount: its category, its rate (a percentage, e.g. 20 or 8.875) and the tax amount."""

    category: str
    rate: Decimal
    amount: Decimal

    def as_event(self, sign: int = 1) -> dict[str, str]:
        return {"category": self.category, "rate": str(self.rate), "amount": str(sign * self.amount)}


@dataclass(frozen=True, slots=True)
class Entry:
    """An unbilled entry of an account: a charge, penalty or credit, an adjustment of a charge, or a debit.

    charge_id: the charge the entry belongs to (a charge's own id on its own entry; the adjusted charge on an
    adjustment; the entry's id on a debit). Amounts are signed. effective_at: ISO 8601. paid_by: what payments
    already paid of it, by payment id (a fresh dict on every read: changing it changes nothing).
    """

    id: str
    kind: str
    charge_id: str
    product_ref: str | None
    tax_excluded: Decimal
    taxes: tuple[TaxLine, ...]
    tax_included: Decimal
    effective_at: str
    description: str
    paid_by: dict[str, Decimal]


def sign_of(charge_type: str) -> int:
    """Credits reduce what the customer owes; charges and penalties increase it."""
    return -1 if charge_type == CREDIT else 1
