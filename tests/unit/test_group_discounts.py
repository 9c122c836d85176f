"""Group discounts on members' recurring charges at the cycle: figures computed by hand, re-runs, corrections, and
(hypothesis) any split of a period's days gives the discount of the whole and never more than the charge."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.aggregates import ids
from ledger.aggregates.customer_group import CustomerGroup
from ledger.aggregates.entries import ADJUSTMENT, CHARGE, CREDIT
from ledger.aggregates.group_discount import GroupRules, discount, line_discount
from ledger.aggregates.proration import prorate
from ledger.aggregates.subscription import Subscription
from ledger.commands import ChangeSubscription, RemoveMember, UpdateGroup
from ledger.service import Ledger
from tests.support.ledger_factory import FakeClock, account_of, define_spec, make_ledger, memory_settings, open_account, run_cycle
from tests.support.master_data import (
    assign,
    bill_lines,
    create_customer,
    create_group,
    define_offering,
    recurring_price,
    subscribe,
)

D = Decimal
AT = datetime(2000, 1, 1, tzinfo=UTC)
OCT = "rc:S:2026-10-01|BASIC/monthly"
NOV = "rc:S:2026-11-01|BASIC/monthly"


def ledger_at(day: str, time_zone: str = "UTC") -> tuple[Ledger, FakeClock]:
    clock = FakeClock(datetime.fromisoformat(day + "T00:00:00+00:00"))
    ledger = make_ledger(memory_settings(), clock)
    define_spec(ledger)
    create_customer(ledger, "cust-A")
    open_account(ledger, "A", "EUR", time_zone=time_zone)  # its customer: cust-A
    return ledger, clock


def cycle(ledger: Ledger, clock: FakeClock, period_start: str, at: str) -> None:
    clock.set(datetime.fromisoformat(at))
    run_cycle(ledger, period_start)


def member_with_basic(rate: str = "10", start: str = "2026-10-05", member_from: str = "2026-10-11",
                      **price: str) -> tuple[Ledger, FakeClock]:
    """Account A (customer cust-A) on BASIC 31.00/month + 20% VAT from `start`, in group GOLD from `member_from`."""
    ledger, clock = ledger_at("2026-10-05")
    define_offering(ledger, "BASIC", recurring_price("31.00", **price))
    subscribe(ledger, "S", "A", "BASIC", start)
    create_group(ledger, "GOLD", rate)
    assign(ledger, "GOLD", "cust-A", member_from)
    return ledger, clock


# ---------------------------------------------------------------- figures by hand

def test_the_bill_shows_the_charge_and_the_group_discount_credit() -> None:
    """From 5 October (27/31 days = 27.00), in GOLD (10%) from 11 October: 21 of those 27 days discounted,
    27.00 x 21 x 10 / (100 x 27) = 2.10 (VAT 0.42); November in advance 31.00, its discount 3.10."""
    ledger, clock = member_with_basic()
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    assert bill_lines(ledger, "A", "A-00001") == [
        (CHARGE, OCT, "27.000000"), (CHARGE, NOV, "31.000000"),
        (CREDIT, f"gd:{OCT}", "-2.100000"), (CREDIT, f"gd:{NOV}", "-3.100000")]


def test_the_credit_carries_the_tax_of_the_charge_and_names_it() -> None:
    """The credit's tax is the line's VAT rate on the discount (2.10 x 20% = 0.42); its description points at the
    charge; the charge itself keeps its price."""
    ledger, clock = member_with_basic()
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    from ledger.queries.bills import bill_view

    items = {i["charge_id"]: i for i in bill_view(ledger.store, ledger.now, "A", "A-00001").to_dict()["items"]}
    credit = items[f"gd:{OCT}"]
    assert (D(credit["tax_excluded"]), D(credit["tax_included"])) == (D("-2.10"), D("-2.52"))
    assert OCT in credit["description"] and "GOLD 10%" in credit["description"]
    assert D(items[OCT]["tax_excluded"]) == D("27.00")


def test_a_rate_change_mid_period_applies_each_day_its_rate() -> None:
    """10% until 15 November, 20% from 16 November: 31.00 x (15 x 10 + 15 x 20) / (100 x 30) = 4.65."""
    ledger, clock = member_with_basic(member_from="2026-10-05")
    ledger.execute(UpdateGroup.parse({"group_id": "GOLD", "discount_rate": "20", "rate_effective_date": "2026-11-16"}))
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    assert (CREDIT, f"gd:{NOV}", "-4.650000") in bill_lines(ledger, "A", "A-00001")


def test_the_next_run_settles_without_crediting_twice() -> None:
    """November was credited in advance; the November run settles it unchanged (no new entry for it) and credits
    December (3.10) only."""
    ledger, clock = member_with_basic()
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    cycle(ledger, clock, "2026-11-01", "2026-12-01T06:00:00+00:00")
    assert bill_lines(ledger, "A", "A-00002") == [
        (CHARGE, "rc:S:2026-12-01|BASIC/monthly", "31.000000"), (CREDIT, "gd:rc:S:2026-12-01|BASIC/monthly", "-3.100000")]


def test_running_the_same_cycle_again_posts_nothing() -> None:
    """A second trigger of the same period finds every account billed: no second credit."""
    ledger, clock = member_with_basic()
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    before = account_of(ledger, "A").version
    cycle(ledger, clock, "2026-10-01", "2026-11-01T07:00:00+00:00")
    assert account_of(ledger, "A").version == before


def test_leaving_the_group_after_an_advance_credit_takes_back_the_days_after() -> None:
    """Credited 3.10 for November in advance, the member leaves after 15 November: the November run takes back
    15 of 30 days (+1.55, a correction of the credit), and December gets no discount."""
    ledger, clock = member_with_basic()
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    clock.set(datetime(2026, 11, 10, 9, tzinfo=UTC))
    ledger.execute(RemoveMember.parse({"group_id": "GOLD", "customer_id": "cust-A", "until_date": "2026-11-15"}))
    cycle(ledger, clock, "2026-11-01", "2026-12-01T06:00:00+00:00")
    assert bill_lines(ledger, "A", "A-00002") == [
        (CHARGE, "rc:S:2026-12-01|BASIC/monthly", "31.000000"), (ADJUSTMENT, f"gd:{NOV}", "1.550000")]
    assert account_of(ledger, "A").charge_record(f"gd:{NOV}")[1] == "-1.860000"  # 1.55 + 20% VAT left as credit


def test_an_upgrade_corrects_the_discount_with_the_charge() -> None:
    """Basic 31.00 to Pro 60.00 on 16 November, 10% all along: Basic's November drops to 15.50 (its credit 3.10 to
    1.55: +1.55), Pro's November 30.00 (credit 3.00), December 60.00 (credit 6.00)."""
    ledger, clock = member_with_basic(member_from="2026-10-05")
    define_offering(ledger, "PRO", recurring_price("60.00"))
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    clock.set(datetime(2026, 11, 16, 9, tzinfo=UTC))
    ledger.execute(ChangeSubscription.parse({"subscription_id": "S", "offering_id": "PRO", "effective_date": "2026-11-16"}))
    cycle(ledger, clock, "2026-11-01", "2026-12-01T06:00:00+00:00")
    lines = bill_lines(ledger, "A", "A-00002")
    assert (ADJUSTMENT, NOV, "-15.500000") in lines and (ADJUSTMENT, f"gd:{NOV}", "1.550000") in lines
    assert (CREDIT, "gd:rc:S:2026-11-01|PRO/monthly", "-3.000000") in lines
    assert (CREDIT, "gd:rc:S:2026-12-01|PRO/monthly", "-6.000000") in lines


def test_one_time_prices_get_no_group_discount() -> None:
    """The discount is on recurring charges: an activation fee is charged in full."""
    ledger, clock = ledger_at("2026-10-05")
    define_offering(ledger, "BASIC", recurring_price("31.00"),
                    {"price_id": "activation", "price_type": "oneTime", "currency": "EUR", "amount": "10.00",
                     "valid_from": "2026-01-01"})
    subscribe(ledger, "S", "A", "BASIC", "2026-10-05")
    create_group(ledger, "GOLD", "10")
    assign(ledger, "GOLD", "cust-A", "2026-10-05")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    assert not any(charge.startswith("gd:ot:") for _, charge, _ in bill_lines(ledger, "A", "A-00001"))


def test_a_customer_in_no_group_gets_no_credit() -> None:
    """Groups exist, but this customer is in none: the bill has the charges only."""
    ledger, clock = ledger_at("2026-10-05")
    define_offering(ledger, "BASIC", recurring_price("31.00"))
    subscribe(ledger, "S", "A", "BASIC", "2026-10-05")
    create_group(ledger, "GOLD", "10")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    assert [kind for kind, _, _ in bill_lines(ledger, "A", "A-00001")] == [CHARGE, CHARGE]


def test_the_days_are_the_accounts_local_days() -> None:
    """In Pacific/Auckland the membership from 11 October covers 21 local days of October, as in UTC: 2.10."""
    ledger, clock = ledger_at("2026-10-05", time_zone="Pacific/Auckland")
    define_offering(ledger, "BASIC", recurring_price("31.00"))
    subscribe(ledger, "S", "A", "BASIC", "2026-10-05")
    create_group(ledger, "GOLD", "10")
    assign(ledger, "GOLD", "cust-A", "2026-10-11")
    cycle(ledger, clock, "2026-10-01", "2026-11-02T06:00:00+00:00")
    assert (CREDIT, f"gd:{OCT}", "-2.100000") in bill_lines(ledger, "A", "A-00001")


# ---------------------------------------------------------------- the rule (hypothesis)

cents = st.integers(min_value=0, max_value=10**8).map(lambda n: Decimal(n).scaleb(-2))
rates = st.integers(min_value=0, max_value=10_000).map(lambda n: Decimal(n).scaleb(-2))  # 0.00 .. 100.00


def _sub(first: date, last: date, quantity: int = 1) -> Subscription:
    return Subscription.create(AT, id=ids.subscription_id("S"), subscription_ref="S", account_ref="A",
                               account_id=ids.account_id("A"), offering_ref="P", quantity=quantity, start_date=first,
                               end_date=last)


def _record(first: date, last: date, charge: Decimal) -> dict[str, str]:
    return {"period_start": first.isoformat(), "period_end": last.isoformat(), "tax_excluded": str(charge),
            "tax_rate": "20"}


@st.composite
def periods_and_cuts(draw: st.DrawFn) -> tuple[date, int, list[int]]:
    first = date(2026, 1, 1) + timedelta(days=draw(st.integers(min_value=0, max_value=730)))
    days = draw(st.integers(min_value=1, max_value=366))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=days - 1), max_size=20))) if days > 1 else []
    return first, days, cuts


@settings(max_examples=200, deadline=None)
@given(cents, rates, periods_and_cuts(), st.integers(min_value=1, max_value=5))
def test_memberships_back_to_back_discount_exactly_as_one(charge: Decimal, rate: Decimal,
                                                         period: tuple[date, int, list[int]], quantity: int) -> None:
    """A period's days cut into back-to-back memberships give exactly the discount of one membership over the whole
    period (= rate x charge), never more than the charge."""
    first, days, cuts = period
    last = first + timedelta(days=days - 1)
    whole = CustomerGroup.create(AT, id=ids.group_id("W"), group_ref="W", name="W", description="", discount_rate=rate,
                                 preferences={})
    whole.assign(AT, "C", first, last, date(2000, 1, 1))
    split = CustomerGroup.create(AT, id=ids.group_id("S"), group_ref="S", name="S", description="", discount_rate=rate,
                                 preferences={})
    bounds = [0, *cuts, days]
    for a, b in zip(bounds, bounds[1:]):
        split.assign(AT, "C", first + timedelta(days=a), first + timedelta(days=b - 1), date(2000, 1, 1))
    sub, record = _sub(first, last, quantity), _record(first, last, charge)
    one = line_discount(sub, record, "P", GroupRules([whole]), "C")
    many = line_discount(sub, record, "P", GroupRules([split]), "C")
    assert (many.tax_excluded, many.tax_amount) == (one.tax_excluded, one.tax_amount)
    assert one.tax_excluded == (charge * rate / 100).quantize(D("0.000001"), rounding=ROUND_HALF_UP) <= charge


@settings(max_examples=200, deadline=None)
@given(cents, st.lists(rates, min_size=1, max_size=6), periods_and_cuts(), st.integers(min_value=0, max_value=400))
def test_rate_versions_and_memberships_give_the_exact_sum_of_each_days_discount(
        charge: Decimal, versions: list[Decimal], period: tuple[date, int, list[int]], joined: int) -> None:
    """Whatever rate versions cut the period and wherever the membership starts, the discount is the sum over the
    days of (charge / days x that day's rate), rounded once to 6 places, and never more than the charge."""
    first, days, cuts = period
    last = first + timedelta(days=days - 1)
    group = CustomerGroup.create(AT, id=ids.group_id("G"), group_ref="G", name="G", description="",
                                 discount_rate=versions[0], preferences={})
    for cut, rate in zip(cuts, versions[1:]):
        group.change_rate(AT, rate, first + timedelta(days=cut), date(2000, 1, 1))
    start = first + timedelta(days=joined)
    group.assign(AT, "C", start, None, date(2000, 1, 1))
    found = line_discount(_sub(first, last), _record(first, last, charge), "P", GroupRules([group]), "C")
    weighted = sum((group.rate_on(first + timedelta(days=k)) for k in range(days) if first + timedelta(days=k) >= start),
                   D(0))
    assert found.tax_excluded == discount(charge, days, weighted) <= charge
    assert 0 <= found.tax_amount <= (charge * D("0.2")).quantize(D("0.000001"), rounding=ROUND_HALF_UP)


@settings(max_examples=300, deadline=None)
@given(cents, rates, periods_and_cuts())
def test_the_discounts_of_the_pieces_of_a_split_period_sum_to_the_whole_to_the_cent(
        amount: Decimal, rate: Decimal, period: tuple[date, int, list[int]]) -> None:
    """Pricing each piece of a split period on its own (each prorated and discounted at 6 places) gives, summed,
    the discount of the whole period within a cent (within a millionth a piece), never more than the charge."""
    _, days, cuts = period
    bounds = [0, *cuts, days]
    pieces = [b - a for a, b in zip(bounds, bounds[1:])]
    whole = discount(amount, days, rate * days)
    parts = [discount(prorate(amount, n, days), n, rate * n) for n in pieces]
    assert abs(sum(parts, D(0)) - whole) <= D("0.000001") * (len(pieces) + 1) < D("0.01")
    assert all(p <= prorate(amount, n, days) for p, n in zip(parts, pieces)) and whole <= amount
