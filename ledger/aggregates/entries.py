"""Ledger entries as stored in events and aggregate state: charges, credits, adjustments, debits.

Amounts travel in events as decimal strings (exact, schema-friendly). An unbilled entry lives in
account state packed into one string (`pack_entry`; a 10,000-entry snapshot decodes fast) and is
unpacked into a dict with Decimal amounts when read (`unpack_entry`). A charge's own entry also packs the
charge's idempotency fingerprint, so an unbilled, unadjusted charge needs nothing else in the state
(`charge_of_entry`). A tax line is {"category", "rate", "amount"}; rate is a percentage string.
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


_DIGEST_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def digest(*parts: Any) -> str:
    """A short stable fingerprint of a command's content, to tell a replay from a conflicting reuse of an id.

    Stored fingerprints are compared with new ones, so the text hashed never changes: the compact, key-sorted,
    ASCII-escaped `json.dumps(parts, default=str)`. orjson writes the very same bytes for ASCII text, ints, None,
    lists and str-keyed dicts (Decimals and datetimes go through `str` in both), and is used when its output is
    printable ASCII; anything else (non-ASCII text or DEL, which json.dumps escapes, non-str keys) takes json.dumps.
    """
    try:
        text = orjson.dumps(parts, default=str, option=_DIGEST_OPTIONS)
    except orjson.JSONEncodeError:
        text = b"\x80"  # not ASCII: take the json.dumps path
    if not text.isascii() or b"\x7f" in text:  # json.dumps escapes DEL too
        text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(text).hexdigest()[:16]


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
KIND_CODES = {CHARGE: "c", PENALTY: "p", CREDIT: "r", ADJUSTMENT: "a", REVERSAL_DEBIT: "d"}  # packed: one letter
KINDS = {code: kind for kind, code in KIND_CODES.items()}


def pack_entry(kind: str, charge_id: str | None, product_ref: str | None, tax_excluded: str,
               taxes: list[list[str]], tax_included: str, effective_at: str, description: str,
               fingerprint: str | None = None) -> str:
    """An unbilled entry as one string; amounts are signed decimal strings, charge_id None = the entry's id,
    fingerprint: the charge's idempotency fingerprint on a charge's own entry (None on other entries).

    Usually "kind|charge_id|product_ref|excluded|included|effective_at|description|fingerprint|cat|rate|amount|..."
    (no quotes for JSON to escape; the kind as its one-letter code); a JSON array when a value holds the separator or
    an empty string would be ambiguous.
    """
    kind = KIND_CODES.get(kind, kind)
    parts = [kind, charge_id or "", product_ref or "", tax_excluded, tax_included, effective_at, description,
             fingerprint or ""]
    for line in taxes:
        parts += line
    packed = SEP.join(parts)
    if packed.count(SEP) != len(parts) - 1 or charge_id == "" or product_ref == "" or fingerprint == "":
        return orjson.dumps([kind, charge_id, product_ref, tax_excluded, taxes, tax_included, effective_at,
                             description, fingerprint]).decode()
    return packed


def packed_amount(packed: str) -> Decimal:
    """The signed tax-included amount of a packed entry."""
    if packed[0] == "[":
        return Decimal(orjson.loads(packed)[5])
    return Decimal(packed.split(SEP, 5)[4])


def charge_of_entry(packed: str) -> tuple[str, str] | None:
    """(fingerprint, signed tax-included amount) of a charge's own packed entry; None for any other entry."""
    if packed[0] == "[":
        values = orjson.loads(packed)
        fingerprint, included = values[8], values[5]
    else:
        parts = packed.split(SEP, 8)
        fingerprint, included = parts[7], parts[4]
    return (fingerprint, included) if fingerprint else None


def pack_entry_v2(kind: str, charge_id: str | None, product_ref: str | None, tax_excluded: str,
                  taxes: list[list[str]], tax_included: str, effective_at: str, description: str) -> str:
    """An entry packed in the version-2 layout (full kind names, no fingerprint slot), as the version-1 upcast
    produces it."""
    parts = [kind, charge_id or "", product_ref or "", tax_excluded, tax_included, effective_at, description]
    for line in taxes:
        parts += line
    packed = SEP.join(parts)
    if packed.count(SEP) != len(parts) - 1 or charge_id == "" or product_ref == "":
        return orjson.dumps([kind, charge_id, product_ref, tax_excluded, taxes, tax_included, effective_at,
                             description]).decode()
    return packed


def upcast_packed_v2(entry_id: str, packed: str, fingerprints: dict[str, str]) -> str:
    """A version-2 packed entry (full kind name, no fingerprint slot) in the current layout; a charge's own entry (a charge type,
    no charge id of its own) gets the charge's fingerprint from `fingerprints` (charge id -> fingerprint)."""
    if packed[0] == "[":
        kind, charge_id, product_ref, excl, taxes, incl, effective_at, description = orjson.loads(packed)
    else:
        kind, charge_id, product_ref, excl, incl, effective_at, description, *tax = packed.split(SEP)
        charge_id, product_ref = charge_id or None, product_ref or None
        taxes = [tax[i : i + 3] for i in range(0, len(tax), 3)]
    fingerprint = fingerprints.get(entry_id) if kind in CHARGE_TYPES and charge_id is None else None
    return pack_entry(kind, charge_id, product_ref, excl, taxes, incl, effective_at, description, fingerprint)


def unpack_entry(entry_id: str, packed: str, paid_by: dict[str, Decimal] | None) -> dict[str, Any]:
    """A packed entry as the dict bills and rules read (a fresh dict: changing it changes nothing); see unbilled_entry."""
    if packed[0] == "[":
        kind, charge_id, product_ref, excl, lines, incl, effective_at, description, _ = orjson.loads(packed)
        taxes = [{"category": c, "rate": r, "amount": a} for c, r, a in lines]
    else:
        kind, charge_id, product_ref, excl, incl, effective_at, description, _, *tax = packed.split(SEP)
        charge_id, product_ref = charge_id or None, product_ref or None
        if len(tax) == 3:  # most entries: one tax line
            taxes = [{"category": tax[0], "rate": tax[1], "amount": tax[2]}]
        else:
            taxes = [{"category": tax[i], "rate": tax[i + 1], "amount": tax[i + 2]} for i in range(0, len(tax), 3)]
    return {
        "id": entry_id, "kind": KINDS.get(kind, kind), "charge_id": entry_id if charge_id is None else charge_id,
        "product_ref": product_ref, "tax_excluded": Decimal(excl), "taxes": taxes, "tax_included": Decimal(incl),
        "effective_at": effective_at, "description": description, "paid_by": dict(paid_by) if paid_by else {},
    }


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


class ChargeNetView(Mapping[str, Decimal]):
    """Read-only dict-like view of every charge's signed net amount (charge id -> Decimal): the account's
    `charges` records ("fingerprint|net"), else the amount of the charge's own unbilled entry."""

    __slots__ = ("_records", "_entries")

    def __init__(self, records: dict[str, str], entries: dict[str, str]) -> None:
        self._records, self._entries = records, entries

    def _own(self) -> Iterator[str]:
        return (k for k, packed in self._entries.items() if k not in self._records and charge_of_entry(packed))

    def __getitem__(self, charge_id: str) -> Decimal:
        record = self._records.get(charge_id)
        if record is not None:
            return Decimal(record.partition(SEP)[2])
        own = charge_of_entry(self._entries[charge_id])
        if own is None:
            raise KeyError(charge_id)
        return Decimal(own[1])

    def __contains__(self, charge_id: object) -> bool:
        if charge_id in self._records:
            return True
        packed = self._entries.get(charge_id)  # type: ignore[call-overload]
        return packed is not None and charge_of_entry(packed) is not None

    def __iter__(self) -> Iterator[str]:
        yield from self._records
        yield from self._own()

    def __len__(self) -> int:
        return len(self._records) + sum(1 for _ in self._own())


def iso(moment: datetime) -> str:
    return moment.isoformat()
