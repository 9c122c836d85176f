"""Charge inputs of the common shape validated by hand, giving the very command pydantic gives (one lean pass a
charge instead of a schema walk): `lean_charge_command` for PostCharge's own input (what `PostCharge.parse` and
`PostCharges.parse` get from the CLI's JSON lines and the benches; the stream's records, with Decimal amounts and
datetimes, are declined), and the pieces the HTTP batch's TMF bodies use (ledger/http/lean_charges.py).

`lean_charge_command(data)` is the seam: it takes only inputs it can judge exactly and gives for them
`PostCharge.parse(data)` (the same field values, Decimal digits, UTC datetime and fields set); for anything else it
returns None and the caller takes pydantic's path, which accepts or refuses with its usual messages. What it skips,
for the inputs it takes: pydantic's schema walk (whitespace stripping, Id patterns, the amount validators). What it
takes: a dict with only the keys `charge_id`, `account_id`, `type`, `currency`, `tax_excluded_amount`,
`applied_tax` (each with exactly `tax_category`, `tax_rate`, `tax_amount`), `tax_included_amount`, `date`,
`product_ref`, `description` (no period); ids (and tax categories) of plain ASCII letters, digits and a few
separators that begin and end with a letter or digit; amounts as decimal strings of ASCII digits (up to 24 digits
and 6 places), none negative but tax amounts; a date `YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)` (years
1900-2999, fields in their ranges); a description without NUL whose first and last characters are letters, digits
or ASCII punctuation (so stripping whitespace changes nothing); a tax-included amount, when given, equal to the
tax-excluded amount plus the taxes. Pinned by tests/unit/test_lean_charges.py (on generated inputs, the lean
command equals pydantic's, and pydantic accepts whatever the lean path accepts).
"""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from ledger.aggregates.money import to_decimal
from ledger.commands.charges import AppliedTax, PostCharge

M = TypeVar("M", bound=BaseModel)
TYPES = frozenset({"appliedBillingCharge", "appliedPenaltyCharge", "appliedBillingCredit"})
ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.:/@#+=-]{0,198}[A-Za-z0-9])?")
CATEGORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 _.:/@#+=-]{0,198}[A-Za-z0-9])?")
DATE = re.compile(r"(?:19|2[0-9])[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
                  r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])")
UNIT = re.compile(r"[A-Z]{3}")
VALUE = re.compile(r"-?[0-9]{1,24}(?:\.[0-9]{1,6})?")
_EDGE = frozenset(string.punctuation)
_KEYS = frozenset({"charge_id", "account_id", "type", "currency", "tax_excluded_amount", "applied_tax",
                   "tax_included_amount", "date", "product_ref", "description"})
TAX_FIELDS = frozenset({"tax_category", "tax_rate", "tax_amount"})
_MEMO = 4096  # texts remembered per memo (a batch repeats its rates, amounts and often its moments)
_MOMENTS: dict[str, datetime] = {}
_AMOUNTS: dict[str, Decimal] = {}


class Decline(Exception):
    """The input is not one the lean path judges: pydantic's path takes it."""


def lean_charge_command(data: Any) -> PostCharge | None:
    """`PostCharge.parse(data)` for an input of the shape judged here, or None (see the module's docstring)."""
    try:
        return _command(data)
    except (Decline, ArithmeticError, ValueError, TypeError, KeyError, OverflowError, LookupError):
        return None
    except Exception:  # noqa: BLE001  (a refusal of to_decimal's, a LedgerError: pydantic's path words it)
        return None


def _command(data: Any) -> PostCharge:
    if type(data) is not dict or not _KEYS.issuperset(data):
        raise Decline
    values = {"charge_id": text(data["charge_id"], ID), "account_id": text(data["account_id"], ID),
              "currency": text(data["currency"], UNIT), "date": moment(data["date"])}
    excluded = values["tax_excluded_amount"] = non_negative(data["tax_excluded_amount"])
    if "type" in data:
        kind = data["type"]
        if type(kind) is not str or kind not in TYPES:
            raise Decline
        values["type"] = kind
    taxes: list[AppliedTax] = []
    if "applied_tax" in data:
        given = data["applied_tax"]
        if type(given) is not list:
            raise Decline
        for tax in given:
            if type(tax) is not dict or tax.keys() != TAX_FIELDS:
                raise Decline
            taxes.append(applied_tax(text(tax["tax_category"], CATEGORY), non_negative(tax["tax_rate"]),
                                     amount(tax["tax_amount"])))
        values["applied_tax"] = taxes
    if "tax_included_amount" in data:
        included = data["tax_included_amount"]
        if included is not None:
            included = non_negative(included)
            if included != excluded + sum((t.tax_amount for t in taxes), 0):
                raise Decline
        values["tax_included_amount"] = included
    if "product_ref" in data:
        product = data["product_ref"]
        values["product_ref"] = None if product is None else text(product, ID)
    if "description" in data:
        values["description"] = description(data["description"])
    return construct(PostCharge, values, set(values))


def applied_tax(category: str, rate: Decimal, tax_amount: Decimal) -> AppliedTax:
    return construct(AppliedTax, {"tax_category": category, "tax_rate": rate, "tax_amount": tax_amount},
                     set(TAX_FIELDS))


def text(value: Any, pattern: re.Pattern[str]) -> str:
    if type(value) is not str or pattern.fullmatch(value) is None:
        raise Decline
    return value


def description(value: Any) -> str:
    if type(value) is not str or len(value) > 2000 or "\x00" in value or (
            value and not (_plain_edge(value[0]) and _plain_edge(value[-1]))):
        raise Decline
    return value


def _plain_edge(char: str) -> bool:
    return char.isalnum() or char in _EDGE


def moment(value: Any) -> datetime:
    """An aware ISO moment in UTC, as the commands' Instant gives it."""
    found = _MOMENTS.get(value) if type(value) is str else None
    if found is None:
        found = datetime.fromisoformat(text(value, DATE))
        if found.tzinfo is None:
            raise Decline
        found = _remember(_MOMENTS, value, found.astimezone(UTC))
    return found


def amount(value: Any) -> Decimal:
    """A decimal string as the commands' Amount gives it (to_decimal)."""
    found = _AMOUNTS.get(value) if type(value) is str else None
    if found is None:
        found = _remember(_AMOUNTS, value, to_decimal(text(value, VALUE)))
    return found


def non_negative(value: Any) -> Decimal:
    found = amount(value)
    if found < 0:
        raise Decline
    return found


def _remember(memo: dict[str, Any], key: str, value: Any) -> Any:
    """Keep an immutable value made from a text (Decimal, datetime), the memo emptied when full."""
    if len(memo) >= _MEMO:
        memo.clear()
    memo[key] = value
    return value


_DEFAULTS: dict[type, tuple[tuple[str, Any], ...] | None] = {}
_REQUIRED, _EMPTY_LIST = object(), object()
_new = object.__new__
_set = object.__setattr__


def construct(cls: type[M], values: dict[str, Any], fields_set: set[str]) -> M:
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
