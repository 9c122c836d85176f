"""Turning command-line options into command input: only the options given, and colon-separated values split."""

from __future__ import annotations

import argparse
from typing import Any

from ledger.errors import InvalidInput

CHARGE_TYPE_ALIASES = {"charge": "appliedBillingCharge", "penalty": "appliedPenaltyCharge", "credit": "appliedBillingCredit"}


def given(args: argparse.Namespace, **fields: str) -> dict[str, Any]:
    """Command input from the options the user actually gave ({model field: namespace attribute})."""
    return {field: getattr(args, attr) for field, attr in fields.items() if getattr(args, attr, None) is not None}


def split_spec(text: str, parts: int, option: str, example: str) -> list[str]:
    """Split a colon-separated option value into `parts` pieces (the middle piece may itself hold colons)."""
    head, sep, rest = text.partition(":")
    if parts == 2:
        pieces = [head, rest] if sep else []
    else:
        middle, sep2, last = rest.rpartition(":")
        pieces = [head, middle, last] if sep and sep2 else []
    if len(pieces) != parts or any(not p.strip() for p in pieces):
        raise InvalidInput(f"{option} expects {example}, got {text!r}", option=option, value=text)
    return [p.strip() for p in pieces]


def taxes(values: list[str] | None, option: str = "--tax") -> list[dict[str, str]]:
    out = []
    for value in values or []:
        category, rate, amount = split_spec(value, 3, option, "CATEGORY:RATE:AMOUNT, e.g. VAT:20:2.0008")
        out.append({"tax_category": category, "tax_rate": rate, "tax_amount": amount})
    return out


def allocations(values: list[str] | None) -> list[dict[str, str]] | None:
    if not values:
        return None
    out = []
    for value in values:
        target, target_id, amount = split_spec(value, 3, "--allocate", "bill:NUMBER:AMOUNT or charge:CHARGE_ID:AMOUNT")
        out.append({"target": target, "id": target_id, "amount": amount})
    return out
