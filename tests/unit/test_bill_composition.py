"""Unit tests for bill composition: tax items rounded once per category and rate, visible rounding difference."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from ledger.aggregates.bill_composition import EXEMPT, compose
from ledger.aggregates.money import currency, round_money
from tests.support.entries import entry

D = Decimal


def test_rounds_once_per_tax_item_not_per_entry() -> None:
    """Three 10.004 + 20% VAT 2.0008 charges make 30.01 + 6.00 = 36.01, not 3 x 12.00."""
    totals = compose([entry(f"c{i}", "10.004", ("VAT", "20", "2.0008")) for i in range(3)], "EUR")
    assert totals.tax_excluded_amount == D("30.01")
    assert [(t["tax_category"], t["tax_amount"], t["exact_tax_amount"]) for t in totals.tax_items] == [("VAT", "6.00", "6.0024")]
    assert totals.tax_included_amount == D("36.01")
    assert totals.rounding_difference == D("36.01") - D("36.0144")


def test_rounding_difference_is_visible_and_exact() -> None:
    """tax_included == exact sum of entries + rounding_difference."""
    entries = [entry("a", "0.125", ("VAT", "8.875", "0.011094")), entry("b", "1.995")]
    totals = compose(entries, "USD")
    exact = sum((e.tax_included for e in entries), D(0))
    assert totals.tax_included_amount == exact + totals.rounding_difference
    assert totals.tax_included_amount == totals.tax_excluded_amount + totals.tax_amount


def test_same_category_different_rates_are_separate_items() -> None:
    """VAT 20% and VAT 5.5% are two tax items; equal rates written differently merge."""
    totals = compose([entry("a", "10", ("VAT", "20", "2")), entry("b", "10", ("VAT", "5.5", "0.55")),
                      entry("c", "10", ("VAT", "20.0", "2"))], "EUR")
    assert [(t["tax_rate"], t["taxable_amount"], t["tax_amount"]) for t in totals.tax_items] == [
        ("5.5", "10.00", "0.55"), ("20", "20.00", "4.00")]


def test_tax_rates_are_shown_in_plain_digits() -> None:
    """A rate of 20 (or 20.00) is shown as "20", never in exponent form such as "2E+1"."""
    totals = compose([entry("a", "10", ("VAT", "20.00", "2")), entry("b", "1", ("X", "100", "1"))], "EUR")
    assert sorted(t["tax_rate"] for t in totals.tax_items) == ["100", "20"]


def test_entries_without_tax_show_in_the_exempt_item() -> None:
    """An untaxed entry's base appears under the exempt tax item at rate 0."""
    totals = compose([entry("a", "7.5")], "EUR")
    assert totals.tax_items == [{"tax_category": EXEMPT, "tax_rate": "0", "taxable_amount": "7.50", "tax_amount": "0.00",
                                 "exact_tax_amount": "0"}]


def test_net_credit_bill_is_negative() -> None:
    """Credits larger than charges compose to a negative total."""
    totals = compose([entry("c", "3"), entry("cr", "-5", kind="appliedBillingCredit")], "EUR")
    assert totals.tax_included_amount == D("-2.00") and totals.rounding_difference == 0


def test_negative_tax_rounds_half_away_from_zero() -> None:
    """A negative adjustment's tax rounds like a positive one, mirrored."""
    totals = compose([entry("adj", "-1.005", ("VAT", "20", "-0.201"))], "EUR")
    assert totals.tax_excluded_amount == D("-1.01") and totals.tax_amount == D("-0.20")
    assert totals.rounding_difference == D("-1.21") - D("-1.206")


def test_jpy_bill_rounds_to_whole_yen() -> None:
    """A JPY bill has no minor unit."""
    totals = compose([entry("a", "100.5", ("CT", "10", "10.05"))], "JPY")
    assert (totals.tax_excluded_amount, totals.tax_amount, totals.tax_included_amount) == (D(101), D(10), D(111))


def test_items_list_every_entry() -> None:
    """Each entry appears as a bill item with its own exact amounts."""
    totals = compose([entry("a", "1.001"), entry("b", "2")], "BHD")
    assert [(i["entry_id"], i["tax_excluded"]) for i in totals.items] == [("a", "1.001"), ("b", "2")]


_amounts = st.decimals(min_value=D("-1000"), max_value=D("1000"), places=6, allow_nan=False, allow_infinity=False)


@given(code=st.sampled_from(["EUR", "JPY", "BHD"]),
       rows=st.lists(st.tuples(_amounts, st.sampled_from(["0", "5.5", "20"]), st.sampled_from(["VAT", "GST"])),
                     min_size=1, max_size=8))
def test_totals_are_whole_minor_units_and_close_to_exact(code: str, rows: list[tuple[Decimal, str, str]]) -> None:
    """Property: totals are in whole minor units; the rounding difference is below half a unit per rounded line."""
    cur = currency(code)
    entries = []
    for i, (amount, rate, cat) in enumerate(rows):
        tax = (amount * D(rate) / 100).quantize(D("0.000001"))
        entries.append(entry(f"e{i}", str(amount), (cat, rate, str(tax))))
    totals = compose(entries, code)
    assert round_money(totals.tax_included_amount, cur) == totals.tax_included_amount
    assert totals.tax_included_amount == totals.tax_excluded_amount + totals.tax_amount
    rounded_lines = 1 + len(totals.tax_items)
    assert abs(totals.rounding_difference) <= rounded_lines * cur.quantum / 2
