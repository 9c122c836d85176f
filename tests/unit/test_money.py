"""Unit tests for ledger.aggregates.money: exact amounts, ISO 4217 minor units, ROUND_HALF_UP, loss-free allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.aggregates.money import Money, allocate, currency, fmt, round_money, to_decimal
from ledger.errors import CurrencyMismatch, InvalidAmount, MoneyError, UnknownCurrency

D = Decimal


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1.5, 0.1, float("nan"), 10.0])
def test_floats_are_refused(value: float) -> None:
    """A float is never accepted as an amount, whatever its value."""
    with pytest.raises(InvalidAmount, match="float"):
        to_decimal(value)


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_refused(value: bool) -> None:
    """True/False are not amounts even though bool is an int subclass."""
    with pytest.raises(InvalidAmount):
        to_decimal(value)


@pytest.mark.parametrize("value", ["1.0000001", "0.0000000", D("-2.1234567")])
def test_more_than_six_decimal_places_is_refused(value: object) -> None:
    """Charges carry at most six decimal places."""
    with pytest.raises(InvalidAmount, match="more than 6 decimal places"):
        to_decimal(value)


@pytest.mark.parametrize("value", ["1.123456", "-0.000001", 42, D("3.10"), " 7.5 "])
def test_exact_inputs_up_to_six_places_are_accepted(value: object) -> None:
    """Strings, ints and Decimals with up to six places parse exactly."""
    assert to_decimal(value) == D(str(value).strip())


@pytest.mark.parametrize("value", ["abc", "", "1,5", "NaN", "Infinity", "-inf", None, [1]])
def test_non_numbers_and_non_finite_are_refused(value: object) -> None:
    """Garbage, NaN and infinities are not amounts."""
    with pytest.raises(InvalidAmount):
        to_decimal(value)


def test_negative_zero_is_normalised() -> None:
    """-0 parses as plain 0 (no signed zero leaks into events)."""
    assert str(to_decimal("-0.00")) == "0.00"


def test_places_can_be_restricted() -> None:
    """A caller can ask for fewer places (e.g. a currency's minor unit)."""
    with pytest.raises(InvalidAmount):
        to_decimal("1.234", places=2)


# --- currencies ------------------------------------------------------------------------------


@pytest.mark.parametrize("code,places", [("JPY", 0), ("USD", 2), ("EUR", 2), ("BHD", 3), ("CLF", 4)])
def test_minor_units_follow_iso_4217(code: str, places: int) -> None:
    """Each currency knows its number of decimal places."""
    assert currency(code).minor_unit == places
    assert currency(code).quantum == D(1).scaleb(-places)


@pytest.mark.parametrize("code", ["XYZ", "eur", "", "EURO", None])
def test_unknown_currency_is_refused(code: object) -> None:
    """Only exact ISO 4217 codes are currencies."""
    with pytest.raises(UnknownCurrency):
        currency(code)  # type: ignore[arg-type]


def test_money_of_unknown_currency_is_refused() -> None:
    """Money.of checks the currency code too."""
    with pytest.raises(UnknownCurrency):
        Money.of("1", "ABC")


def test_money_errors_share_a_root() -> None:
    """Every money error is a MoneyError (callers can catch one type)."""
    assert issubclass(UnknownCurrency, MoneyError) and issubclass(CurrencyMismatch, MoneyError)


# --- arithmetic ------------------------------------------------------------------------------


def test_adding_different_currencies_is_refused() -> None:
    """EUR + USD raises CurrencyMismatch naming both."""
    with pytest.raises(CurrencyMismatch, match="EUR.*USD"):
        Money.of("1", "EUR") + Money.of("1", "USD")


def test_subtracting_different_currencies_is_refused() -> None:
    """EUR - JPY raises CurrencyMismatch."""
    with pytest.raises(CurrencyMismatch):
        Money.of("1", "EUR") - Money.of("1", "JPY")


def test_same_currency_arithmetic_is_exact() -> None:
    """Sums and differences keep every decimal place."""
    total = Money.of("0.1", "EUR") + Money.of("0.2", "EUR") - Money.of("0.000001", "EUR")
    assert total.amount == D("0.299999") and total.currency.code == "EUR"
    assert (-total).amount == D("-0.299999")


# --- rounding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount,code,expected",
    [
        ("2.345", "EUR", "2.35"),
        ("-2.345", "EUR", "-2.35"),
        ("2.344999", "EUR", "2.34"),
        ("-2.344999", "EUR", "-2.34"),
        ("0.005", "USD", "0.01"),
        ("-0.005", "USD", "-0.01"),
        ("2.5", "JPY", "3"),
        ("-2.5", "JPY", "-3"),
        ("1.4999", "JPY", "1"),
        ("1.0005", "BHD", "1.001"),
        ("-1.0005", "BHD", "-1.001"),
        ("1.0004", "BHD", "1.000"),
    ],
)
def test_round_half_up_away_from_zero(amount: str, code: str, expected: str) -> None:
    """Halves round away from zero, to the currency's minor unit, for positives and negatives."""
    assert str(round_money(D(amount), currency(code))) == expected


def test_money_rounded_keeps_currency() -> None:
    """Money.rounded rounds once and keeps the currency."""
    assert Money.of("10.125", "USD").rounded() == Money(D("10.13"), currency("USD"))


@pytest.mark.parametrize("amount,code,text", [("10", "EUR", "10.00"), ("10.125", "EUR", "10.125"), ("5", "JPY", "5"),
                                              ("1.5", "BHD", "1.500"), ("0.000100", "EUR", "0.0001")])
def test_canonical_text(amount: str, code: str, text: str) -> None:
    """fmt shows at least the minor unit and no trailing noise beyond it."""
    assert fmt(D(amount), currency(code)) == text


def test_money_str_names_currency() -> None:
    """str(Money) is the canonical amount and the code."""
    assert str(Money.of("3", "BHD")) == "3.000 BHD"


# --- allocation ------------------------------------------------------------------------------


def test_allocate_gives_leftover_units_to_largest_remainders() -> None:
    """100.00 split three ways is 33.34 + 33.33 + 33.33."""
    assert allocate(D("100.00"), [1, 1, 1], currency("EUR")) == [D("33.34"), D("33.33"), D("33.33")]


def test_allocate_in_jpy_uses_whole_yen() -> None:
    """JPY has no minor unit: 100 yen over 3 is 34, 33, 33."""
    assert allocate(D("100"), [1, 1, 1], currency("JPY")) == [D(34), D(33), D(33)]


def test_allocate_in_bhd_uses_fils() -> None:
    """BHD has three places: 1.000 over 3 is 0.334 + 0.333 + 0.333."""
    assert allocate(D("1.000"), [1, 1, 1], currency("BHD")) == [D("0.334"), D("0.333"), D("0.333")]


def test_allocate_negative_total_keeps_sign() -> None:
    """A negative total splits into negative shares that still sum exactly."""
    shares = allocate(D("-10.00"), [1, 2], currency("EUR"))
    assert shares == [D("-3.33"), D("-6.67")] and sum(shares) == D("-10.00")


def test_money_allocate_returns_money() -> None:
    """Money.allocate returns Money in the same currency."""
    assert [m.amount for m in Money.of("0.05", "USD").allocate([3, 1])] == [D("0.04"), D("0.01")]


@pytest.mark.parametrize("weights", [[], [1, -1], [0, 0]])
def test_allocate_refuses_bad_weights(weights: list[int]) -> None:
    """No weights, a negative weight, or all-zero weights are refused."""
    with pytest.raises(InvalidAmount):
        allocate(D("1.00"), weights, currency("EUR"))


def test_allocate_refuses_fractional_minor_units() -> None:
    """The total must be a whole number of minor units."""
    with pytest.raises(InvalidAmount, match="minor units"):
        allocate(D("1.005"), [1, 1], currency("EUR"))


@given(
    code=st.sampled_from(["EUR", "JPY", "BHD", "CLF"]),
    units=st.integers(min_value=-10**9, max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
)
def test_allocate_never_loses_a_minor_unit(code: str, units: int, weights: list[int]) -> None:
    """Property: shares sum exactly to the total, are whole minor units, and each is within one unit of its exact share."""
    cur = currency(code)
    total = D(units) * cur.quantum
    shares = allocate(total, weights, cur)
    assert sum(shares, D(0)) == total
    assert len(shares) == len(weights)
    for share, weight in zip(shares, weights):
        assert round_money(share, cur) == share
        exact = total * D(weight) / D(sum(weights))
        assert abs(share - exact) < cur.quantum
        if weight == 0:
            assert share == 0
