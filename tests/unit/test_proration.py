"""Proration rules (hypothesis): the pieces of a split period add up to the full charge; credits never exceed it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.aggregates import ids
from ledger.aggregates.billing_calendar import CycleSpecification, next_occurrence, occurrence
from ledger.aggregates.money import currency, round_money
from ledger.aggregates.product_offering import ProductOffering
from ledger.aggregates.proration import postings, prorate
from ledger.aggregates.subscription import Subscription
from tests.support.master_data import MONTHLY, apply_moves

EUR = currency("EUR")
AT = datetime(2026, 9, 1, tzinfo=UTC)
SPEC = CycleSpecification("monthly")
OCTOBER = occurrence(SPEC, date(2026, 10, 1))
NOVEMBER = next_occurrence(SPEC, OCTOBER)
cents = st.integers(min_value=0, max_value=10**9).map(lambda n: Decimal(n).scaleb(-2))


@st.composite
def splits(draw: st.DrawFn) -> tuple[int, list[int]]:
    days = draw(st.integers(min_value=1, max_value=366))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=days - 1), max_size=30))) if days > 1 else []
    bounds = [0, *cuts, days]
    return days, [b - a for a, b in zip(bounds, bounds[1:])]


@given(cents, splits())
def test_the_pieces_of_any_split_sum_to_the_full_charge_to_the_cent(amount: Decimal, split: tuple[int, list[int]]) -> None:
    """Prorating every piece of a period (6 places each) and rounding the sum gives the full-period charge."""
    days, pieces = split
    assert round_money(sum((prorate(amount, n, days) for n in pieces), Decimal(0)), EUR) == amount


def _offering(amount: Decimal) -> ProductOffering:
    offering = ProductOffering.create(AT, id=ids.offering_id("P"), offering_ref="P", name="P", description="")
    offering.add_price_version(AT, price_id="monthly", terms=MONTHLY, amount=amount, valid_from=date(2026, 1, 1),
                               valid_to=None)
    return offering


changes = st.lists(st.tuples(st.integers(min_value=1, max_value=29), st.sampled_from(["qty", "suspend", "resume", "end"]),
                             st.integers(min_value=1, max_value=5)), max_size=6)


@settings(max_examples=200, deadline=None)
@given(cents, st.integers(min_value=1, max_value=5), changes)
def test_credits_never_exceed_what_was_charged(amount: Decimal, quantity: int,
                                                moves: list[tuple[int, str, int]]) -> None:
    """Whatever happens in a month billed in advance, its corrections never take a line below zero, and what it is
    charged in the end equals the days used."""
    offerings = {"P": _offering(amount)}
    sub = Subscription.create(AT, id=ids.subscription_id("S"), subscription_ref="S", account_ref="A",
                              account_id=ids.account_id("A"), offering_ref="P", quantity=quantity,
                              start_date=date(2026, 10, 1), end_date=None)
    first = postings(sub, offerings, SPEC, OCTOBER, NOVEMBER)
    sub.record_charges(AT, OCTOBER.period_end, [p.line() for p in first])
    charged = {p.worth.key: p.tax_excluded + p.tax_amount for p in first}
    apply_moves(sub, AT, NOVEMBER.period_start, moves)
    for posting in postings(sub, offerings, SPEC, NOVEMBER, next_occurrence(SPEC, NOVEMBER)):
        if posting.correction:
            change = posting.tax_excluded + posting.tax_amount
            assert -change <= charged[posting.worth.key]
            assert posting.worth.tax_excluded >= 0
