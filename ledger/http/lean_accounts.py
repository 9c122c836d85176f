"""The body of GET billingAccount by id built straight from the loaded account, without the two pydantic models the
plain path builds.

`lean_account_body(account, today)` is the seam. The plain path is
`render(dump(BillingAccount.of(AccountSummary(**summary_fields(account, clock)))))`: a frozen `AccountSummary`
view (validated field by field), then the TMF `BillingAccount` model with its nested `Money`, `Ref`,
`TimePeriod`, `BillStructure` and `AccountBalance` models (each validated, each string checked for NUL characters),
dumped to a dict (aliases, `None`s left out) and rendered by orjson. The lean path computes the same values with
the same functions (`at_minor_unit`, `at_rated_scale`, `fmt`, `href`, overdue as `today > payment_due_date`) and
writes the dict in the model's field order, leaving out what `exclude_none` leaves out.

What it skips: pydantic's construction and validation of the nine models and `model_dump` (together about a
quarter of a first visit's CPU in the profile of 2026-12-08); the summary's fields the body does not show
(`unbilled_entries`, `unbilled_prepaid`, `identity_holds()`: computed and dropped by the plain path). What that
validation would refuse is checked here instead, cheaply, and anything unusual is declined (None: the caller takes
the plain path, which answers or raises as it always did): a state or rating type outside the model's literals, a
Money value not matching its pattern, a reference id empty or over 200 characters, a text field that is not a
string, payment terms that are not an int, a default payment method that is not a dict of strings, a NUL character anywhere
in the rendered body, or any error while building. Pinned by tests/unit/test_lean_accounts.py (varied accounts:
the lean bytes equal the plain path's bytes) and tests/integration/test_fast_account_get.py (both HTTP paths, both
stores).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from ledger.aggregates.money import at_minor_unit, at_rated_scale, currency, fmt
from ledger.contracts.tmf import href

_STATES = frozenset({"active", "suspended", "closed"})
_RATING_TYPES = frozenset({"prepaid", "postpaid"})
_VALUE = re.compile(r"^-?\d{1,24}(\.\d{1,6})?$")  # ledger.http.tmf.DECIMAL, Money.value's pattern
_NUL = b"\\u0000"  # how orjson writes a NUL character


def _ref_id(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 200


def lean_account_body(account: Any, today: date) -> bytes | None:
    """The rendered TMF BillingAccount of a loaded account on `today` (its time zone's day), byte for byte what the
    plain path renders; None when the account is not of the plain shape (see the module's docstring)."""
    try:
        return _body(account, today)
    except Exception:  # noqa: BLE001 - the plain path does the work again and raises what it raises
        return None


def _body(account: Any, today: date) -> bytes | None:
    code, ref = account.currency, account.account_ref
    cur = currency(code)
    if account.status not in _STATES or account.rating_type not in _RATING_TYPES or not _ref_id(ref):
        return None
    texts = (account.name or ref, account.last_activity, account.time_zone, account.status_since,
             account.cycle_specification)
    terms = account.payment_terms_days
    if not all(isinstance(t, str) for t in texts) or not (terms is None or type(terms) is int):
        return None
    values = []

    def money(amount: Decimal) -> dict[str, str]:
        value = fmt(amount, cur)
        values.append(value)
        return {"unit": code, "value": value}

    receivable = at_minor_unit(account.receivable, code)
    overdue = any(today > date.fromisoformat(b["payment_due_date"]) for b in account.open_bills.values())
    doc: dict[str, Any] = {
        "id": ref, "href": href("BillingAccount", ref), "name": account.name or ref, "state": account.status,
        "paymentStatus": "inArrears" if overdue else "due" if receivable > 0 else "paid",
        "lastModified": account.last_activity, "currency": code, "ratingType": account.rating_type,
        "timeZone": account.time_zone,
    }
    if account.payment_terms_days is not None:
        doc["paymentTermsDays"] = terms
    doc["creditLimit"] = money(at_minor_unit(account.credit_limit, code))
    method = account.default_payment_method
    if method:
        if not isinstance(method, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in method.items()) \
                or not _ref_id(method["id"]):
            return None  # AccountSummary's dict[str, str], Ref's id
        doc["defaultPaymentMethod"] = {"id": method["id"], "@referredType": method["type"]}
    customer = account.customer_id
    if not _ref_id(customer):
        return None
    doc["relatedParty"] = [{"id": customer, "name": customer, "role": "customer", "@referredType": "Customer"}]
    spec = account.cycle_specification
    doc["billStructure"] = {"cycleSpecification": {"id": spec, "href": href("BillingCycleSpecification", spec),
                                                   "name": spec, "isRef": True}}
    since = {"startDateTime": account.status_since}
    doc["accountBalance"] = [
        {"balanceType": kind, "amount": money(amount), "validFor": since}
        for kind, amount in (("balance", at_rated_scale(account.balance)),
                             ("unbilled", at_rated_scale(account.unbilled_total)),
                             ("receivable", receivable),
                             ("creditBalance", at_minor_unit(account.credit_balance, code)),
                             ("prepaidBalance", at_rated_scale(account.prepaid_balance)))]
    doc["@type"] = "BillingAccount"
    if not all(_VALUE.match(v) for v in values):
        return None
    body = orjson.dumps(doc)
    return None if _NUL in body else body
