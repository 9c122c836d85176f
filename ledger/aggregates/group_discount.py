"""Group discounts on recurring charges (pure rules, no I/O).

The rule, by the account's local calendar days (like proration): a recurring charge line (one price period of one
price) is spread evenly over its quantity-days; its discount is, over the days of the line the subscription is
active on the offering, the charge's share of each day times the group rate in force that day for the customer
(none outside its memberships):

    discount = charge (tax excluded) x sum over days of (quantity x rate that day) / (100 x quantity-days)

summed exactly and rounded half-up to 6 places once per line (the bill rounds once, later), so how the days are
cut (memberships back to back, rate versions) never changes it, and it never exceeds the charge (rates are at most
100). Its tax is the line's tax rate on it. The discount is an explicit credit on the account (`gd:<charge id>`),
never a change of the charge; when what a line is worth or its days' rates change, the credit is corrected
(`gd:<charge id>:c<n>`) like the charge is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from ledger.aggregates.customer_group import HUNDRED, CustomerGroup
from ledger.aggregates.proration import SIX, ZERO, tax_on
from ledger.aggregates.subscription import ACTIVE, Subscription


@dataclass(frozen=True)
class RatedDays:
    """Days first..last a customer is in a group at one rate."""

    first: date
    last: date
    group_ref: str
    rate: Decimal


class GroupRules:
    """Every group's memberships by customer (read once per cycle run): which rate holds for a customer on a day."""

    def __init__(self, groups: Iterable[CustomerGroup]) -> None:
        self.by_customer: dict[str, list[tuple[date, date | None, CustomerGroup]]] = {}
        for group in groups:
            for customer, first, until in group.memberships():
                self.by_customer.setdefault(customer, []).append((first, until, group))
        for found in self.by_customer.values():
            found.sort(key=lambda m: m[0])

    def has(self, customer_ref: str) -> bool:
        return customer_ref in self.by_customer

    def pieces(self, customer_ref: str, first: date, last: date) -> list[RatedDays]:
        """The customer's days in groups within first..last, one piece per membership and rate version, in order."""
        found, free = [], first  # memberships overlapping across groups (the commands refuse them): the earlier holds
        for start, until, group in self.by_customer.get(customer_ref, ()):
            lo, hi = max(free, start), min(last, until) if until else last
            if lo <= hi:
                found += [RatedDays(b, e, group.group_ref, r) for b, e, r in group.rate_pieces(lo, hi)]
                free = hi + timedelta(days=1)
        return found


@dataclass(frozen=True)
class LineDiscount:
    """A line's discount now: tax-excluded and tax amounts, and by (group, rate) the quantity-days it covers."""

    tax_excluded: Decimal
    tax_amount: Decimal
    covered: tuple[tuple[str, Decimal, int], ...]
    quantity_days: int

    def description(self, charge_id: str) -> str:
        parts = ", ".join(f"{g} {r.normalize():f}% x{n}" for g, r, n in self.covered)
        return f"group discount ({parts} of {self.quantity_days} quantity-days) on {charge_id}"


def discount(charge: Decimal, quantity_days: int, weighted: Decimal) -> Decimal:
    """charge x weighted / (100 x quantity-days), half-up to 6 places; weighted = sum of quantity x rate per day."""
    if quantity_days <= 0 or not weighted or not charge:
        return ZERO
    return (charge * weighted / (HUNDRED * quantity_days)).quantize(SIX, rounding=ROUND_HALF_UP)


def line_discount(sub: Subscription, record: dict[str, str], offering_ref: str, rules: GroupRules,
                  customer_ref: str) -> LineDiscount:
    """The discount of one of the subscription's recurring lines (its record in `sub.charged`: the charge now, its
    period and tax rate) for the customer's group days."""
    first, last = date.fromisoformat(record["period_start"]), date.fromisoformat(record["period_end"])
    pieces = rules.pieces(customer_ref, first, last)
    quantity_days, weighted = 0, ZERO
    covered: dict[tuple[str, Decimal], int] = {}
    for begin, stop, phase in sub.segments(first, last):
        if phase["state"] != ACTIVE or phase["offering"] != offering_ref:
            continue
        quantity = int(phase["quantity"])
        quantity_days += quantity * ((stop - begin).days + 1)
        for piece in pieces:
            lo, hi = max(begin, piece.first), min(stop, piece.last)
            if lo <= hi:
                n = quantity * ((hi - lo).days + 1)
                weighted += n * piece.rate
                covered[(piece.group_ref, piece.rate)] = covered.get((piece.group_ref, piece.rate), 0) + n
    excluded = discount(Decimal(record["tax_excluded"]), quantity_days, weighted)
    rate = Decimal(record["tax_rate"]) if record.get("tax_rate") else None
    return LineDiscount(excluded, tax_on(excluded, rate),
                        tuple((g, r, n) for (g, r), n in covered.items() if r), quantity_days)
