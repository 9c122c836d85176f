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
`appliedTax`, `product`, `description` (no `periodCoverage`, `isBilled`, `name` nor @-attributes); ids (and tax
categories) of plain ASCII letters, digits and a few separators that begin and end with a letter or digit; a date
`YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)` (years 1900-2999, fields in their ranges); Money with exactly `unit` and `value` (ASCII digits), every
amount in the taxExcludedAmount's currency, none negative but tax amounts; a description without NUL whose first
and last characters are letters, digits or ASCII punctuation (so stripping whitespace changes nothing).
Pinned by tests/unit/test_lean_charges.py (the lean command equals the general path's on generated bodies, and a
body it declines is one the general path treats as usual).
"""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel

from ledger.aggregates.money import to_decimal
from ledger.commands.charges import AppliedTax, PostCharge
from ledger.contracts.rating import exact
from ledger.errors import LedgerError

_KEYS = frozenset({"id", "billingAccount", "type", "date", "taxExcludedAmount", "taxIncludedAmount", "appliedTax",
                   "product", "description"})
_TYPES = frozenset({"appliedBillingCharge", "appliedPenaltyCharge", "appliedBillingCredit"})
_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.:/@#+=-]{0,198}[A-Za-z0-9])?")
_CATEGORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 _.:/@#+=-]{0,198}[A-Za-z0-9])?")
_DATE = re.compile(r"(?:19|2[0-9])[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
                   r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])")
_UNIT = re.compile(r"[A-Z]{3}")
_VALUE = re.compile(r"-?[0-9]{1,24}(?:\.[0-9]{1,6})?")
_EDGE = frozenset(string.punctuation)
_MONEY_KEYS = frozenset({"unit", "value"})
_TAX_KEYS = frozenset({"taxCategory", "taxRate", "taxAmount"})
_REF_KEYS = frozenset({"id"})
_TAX_FIELDS = frozenset({"tax_category", "tax_rate", "tax_amount"})
_FIELDS = ("charge_id", "account_id", "type", "currency", "tax_excluded_amount", "applied_tax", "date", "description")
M = TypeVar("M", bound=BaseModel)


class _Decline(Exception):
    """The body is not one the lean path judges: the general path takes it."""


def lean_post_charge(item: Any) -> PostCharge | None:
    """The PostCharge the general path makes of this batch item, or None when the item is not of the shape judged
    here (see the module's docstring; the caller then validates it the general way)."""
    try:
        return _command(item)
    except (_Decline, LedgerError, InvalidOperation, ValueError, TypeError, KeyError, OverflowError):
        return None


def _command(item: Any) -> PostCharge:
    if type(item) is not dict or not _KEYS.issuperset(item):
        raise _Decline
    charge_id = _text(item["id"], _ID)
    account = _ref(item["billingAccount"])
    kind = item.get("type", "appliedBillingCharge")
    if type(kind) is not str or kind not in _TYPES:
        raise _Decline
    date = _moment(item["date"])
    unit, excluded = _money(item["taxExcludedAmount"], None)
    if excluded < 0:
        raise _Decline
    taxes = item.get("appliedTax", [])
    if type(taxes) is not list:
        raise _Decline
    applied = [_tax(tax, unit) for tax in taxes]
    description = item.get("description", "")
    if type(description) is not str or len(description) > 2000 or "\x00" in description or (
            description and not (_plain_edge(description[0]) and _plain_edge(description[-1]))):
        raise _Decline
    values: dict[str, Any] = {"charge_id": charge_id, "account_id": account, "type": kind, "currency": unit,
                              "tax_excluded_amount": excluded, "applied_tax": applied, "date": date,
                              "description": description}
    fields = set(_FIELDS)
    included = item.get("taxIncludedAmount")
    if included is not None:
        included = _money(included, unit)[1]
        if included < 0 or included != excluded + sum((t.tax_amount for t in applied), 0):
            raise _Decline
        values["tax_included_amount"] = included
        fields.add("tax_included_amount")
    product = item.get("product")
    if product is not None:
        values["product_ref"] = _ref(product)
        fields.add("product_ref")
    return _construct(PostCharge, values, fields)


def _plain_edge(char: str) -> bool:
    return char.isalnum() or char in _EDGE


def _text(value: Any, pattern: re.Pattern[str]) -> str:
    if type(value) is not str or pattern.fullmatch(value) is None:
        raise _Decline
    return value


def _ref(value: Any) -> str:
    if type(value) is not dict or value.keys() != _REF_KEYS:
        raise _Decline
    return _text(value["id"], _ID)


_MOMENTS: dict[str, datetime] = {}
_AMOUNTS: dict[str, Decimal] = {}
_MEMO = 4096  # texts remembered per memo (a batch repeats its rates, amounts and often its moments)


def _moment(value: Any) -> datetime:
    moment = _MOMENTS.get(value) if type(value) is str else None
    if moment is None:
        moment = datetime.fromisoformat(_text(value, _DATE))
        if moment.tzinfo is None:
            raise _Decline
        moment = _remember(_MOMENTS, value, moment.astimezone(UTC))
    return moment


def _amount(value: Any) -> Decimal:
    """As the general path: the TMF decimal string, in its shortest exact form, then the command's validator."""
    amount = _AMOUNTS.get(value) if type(value) is str else None
    if amount is None:
        amount = _remember(_AMOUNTS, value, to_decimal(exact(Decimal(_text(value, _VALUE)))))
    return amount


def _remember(memo: dict[str, Any], text: str, value: Any) -> Any:
    """Keep an immutable value made from a text (Decimal, datetime), the memo emptied when full."""
    if len(memo) >= _MEMO:
        memo.clear()
    memo[text] = value
    return value


def _money(value: Any, unit: str | None) -> tuple[str, Decimal]:
    if type(value) is not dict or value.keys() != _MONEY_KEYS:
        raise _Decline
    given = _text(value["unit"], _UNIT)
    if unit is not None and given != unit:
        raise _Decline
    return given, _amount(value["value"])


def _tax(value: Any, unit: str) -> AppliedTax:
    if type(value) is not dict or value.keys() != _TAX_KEYS:
        raise _Decline
    rate = _amount(value["taxRate"])
    if rate < 0:
        raise _Decline
    return _construct(AppliedTax, {"tax_category": _text(value["taxCategory"], _CATEGORY), "tax_rate": rate,
                                   "tax_amount": _money(value["taxAmount"], unit)[1]}, set(_TAX_FIELDS))


_DEFAULTS: dict[type, tuple[tuple[str, Any], ...] | None] = {}
_REQUIRED, _EMPTY_LIST = object(), object()
_new = object.__new__
_set = object.__setattr__


def _construct(cls: type[M], values: dict[str, Any], fields_set: set[str]) -> M:
    """`cls.model_construct(_fields_set=fields_set, **values)` (the fields in declaration order, the defaults of
    those not given), without its per-field alias look-ups: the command models have no aliases, no private
    attributes, no post-init, and only immutable defaults or an empty list (a new one each time, as pydantic copies
    it); checked once per class, else the library's way. A required field missing raises KeyError."""
    if cls not in _DEFAULTS:
        _DEFAULTS[cls] = _plain_defaults(cls)
    defaults = _DEFAULTS[cls]
    if defaults is None:
        return cls.model_construct(_fields_set=fields_set, **values)
    state: dict[str, Any] = {}
    for name, default in defaults:
        if name in values or default is _REQUIRED:
            state[name] = values[name]
        else:
            state[name] = [] if default is _EMPTY_LIST else default
    model = _new(cls)
    _set(model, "__dict__", state)
    _set(model, "__pydantic_fields_set__", fields_set)
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def _plain_defaults(cls: type[BaseModel]) -> tuple[tuple[str, Any], ...] | None:
    if cls.__private_attributes__ or cls.__pydantic_post_init__ or cls.model_config.get("extra") == "allow":
        return None
    found = []
    for name, field in cls.model_fields.items():
        if field.alias is not None or field.validation_alias is not None or field.default_factory is not None:
            return None
        if field.is_required():
            found.append((name, _REQUIRED))
        elif field.default == [] and type(field.default) is list:
            found.append((name, _EMPTY_LIST))
        elif isinstance(field.default, (str, int, type(None))):
            found.append((name, field.default))
        else:
            return None
    return tuple(found)
