"""Turning results into output: JSON (amounts as strings, never floats) and the text helpers renderers share."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.aggregates.money import currency, fmt
from ledger.errors import LedgerError


def to_jsonable(value: Any) -> Any:
    """Decimals become strings (never floats); dates ISO-8601; UUIDs strings; typed results their dicts."""
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return value


def dump_json(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)


def money(amount: Any, code: str) -> str:
    """An amount as text in its currency's canonical form (never a float)."""
    try:
        return fmt(Decimal(str(amount)), currency(code))
    except LedgerError:
        return str(amount)


def table(headers: list[str], rows: Iterable[list[Any]], right: Iterable[int] = ()) -> str:
    """A plain text table; columns listed in `right` are right-aligned (amounts)."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    right = set(right)

    def line(values: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(values, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def stamp(moment: datetime | str | None) -> str:
    """A moment as `YYYY-MM-DD HH:MMZ` (UTC)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def plain(number: str) -> str:
    """A decimal string without exponent notation ('2E+1' -> '20')."""
    try:
        return format(Decimal(number), "f")
    except ArithmeticError:
        return number


def is_amount(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        Decimal(value)
    except ArithmeticError:
        return False
    return True
