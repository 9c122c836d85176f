"""Turning command-line options into command input: only the options given, and colon-separated values split."""

from __future__ import annotations

import argparse
from typing import Any

from ledger.errors import InvalidInput

CHARGE_TYPE_ALIASES = {"charge": "appliedBillingCharge", "penalty": "appliedPenaltyCharge", "credit": "appliedBillingCredit"}


def given(args: argparse.Namespace, **fields: str) -> dict[str, Any]:
    """Command input from the options the user actually gave ({model field: namespace attribute}); the mapping is
    remembered to name the options in an invalid-input error (`flag_message`)."""
    name_flags(args, **fields)
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


def name_flags(args: argparse.Namespace, **fields: str) -> None:
    """Record which option gives which model field ({model field: namespace attribute}), so an invalid-input error
    can name the option (`given` records its own)."""
    args.__dict__.setdefault("_fields", {}).update(fields)


def flag_message(error: InvalidInput, args: argparse.Namespace) -> InvalidInput:
    """The error with each bad field named by the command-line option that gave it (--amount, not
    tax_excluded_amount); unchanged when it has no field locations or the options are unknown."""
    fields, options = args.__dict__.get("_fields", {}), args.__dict__.get("cli_options", {})
    if not error.problems or not options:
        return error
    parts = []
    for loc, found in error.problems:
        message = found.removeprefix("Value error, ")
        head, rest = (str(loc[0]), loc[1:]) if loc else ("", ())
        option = options.get(fields.get(head, ""))
        if option is None:
            parts.append(f"{'.'.join(str(p) for p in loc) or 'input'}: {message}")
            continue
        if rest and isinstance(rest[0], int):  # a repeated option's value: --tax (2nd) AMOUNT
            detail = f" ({_ordinal(rest[0] + 1)})" + "".join(f" {str(p).removeprefix('tax_').upper()}" for p in rest[1:])
        else:
            detail = "".join(f" {str(p).upper()}" for p in rest)
        parts.append(f"{option}{detail}: {message}")
    translated = InvalidInput(f"invalid input: {'; '.join(parts)}", **error.context)
    translated.problems = error.problems
    return translated


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"
