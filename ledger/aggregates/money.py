"""Exact money: ISO 4217 currencies, amounts as Decimal, one rounding rule, loss-free allocation.

Rounding rule (the only one the ledger uses): ROUND_HALF_UP to the currency's minor unit,
i.e. halves round away from zero (2.345 -> 2.35, -2.345 -> -2.35). Charges may carry up to
six decimal places (rated usage); a bill rounds once per tax line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation

from ledger.aggregates.currencies import MINOR_UNITS
from ledger.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency

CHARGE_PLACES = 6
_CHARGE_QUANTUM = Decimal(1).scaleb(-CHARGE_PLACES)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    minor_unit: int

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.minor_unit)


_CURRENCIES = {code: Currency(code, places) for code, places in MINOR_UNITS.items()}


def currency(code: str) -> Currency:
    """The ISO 4217 currency for `code` (case-sensitive, three upper-case letters)."""
    try:
        return _CURRENCIES[code]
    except (KeyError, TypeError):
        raise UnknownCurrency(f"unknown ISO 4217 currency code {code!r}", currency=code) from None


def to_decimal(value: object, *, places: int = CHARGE_PLACES, what: str = "amount") -> Decimal:
    """Parse an exact amount from str, int or Decimal; floats are refused.

    The result must be finite and carry at most `places` decimal places.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount(f"{what} must be given exactly (a string or integer), not {type(value).__name__} {value!r}",
                            value=value)
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, (int, str)):
        try:
            amount = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise InvalidAmount(f"{what} {value!r} is not a decimal number", value=value) from None
    else:
        raise InvalidAmount(f"{what} must be a decimal string or integer, not {type(value).__name__}", value=value)
    if not amount.is_finite():
        raise InvalidAmount(f"{what} {value!r} is not a finite number", value=value)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        raise InvalidAmount(f"{what} {value!r} has more than {places} decimal places", value=value, places=places)
    return amount + ZERO  # normalises -0 to 0


def round_money(amount: Decimal, cur: Currency) -> Decimal:
    """Round once to the minor unit of `cur` with the ledger's rule (ROUND_HALF_UP)."""
    return amount.quantize(cur.quantum, rounding=ROUND_HALF_UP)


def fmt(amount: Decimal, cur: Currency) -> str:
    """Canonical text of an amount: at least the currency's minor unit, no trailing noise."""
    if amount == amount.quantize(cur.quantum):
        return str(amount.quantize(cur.quantum))
    exponent = amount.as_tuple().exponent  # an int for a finite amount (the only kind money holds)
    return str(amount.normalize()) if isinstance(exponent, int) and exponent < 0 else str(amount)


def at_minor_unit(amount: Decimal, code: str) -> Decimal:
    """`amount` written at its currency's minor unit (EUR 2 places, JPY 0): how a bill's and a payment's figures
    are shown, "0.00" and never "0". Only the exponent changes; an amount finer than the unit keeps its places."""
    quantized = amount.quantize(currency(code).quantum)
    return quantized if quantized == amount else amount


def at_rated_scale(amount: Decimal) -> Decimal:
    """`amount` at the six places rated charges carry: how every figure that sums unrounded charges (a balance,
    the unbilled total, an entry) is shown, so they all have one scale."""
    return amount.quantize(_CHARGE_QUANTUM)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency."""

    amount: Decimal
    currency: Currency

    @classmethod
    def of(cls, amount: object, code: str, *, places: int = CHARGE_PLACES) -> Money:
        return cls(to_decimal(amount, places=places), currency(code))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency.code} with {other.currency.code}",
                expected=self.currency.code,
                got=other.currency.code,
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def rounded(self) -> Money:
        return Money(round_money(self.amount, self.currency), self.currency)

    def allocate(self, weights: Sequence[Decimal | int]) -> list[Money]:
        return [Money(a, self.currency) for a in allocate(self.amount, weights, self.currency)]

    def __str__(self) -> str:
        return f"{fmt(self.amount, self.currency)} {self.currency.code}"


def allocate(total: Decimal, weights: Sequence[Decimal | int], cur: Currency) -> list[Decimal]:
    """Split `total` (a whole number of minor units) in proportion to `weights`, losing nothing.

    Largest-remainder method: each share is floored to the minor unit, then the leftover
    minor units go one each to the shares with the largest remainders (ties: earliest first).
    The shares always sum to `total` exactly.
    """
    if not weights:
        raise InvalidAmount("cannot allocate over no weights")
    if any(w < 0 for w in weights):
        raise InvalidAmount("allocation weights must not be negative")
    weight_sum = sum(Decimal(w) for w in weights)
    if weight_sum == 0:
        raise InvalidAmount("allocation weights must not all be zero")
    if round_money(total, cur) != total:
        raise InvalidAmount(f"cannot allocate {total}: not a whole number of {cur.code} minor units", amount=total)
    sign = -1 if total < 0 else 1
    units = int((abs(total) / cur.quantum).to_integral_value())
    exact = [Decimal(units) * Decimal(w) / weight_sum for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    leftover = units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:leftover]:
        floors[i] += 1
    return [sign * Decimal(f) * cur.quantum for f in floors]
