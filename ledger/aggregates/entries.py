"""Ledger entries as stored in events and aggregate state: charges, credits, adjustments, debits.

Amounts travel in events as decimal strings (exact, schema-friendly). An unbilled entry lives in
account state packed into one string (`pack_entry`; a 10,000-entry snapshot decodes fast) and is
unpacked into a dict with Decimal amounts when read (`unpack_entry`). A tax line is
{"category", "rate", "amount"}; rate is a percentage string.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

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
    paid_by: dict[str, Decimal] | None = None,
) -> dict[str, Any]:
    """An entry waiting for a bill, as bills and rules read it (amounts signed: negative lowers the balance)."""
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
        "paid_by": {} if paid_by is None else paid_by,
    }


SEP = "|"


def pack_entry(kind: str, charge_id: str | None, product_ref: str | None, tax_excluded: str,
               taxes: list[list[str]], tax_included: str, effective_at: str, description: str) -> str:
    """An unbilled entry as one string; amounts are signed decimal strings, charge_id None = the entry's id.

    Usually "kind|charge_id|product_ref|excluded|included|effective_at|description|cat|rate|amount|..." (no quotes
    for JSON to escape); a JSON array when a value holds the separator or an empty string would be ambiguous.
    """
    parts = [kind, charge_id or "", product_ref or "", tax_excluded, tax_included, effective_at, description]
    for line in taxes:
        parts += line
    packed = SEP.join(parts)
    if packed.count(SEP) != len(parts) - 1 or charge_id == "" or product_ref == "":
        return orjson.dumps([kind, charge_id, product_ref, tax_excluded, taxes, tax_included, effective_at,
                             description]).decode()
    return packed


def _fields(packed: str) -> tuple[str, str | None, str | None, str, list[list[str]], str, str, str]:
    if packed[0] == "[":
        kind, charge_id, product_ref, excl, taxes, incl, effective_at, description = orjson.loads(packed)
        return kind, charge_id, product_ref, excl, taxes, incl, effective_at, description
    kind, charge_id, product_ref, excl, incl, effective_at, description, *tax = packed.split(SEP)
    return (kind, charge_id or None, product_ref or None, excl, [tax[i : i + 3] for i in range(0, len(tax), 3)], incl,
            effective_at, description)


def packed_amount(packed: str) -> Decimal:
    """The signed tax-included amount of a packed entry."""
    if packed[0] == "[":
        return Decimal(orjson.loads(packed)[5])
    return Decimal(packed.split(SEP, 5)[4])


def unpack_entry(entry_id: str, packed: str, paid_by: dict[str, Decimal] | None) -> dict[str, Any]:
    """A packed entry as the dict bills and rules read (a fresh dict: changing it changes nothing)."""
    kind, charge_id, product_ref, excl, taxes, incl, effective_at, description = _fields(packed)
    return unbilled_entry(
        entry_id=entry_id, kind=kind, charge_id=entry_id if charge_id is None else charge_id, product_ref=product_ref,
        tax_excluded=Decimal(excl), taxes=[{"category": c, "rate": r, "amount": a} for c, r, a in taxes],
        tax_included=Decimal(incl), effective_at=effective_at, description=description, paid_by=dict(paid_by or {}),
    )


class UnbilledView(Mapping[str, dict[str, Any]]):
    """Read-only dict-like view of an account's unbilled entries (entry id -> unpacked entry)."""

    __slots__ = ("_packed", "_paid")

    def __init__(self, packed: dict[str, str], paid: dict[str, dict[str, Decimal]]) -> None:
        self._packed, self._paid = packed, paid

    def __getitem__(self, entry_id: str) -> dict[str, Any]:
        return unpack_entry(entry_id, self._packed[entry_id], self._paid.get(entry_id))

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._packed

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)


class DecimalView(Mapping[str, Decimal]):
    """Read-only dict-like view of a {key: decimal string} dict, giving Decimals."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Decimal:
        return Decimal(self._values[key])

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def iso(moment: datetime) -> str:
    return moment.isoformat()
