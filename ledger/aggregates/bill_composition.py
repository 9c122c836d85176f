"""How a bill's totals are made from its entries: tax items per category and rate, rounded once.

Rule: the bill sums its entries exactly (up to six decimal places), then rounds each tax item's
tax amount and the tax-excluded total once, ROUND_HALF_UP to the currency's minor unit.
tax-included = rounded tax-excluded + the rounded tax items. The difference between that and the
exact sum of the entries' tax-included amounts is shown as `rounding_difference`.
An entry without taxes counts in the tax item ("exempt", rate 0) so every entry's base is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ledger.aggregates.account_storage import BillRow
from ledger.aggregates.entries import Entry
from ledger.aggregates.money import ZERO, currency, round_money

EXEMPT = "exempt"
_EXEMPT_ROW = ((EXEMPT, Decimal(0), Decimal(0)),)
_ZERO_RATES = {False: Decimal(0), True: Decimal("-0")}  # a zero rate's key, by its sign


@lru_cache(maxsize=1024)  # a few distinct rates, on every entry of every bill
def _normal(rate: Decimal) -> Decimal:
    """A non-zero rate as tax items group it: 20 and 20.0 are one item (equal non-zero rates normalise alike)."""
    return rate.normalize()


@dataclass(frozen=True)
class BillTotals:
    items: list[dict[str, str]]
    tax_items: list[dict[str, str]]
    tax_excluded_amount: Decimal
    tax_amount: Decimal
    tax_included_amount: Decimal
    rounding_difference: Decimal


def compose(entries: list[Entry], currency_code: str) -> BillTotals:
    """The bill's totals, tax items and items of `entries`: compose_rows of the rows they are."""
    return compose_rows([BillRow(e.id, e.kind, e.charge_id, e.product_ref or "", e.description, str(e.tax_excluded),
                                 str(e.tax_included), e.tax_excluded, e.tax_included, e.effective_at,
                                 tuple((line.category, line.rate, line.amount) for line in e.taxes), {})
                         for e in entries], currency_code)


def compose_rows(rows: list[BillRow], currency_code: str) -> BillTotals:
    """The bill's totals, tax items and items of the rows (`account_storage.bill_rows`, or `compose`'s entries), the
    items' amounts taken as the rows' texts."""
    cur = currency(currency_code)
    bases: dict[tuple[str, Decimal], Decimal] = {}
    taxes: dict[tuple[str, Decimal], Decimal] = {}
    exact_excluded = ZERO
    exact_included = ZERO
    items = []
    for row in rows:
        excluded = row.tax_excluded
        exact_excluded += excluded
        exact_included += row.tax_included
        for category, rate, amount in row.taxes or _EXEMPT_ROW:
            key = (category, _normal(rate) if rate else _ZERO_RATES[rate.is_signed()])
            bases[key] = bases.get(key, ZERO) + excluded
            taxes[key] = taxes.get(key, ZERO) + amount
        items.append({"entry_id": row.id, "kind": row.kind, "charge_id": row.charge_id, "product_ref": row.product_ref,
                      "description": row.description, "tax_excluded": row.excluded_text,
                      "tax_included": row.included_text, "effective_at": row.effective_at})
    return _totals(cur, bases, taxes, exact_excluded, exact_included, items)


def _totals(cur: Any, bases: dict[tuple[str, Decimal], Decimal], taxes: dict[tuple[str, Decimal], Decimal],
            exact_excluded: Decimal, exact_included: Decimal, items: list[dict[str, str]]) -> BillTotals:
    tax_items = []
    tax_total = ZERO
    for key in sorted(bases):
        category, rate = key
        rounded = round_money(taxes[key], cur)
        tax_total += rounded
        tax_items.append(
            {
                "tax_category": category,
                "tax_rate": format(rate, "f"),  # plain digits: a normalised 20 would print as 2E+1
                "taxable_amount": str(round_money(bases[key], cur)),
                "tax_amount": str(rounded),
                "exact_tax_amount": str(taxes[key]),
            }
        )
    excluded = round_money(exact_excluded, cur)
    included = excluded + tax_total
    return BillTotals(
        items=items,
        tax_items=tax_items,
        tax_excluded_amount=excluded,
        tax_amount=tax_total,
        tax_included_amount=included,
        rounding_difference=included - exact_included,
    )
