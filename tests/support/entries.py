"""Building unbilled entries (`Entry` values) for bill composition and bill tests."""

from __future__ import annotations

from decimal import Decimal

from ledger.aggregates.entries import CHARGE, Entry, TaxLine

D = Decimal


def entry(entry_id: str, excluded: str, *taxes: tuple[str, str, str], kind: str = CHARGE) -> Entry:
    """A charge's own entry of `excluded` plus taxes given as (category, rate, amount), effective 2026-10-05."""
    lines = tuple(TaxLine(c, D(r), D(a)) for c, r, a in taxes)
    return Entry(id=entry_id, kind=kind, charge_id=entry_id, product_ref=None, tax_excluded=D(excluded), taxes=lines,
                 tax_included=D(excluded) + sum((line.amount for line in lines), D(0)),
                 effective_at="2026-10-05T10:00:00+00:00", description="", paid_by={})
