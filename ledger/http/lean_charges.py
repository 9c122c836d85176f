"""The batch POST's one validation per charge: a plain AppliedCustomerBillingRateCreate body of the common shape
becomes its PostCharge command directly, without the two pydantic validations (the TMF body, then the command)
the general path runs.

`lean_post_charge(item)` is the seam. It takes only bodies it can judge exactly, and gives for them the very
command the general path gives (`AppliedCustomerBillingRateCreate.model_validate(item).command()`: the same field
values, the same Decimal digits, the same UTC datetime, the same fields set); for anything else it returns None and
the caller takes the general path, which accepts or refuses the body with its usual messages. What it skips, for
the bodies it takes: pydantic's two schema walks (the TMF model with its per-field NUL check, the command with its
whitespace stripping, Id patterns and amount validators), the intermediate TMF model and the rating record. What it
takes: a dict with only the keys `id`, `billingAccount`, `type`, `date`, `taxExcludedAmount`, `taxIncludedAmount`,
`appliedTax`, `product`, `description` (no `periodCoverage`, `isBilled`, `name` nor @-attributes); references with
only an `id`; Money with exactly `unit` and `value`, every amount in the taxExcludedAmount's currency; otherwise
the rules of ledger/commands/lean.py (ids, amounts, dates, descriptions), whose checks and construction this uses,
amounts taken to their shortest exact form first as the rating mapping does. Pinned by
tests/unit/test_lean_charges.py (on generated bodies the lean command equals the general path's, and the general
path accepts whatever the lean path accepts).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledger.aggregates.money import to_decimal
from ledger.commands.charges import AppliedTax, PostCharge
from ledger.commands.lean import (
    CATEGORY,
    ID,
    TYPES,
    UNIT,
    VALUE,
    Decline,
    applied_tax,
    construct,
    description,
    moment,
    text,
)
from ledger.contracts.rating import exact

_KEYS = frozenset({"id", "billingAccount", "type", "date", "taxExcludedAmount", "taxIncludedAmount", "appliedTax",
                   "product", "description"})
_MONEY_KEYS = frozenset({"unit", "value"})
_TAX_KEYS = frozenset({"taxCategory", "taxRate", "taxAmount"})
_REF_KEYS = frozenset({"id"})
_FIELDS = ("charge_id", "account_id", "type", "currency", "tax_excluded_amount", "applied_tax", "date", "description")
_MEMO = 4096
_AMOUNTS: dict[str, Decimal] = {}


def lean_post_charge(item: Any) -> PostCharge | None:
    """The PostCharge the general path makes of this batch item, or None when the item is not of the shape judged
    here (see the module's docstring; the caller then validates it the general way)."""
    try:
        return _command(item)
    except (Decline, ArithmeticError, ValueError, TypeError, KeyError, OverflowError, LookupError):
        return None
    except Exception:  # noqa: BLE001  (a refusal of to_decimal's, a LedgerError: the general path words it)
        return None


def _command(item: Any) -> PostCharge:
    if type(item) is not dict or not _KEYS.issuperset(item):
        raise Decline
    charge_id = text(item["id"], ID)
    account = _ref(item["billingAccount"])
    kind = item.get("type", "appliedBillingCharge")
    if type(kind) is not str or kind not in TYPES:
        raise Decline
    date = moment(item["date"])
    unit, excluded = _money(item["taxExcludedAmount"], None)
    if excluded < 0:
        raise Decline
    taxes = item.get("appliedTax", [])
    if type(taxes) is not list:
        raise Decline
    applied = [_tax(tax, unit) for tax in taxes]
    values: dict[str, Any] = {"charge_id": charge_id, "account_id": account, "type": kind, "currency": unit,
                              "tax_excluded_amount": excluded, "applied_tax": applied, "date": date,
                              "description": description(item.get("description", ""))}
    fields = set(_FIELDS)
    included = item.get("taxIncludedAmount")
    if included is not None:
        included = _money(included, unit)[1]
        if included < 0 or included != excluded + sum((t.tax_amount for t in applied), 0):
            raise Decline
        values["tax_included_amount"] = included
        fields.add("tax_included_amount")
    product = item.get("product")
    if product is not None:
        values["product_ref"] = _ref(product)
        fields.add("product_ref")
    return construct(PostCharge, values, fields)


def _ref(value: Any) -> str:
    if type(value) is not dict or value.keys() != _REF_KEYS:
        raise Decline
    return text(value["id"], ID)


def _amount(value: Any) -> Decimal:
    """As the general path: the TMF decimal string, in its shortest exact form (the rating mapping's), then the
    command's validator."""
    found = _AMOUNTS.get(value) if type(value) is str else None
    if found is None:
        found = to_decimal(exact(Decimal(text(value, VALUE))))
        if len(_AMOUNTS) >= _MEMO:
            _AMOUNTS.clear()
        _AMOUNTS[value] = found
    return found


def _money(value: Any, unit: str | None) -> tuple[str, Decimal]:
    if type(value) is not dict or value.keys() != _MONEY_KEYS:
        raise Decline
    given = text(value["unit"], UNIT)
    if unit is not None and given != unit:
        raise Decline
    return given, _amount(value["value"])


def _tax(value: Any, unit: str) -> AppliedTax:
    if type(value) is not dict or value.keys() != _TAX_KEYS:
        raise Decline
    rate = _amount(value["taxRate"])
    if rate < 0:
        raise Decline
    return applied_tax(text(value["taxCategory"], CATEGORY), rate, _money(value["taxAmount"], unit)[1])
