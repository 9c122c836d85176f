"""The lean validations (ledger/commands/lean.py, ledger/http/lean_charges.py) give pydantic's command, or decline."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from ledger.commands.charges import PostCharge, PostCharges
from ledger.commands.lean import lean_charge_command
from ledger.errors import InvalidInput, LedgerError
from ledger.http.charges import AppliedCustomerBillingRateCreate
from ledger.http.lean_charges import lean_post_charge


def general(item: Any) -> PostCharge | None:
    """The general path: the TMF body validated, then its command; None when it refuses the item."""
    try:
        return AppliedCustomerBillingRateCreate.model_validate(item).command()
    except (ValidationError, LedgerError):
        return None


def shape(value: Any) -> Any:
    """A value with everything equality may blur spelled out (Decimal digits, time zones, fields set)."""
    if isinstance(value, BaseModel):
        return (type(value).__name__, sorted(value.model_fields_set),
                {name: shape(v) for name, v in value.__dict__.items()})
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    if hasattr(value, "tzinfo"):
        return (type(value).__name__, value.isoformat(), repr(value.tzinfo))
    return (type(value).__name__, value)


def body(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": "w-123-4", "billingAccount": {"id": "ACME-PARIS"}, "type": "appliedBillingCharge",
        "date": "2026-11-03T10:00:00Z", "taxExcludedAmount": {"unit": "EUR", "value": "1.25"},
        "appliedTax": [{"taxCategory": "VAT", "taxRate": "20", "taxAmount": {"unit": "EUR", "value": "0.25"}}]}
    item.update(changes)
    return {k: v for k, v in item.items() if v is not ...}


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a value of the common shape, sometimes an odd one (so most bodies get past the first check)."""
    return st.integers(0, 24).flatmap(lambda n: usual if n else odd)


IDS = mostly(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,8}[A-Za-z0-9]", fullmatch=True),
             st.one_of(st.sampled_from([" lead", "trail ", "in side", "é", "", "a\nb", "-a", "a" * 200, "a" * 201,
                                        "a\x00b", "1", "\u00a0a"]), st.text(max_size=6)))
CATEGORIES = mostly(st.sampled_from(["VAT", "VAT reduced", "GST", "tax:city"]), IDS)
VALUES = mostly(st.builds(lambda n, p: str(Decimal(n).scaleb(-p)), st.integers(0, 10**8), st.integers(0, 6)),
                st.one_of(st.sampled_from(["-0", "-1", "20.000000", "1.1234567", "1e3", "00012.50", "", " 1", "1 ",
                                           "\u0661\u0662", "0" * 25, "9" * 24 + ".5", "-0.000001"]),
                          st.builds(lambda n, p: str(Decimal(n).scaleb(-p)), st.integers(-10**6, 10**26),
                                    st.integers(0, 7)), st.integers(0, 100)))
UNITS = mostly(st.just("EUR"), st.sampled_from(["USD", "eur", "EU", "", "EURO"]))
MONEY = mostly(st.fixed_dictionaries({"unit": UNITS, "value": VALUES}),
               st.one_of(st.fixed_dictionaries({"unit": UNITS, "value": VALUES, "@type": st.just("Money")}),
                         st.just({"value": "1"}), st.none(), st.just("1.25")))
DATES = mostly(st.builds(lambda y, mo, d, h, mi, s, frac, off: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{off}",
                         st.integers(1990, 2030), st.integers(1, 12), st.integers(1, 28), st.integers(0, 23),
                         st.integers(0, 59), st.integers(0, 59), st.sampled_from(["", ".5", ".123456", ".250"]),
                         st.sampled_from(["Z", "+00:00", "-00:00", "+01:30", "+14:00", "-23:59", "-05:30"])),
               st.one_of(st.sampled_from(["2026-11-03T10:00:00", "2026-02-30T10:00:00Z", "2026-11-03T24:00:00Z",
                                          "2026-11-03T10:00:60Z", "2026-11-03T10:00:00+24:00", "2026-11-03T10:00:00+23:59",
                                          "0000-01-01T00:00:00Z", "2026-11-03 10:00:00Z", "2026-11-03T10:00:00.1234567Z",
                                          "2026-11-03", "2026-11-03t10:00:00z", "2026-11-03T10:00:00+0100"]),
                         st.builds(lambda y, mo, d, h, mi, s, off: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{off}",
                                   st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
                                   st.integers(0, 61), st.integers(0, 61),
                                   st.sampled_from(["Z", "+00:00", "+25:00", "+01:60", "-99:99"]))))
TAX = st.fixed_dictionaries({"taxCategory": CATEGORIES, "taxRate": VALUES, "taxAmount": MONEY})
DESCRIPTIONS = mostly(st.sampled_from(["", "usage", "data 1,845.6789 MB", "voice (2 min)", "lines:\n1\n2", "été"]),
                      st.one_of(st.text(max_size=8), st.sampled_from([" x", "x ", "x\x00", "x" * 2001, "\u2003x"]),
                                st.none(), st.integers()))
ABSENT = st.just(...)


@st.composite
def items(draw: st.DrawFn) -> Any:
    excluded = draw(MONEY)
    taxes = draw(mostly(st.lists(TAX, max_size=3), st.one_of(ABSENT, st.none(), st.just({}))))
    included: Any = draw(mostly(st.one_of(ABSENT, st.none()), MONEY))
    if draw(st.booleans()) and isinstance(excluded, dict) and isinstance(taxes, list):  # often a consistent total
        try:
            total = Decimal(str(excluded["value"])) + sum(Decimal(str(t["taxAmount"]["value"])) for t in taxes
                                                            if isinstance(t["taxAmount"], dict))
            included = {"unit": excluded["unit"], "value": str(total)}
        except Exception:  # noqa: BLE001  (a value that is not a number: keep the drawn one)
            pass
    extra = draw(mostly(st.just({}), st.sampled_from([{"isBilled": False}, {"@type": "AppliedCustomerBillingRate"},
                                                      {"name": "n"}, {"periodCoverage": {"startDateTime": "2026-10-01"}},
                                                      {"unknown": 1}])))
    item = body(id=draw(IDS), billingAccount=draw(mostly(st.fixed_dictionaries({"id": IDS}),
                                                         st.sampled_from([{"id": "A", "href": "h"}, "A", {}]))),
                type=draw(mostly(st.sampled_from([..., "appliedBillingCharge", "appliedBillingCredit", "appliedPenaltyCharge"]),
                                 st.sampled_from(["other", None, 1]))),
                date=draw(DATES), taxExcludedAmount=excluded, taxIncludedAmount=included, appliedTax=taxes,
                product=draw(st.one_of(ABSENT, st.none(), st.fixed_dictionaries({"id": IDS}))),
                description=draw(st.one_of(ABSENT, DESCRIPTIONS)), **extra)
    return item if draw(st.integers(0, 20)) else draw(st.sampled_from([[], "x", 1, None]))


@settings(max_examples=1000, deadline=None)
@given(items())
def test_a_lean_command_is_the_general_paths_command(item: Any) -> None:
    """Whatever the body, the lean path declines it or gives exactly the general path's command."""
    lean = lean_post_charge(item)
    if lean is not None:
        expected = general(item)
        assert expected is not None, item
        assert shape(lean) == shape(expected)


def test_the_common_bodies_take_the_lean_path() -> None:
    """A rating system's usual bodies (the bench's, credits, products, taxes included, offsets) are taken lean."""
    for item in (body(), body(type="appliedBillingCredit", description="refund: 2 x line"),
                 body(product={"id": "PRD-VOICE-3"}, taxIncludedAmount={"unit": "EUR", "value": "1.50"}),
                 body(date="2026-11-03T10:00:00.250+02:00", appliedTax=[], type=...),
                 body(appliedTax=[{"taxCategory": "VAT reduced", "taxRate": "5.5",
                                   "taxAmount": {"unit": "EUR", "value": "0.068750"}}])):
        lean = lean_post_charge(item)
        assert lean is not None, item
        assert shape(lean) == shape(general(item))


def test_a_body_the_general_path_refuses_is_declined() -> None:
    """Inconsistent totals, negative amounts, mixed currencies and unknown keys are left to the general path."""
    for item in (body(taxIncludedAmount={"unit": "EUR", "value": "9.99"}),
                 body(taxExcludedAmount={"unit": "EUR", "value": "-1"}),
                 body(appliedTax=[{"taxCategory": "VAT", "taxRate": "20", "taxAmount": {"unit": "USD", "value": "1"}}]),
                 body(isBilled=True), body(date="2026-11-03T10:00:00"), body(id=" x")):
        assert lean_post_charge(item) is None


def pydantic_command(data: Any) -> PostCharge | None:
    """PostCharge's own validation; None when it refuses the input."""
    try:
        return PostCharge.model_validate(data)
    except ValidationError:
        return None


AMOUNTS = mostly(VALUES, st.one_of(st.integers(-5, 100), st.just(Decimal("1.5")), st.just(1.5), st.none()))


@st.composite
def command_inputs(draw: st.DrawFn) -> Any:
    excluded = draw(AMOUNTS)
    taxes = draw(mostly(st.lists(st.fixed_dictionaries({"tax_category": CATEGORIES, "tax_rate": AMOUNTS,
                                                        "tax_amount": AMOUNTS}), max_size=3),
                        st.one_of(ABSENT, st.none(), st.just([{"tax_category": "VAT"}]))))
    included: Any = draw(mostly(st.one_of(ABSENT, st.none()), AMOUNTS))
    if draw(st.booleans()) and isinstance(taxes, list):
        try:
            included = str(Decimal(str(excluded)) + sum(Decimal(str(t["tax_amount"])) for t in taxes))
        except Exception:  # noqa: BLE001  (a value that is not a number: keep the drawn one)
            pass
    data = {"charge_id": draw(IDS), "account_id": draw(IDS), "currency": draw(UNITS), "tax_excluded_amount": excluded,
            "applied_tax": taxes, "tax_included_amount": included, "date": draw(DATES),
            "type": draw(mostly(st.sampled_from([..., "appliedBillingCharge", "appliedBillingCredit",
                                                 "appliedPenaltyCharge"]), st.sampled_from(["other", None]))),
            "product_ref": draw(st.one_of(ABSENT, st.none(), IDS)),
            "description": draw(st.one_of(ABSENT, DESCRIPTIONS)),
            **draw(mostly(st.just({}), st.sampled_from([{"period_start": "2026-10-01"}, {"unknown": 1}])))}
    return {k: v for k, v in data.items() if v is not ...}


@settings(max_examples=1000, deadline=None)
@given(command_inputs())
def test_a_lean_charge_command_is_pydantics(data: Any) -> None:
    """Whatever the input, lean_charge_command declines it or gives exactly PostCharge's validation of it."""
    lean = lean_charge_command(data)
    if lean is not None:
        expected = pydantic_command(data)
        assert expected is not None, data
        assert shape(lean) == shape(expected)


def test_a_batch_of_lean_charges_parses_as_pydantic_parses_it() -> None:
    """PostCharges.parse (and PostCharge.parse) of common inputs, the lean path, equals pydantic's validation; one
    odd charge sends the whole batch the pydantic way, and a refusal has pydantic's message."""
    good = [{"charge_id": f"c{n}", "account_id": "ACME", "currency": "EUR", "tax_excluded_amount": "1.25",
             "applied_tax": [{"tax_category": "VAT", "tax_rate": "20", "tax_amount": "0.25"}],
             "date": "2026-10-07T09:15:00+02:00", "product_ref": "P-1", "description": "usage"} for n in range(3)]
    assert lean_charge_command(good[0]) is not None
    assert shape(PostCharges.parse({"charges": good})) == shape(PostCharges.model_validate({"charges": good}))
    odd = [*good, {**good[0], "charge_id": " c9", "period_start": "2026-10-01"}]
    assert shape(PostCharges.parse({"charges": odd})) == shape(PostCharges.model_validate({"charges": odd}))
    assert shape(PostCharge.parse(good[0])) == shape(PostCharge.model_validate(good[0]))
    with pytest.raises(InvalidInput, match=r"invalid PostCharge: tax_excluded_amount"):
        PostCharge.parse({**good[0], "tax_excluded_amount": "-1"})
    with pytest.raises(InvalidInput, match=r"charges\.1\.tax_excluded_amount"):
        PostCharges.parse({"charges": [good[0], {**good[1], "tax_excluded_amount": "-1"}]})
