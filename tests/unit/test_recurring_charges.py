"""Recurring plan charges at the cycle, prorated by day in the account's time zone; figures computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.aggregates.entries import ADJUSTMENT, CHARGE
from ledger.commands import AddOfferingPrice, ChangeSubscription, ResumeSubscription, SuspendSubscription, TerminateSubscription
from ledger.errors import CurrencyMismatch, InvalidInput, OfferingNotFound, RuleViolation
from ledger.service import Ledger
from tests.support.ledger_factory import FakeClock, account_of, define_spec, make_ledger, memory_settings, open_account, run_cycle
from tests.support.master_data import bill_lines, define_offering, recurring_price, subscribe

D = Decimal


def ledger_at(day: str, time_zone: str = "UTC", **account: Any) -> tuple[Ledger, FakeClock]:
    clock = FakeClock(datetime.fromisoformat(day + "T00:00:00+00:00"))
    ledger = make_ledger(memory_settings(), clock)
    define_spec(ledger)
    open_account(ledger, "A", "EUR", time_zone=time_zone, **account)
    return ledger, clock


def cycle(ledger: Ledger, clock: FakeClock, period_start: str, at: str) -> dict[str, Any]:
    clock.set(datetime.fromisoformat(at))
    return run_cycle(ledger, period_start)


def amounts(ledger: Ledger, number: str) -> list[str]:
    return [amount for _, _, amount in bill_lines(ledger, "A", number)]


def test_start_mid_period_in_advance_charges_the_days_left_and_the_next_period() -> None:
    """Starting on 15 October (advance, 31.00/month): October 17/31 days = 17.00, November in full, activation once."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "BASIC", recurring_price("31.00"),
                    {"price_id": "activation", "price_type": "oneTime", "currency": "EUR", "amount": "10.00",
                     "valid_from": "2026-01-01"})
    subscribe(ledger, "S", "A", "BASIC", "2026-10-15")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    assert bill_lines(ledger, "A", "A-00001") == [
        (CHARGE, "rc:S:2026-10-01|BASIC/monthly", "17.000000"), (CHARGE, "rc:S:2026-11-01|BASIC/monthly", "31.000000"),
        (CHARGE, "ot:S:BASIC/activation", "10.00")]


def test_upgrade_mid_period_credits_the_unused_days_pointing_at_the_charge() -> None:
    """Basic 31.00 to Pro 60.00 on 16 November: credit 15/30 of Basic's November, Pro 15/30 of 60, December in full."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "BASIC", recurring_price("31.00"))
    define_offering(ledger, "PRO", recurring_price("60.00"))
    subscribe(ledger, "S", "A", "BASIC", "2026-10-15")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    clock.set(datetime(2026, 11, 16, 9, tzinfo=UTC))
    ledger.execute(ChangeSubscription.parse({"subscription_id": "S", "offering_id": "PRO", "effective_date": "2026-11-16"}))
    cycle(ledger, clock, "2026-11-01", "2026-12-01T06:00:00+00:00")
    assert bill_lines(ledger, "A", "A-00002") == [
        (ADJUSTMENT, "rc:S:2026-11-01|BASIC/monthly", "-15.500000"), (CHARGE, "rc:S:2026-11-01|PRO/monthly", "30.000000"),
        (CHARGE, "rc:S:2026-12-01|PRO/monthly", "60.000000")]


def test_a_subscription_starting_and_ending_in_one_period_pays_its_days() -> None:
    """In arrears, 10 to 20 October is 11 of 31 days: 31.00 x 11/31 = 11.00, nothing after."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "BASIC", recurring_price("31.00", timing="arrears", tax_rate=None))
    subscribe(ledger, "S", "A", "BASIC", "2026-10-10", end_date="2026-10-20")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    assert amounts(ledger, "A-00001") == ["11.000000"]
    assert cycle(ledger, clock, "2026-11-01", "2026-12-01T06:00:00+00:00").accounts_billed == 0


@pytest.mark.parametrize("period_start, start, expected", [
    ("2028-02-01", "2028-02-15", "5.172414"),   # leap February: 15 of 29 days of 10.00 = 5.1724137...
    ("2027-02-01", "2027-02-15", "5.000000"),   # February 2027: 14 of 28 days
    ("2027-01-01", "2027-01-22", "3.225806"),   # January: 10 of 31 days = 3.2258064...
    ("2027-04-01", "2027-04-21", "3.333333"),   # April: 10 of 30 days
])
def test_month_lengths_and_leap_days_prorate_by_their_own_days(period_start: str, start: str, expected: str) -> None:
    """A period is prorated over its own number of days: 28, 29, 30 or 31."""
    ledger, clock = ledger_at(period_start)
    define_offering(ledger, "BASIC", recurring_price("10.00", timing="arrears", tax_rate=None))
    subscribe(ledger, "S", "A", "BASIC", start)
    end = date.fromisoformat(period_start).replace(month=date.fromisoformat(period_start).month % 12 + 1)
    cycle(ledger, clock, period_start, f"{end.isoformat()}T06:00:00+00:00")
    assert amounts(ledger, "A-00001") == [expected]


def test_month_end_billing_day_periods_follow_the_clamped_calendar() -> None:
    """Billing day 31: the period 31 January .. 27 February 2027 has 28 days; 14 of them at 28.00 = 14.00."""
    clock = FakeClock(datetime(2027, 1, 31, tzinfo=UTC))
    ledger = make_ledger(memory_settings(), clock)
    define_spec(ledger, billing_day=31)
    open_account(ledger, "A", "EUR")
    define_offering(ledger, "BASIC", recurring_price("28.00", timing="arrears", tax_rate=None))
    subscribe(ledger, "S", "A", "BASIC", "2027-02-14")
    cycle(ledger, clock, "2027-01-31", "2027-02-28T06:00:00+00:00")
    assert amounts(ledger, "A-00001") == ["14.000000"]


def test_a_dst_day_is_one_day_and_charges_start_at_local_midnight() -> None:
    """Paris leaves summer time on 25 October 2026: 25..31 October is 7 of 31 days; October's line is effective at
    its first local midnight (UTC+2), November's advance line at 31 October's (UTC+1: the cycle's charge date)."""
    ledger, clock = ledger_at("2026-09-30", time_zone="Europe/Paris")
    define_offering(ledger, "BASIC", recurring_price("31.00", tax_rate=None))
    subscribe(ledger, "S", "A", "BASIC", "2026-10-25")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    from ledger.queries.bills import bill_view

    items = bill_view(ledger.store, ledger.now, "A", "A-00001").items
    assert [(i["tax_excluded"], i["effective_at"]) for i in items] == [
        ("7.000000", "2026-09-30T22:00:00+00:00"), ("31.000000", "2026-10-30T23:00:00+00:00")]


def test_a_line_of_the_opening_period_is_effective_no_earlier_than_the_opening() -> None:
    """Opened at 02:00 Paris time on 1 October: October's line is effective at the opening, not at local midnight."""
    ledger, clock = ledger_at("2026-10-01", time_zone="Europe/Paris")
    define_offering(ledger, "BASIC", recurring_price("31.00", tax_rate=None))
    subscribe(ledger, "S", "A", "BASIC", "2026-10-01")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    from ledger.queries.bills import bill_view

    items = bill_view(ledger.store, ledger.now, "A", "A-00001").items
    assert items[0]["effective_at"] == "2026-10-01T00:00:00+00:00"


def test_suspended_days_are_credited_on_a_period_billed_in_advance() -> None:
    """30.00 in advance; suspended 11..20 November: a credit of 10 of 30 days = 10.00 on the November cycle."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "BASIC", recurring_price("30.00", tax_rate=None))
    subscribe(ledger, "S", "A", "BASIC", "2026-11-01")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    ledger.execute(SuspendSubscription.parse({"subscription_id": "S", "effective_date": "2026-11-11"}))
    ledger.execute(ResumeSubscription.parse({"subscription_id": "S", "effective_date": "2026-11-21"}))
    cycle(ledger, clock, "2026-11-01", "2026-12-01T06:00:00+00:00")
    assert bill_lines(ledger, "A", "A-00002")[0] == (ADJUSTMENT, "rc:S:2026-11-01|BASIC/monthly", "-10.000000")


def test_cancellation_credits_the_rest_of_a_period_billed_in_advance() -> None:
    """Ending on 10 November a subscription billed 30.00 for November gets 20 of 30 days back; nothing for December."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "BASIC", recurring_price("30.00", tax_rate=None))
    subscribe(ledger, "S", "A", "BASIC", "2026-11-01")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    ledger.execute(TerminateSubscription.parse({"subscription_id": "S", "end_date": "2026-11-10"}))
    cycle(ledger, clock, "2026-11-01", "2026-12-01T06:00:00+00:00")
    assert bill_lines(ledger, "A", "A-00002") == [(ADJUSTMENT, "rc:S:2026-11-01|BASIC/monthly", "-20.000000")]


def test_quantity_changes_weigh_each_day_with_its_quantity() -> None:
    """Quantity 1 on 1..10 October, 3 from the 11th (arrears, 31.00): (10 + 3 x 21) / 31 x 31.00 = 73.00."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "SEAT", recurring_price("31.00", timing="arrears", tax_rate=None))
    subscribe(ledger, "S", "A", "SEAT", "2026-10-01")
    ledger.execute(ChangeSubscription.parse({"subscription_id": "S", "quantity": 3, "effective_date": "2026-10-11"}))
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    assert amounts(ledger, "A-00001") == ["73.000000"]


def test_a_change_at_period_end_takes_effect_with_the_next_period() -> None:
    """A downgrade asked for on 16 November at the period's end starts on 1 December: November is not touched."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "PRO", recurring_price("60.00", tax_rate=None))
    define_offering(ledger, "BASIC", recurring_price("31.00", tax_rate=None))
    subscribe(ledger, "S", "A", "PRO", "2026-11-01")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    ledger.execute(ChangeSubscription.parse({"subscription_id": "S", "offering_id": "BASIC",
                                             "effective_date": "2026-11-16", "at_period_end": True}))
    cycle(ledger, clock, "2026-11-01", "2026-12-01T06:00:00+00:00")
    assert bill_lines(ledger, "A", "A-00002") == [(CHARGE, "rc:S:2026-12-01|BASIC/monthly", "31.000000")]


def test_tax_is_computed_on_each_charge_and_credit() -> None:
    """VAT 20% on 17.00 is 3.40; the bill rounds once."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "BASIC", recurring_price("31.00", timing="arrears"))
    subscribe(ledger, "S", "A", "BASIC", "2026-10-15")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    assert account_of(ledger, "A").balance == D("20.40")


def test_a_resumed_or_repeated_run_never_charges_twice() -> None:
    """Triggering a completed cycle again changes nothing; the subscription remembers what it charged."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "BASIC", recurring_price("31.00"))
    subscribe(ledger, "S", "A", "BASIC", "2026-10-15")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    balance = account_of(ledger, "A").balance
    assert cycle(ledger, clock, "2026-10-01", "2026-11-02T06:00:00+00:00").already_completed
    assert account_of(ledger, "A").balance == balance


def test_a_settled_period_cannot_be_changed_any_more() -> None:
    """After October's cycle, a change effective in October is refused (it would reopen a settled period)."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "BASIC", recurring_price("31.00", timing="arrears"))
    subscribe(ledger, "S", "A", "BASIC", "2026-10-01")
    cycle(ledger, clock, "2026-10-01", "2026-11-01T06:00:00+00:00")
    with pytest.raises(RuleViolation, match="billed up to 2026-10-31"):
        ledger.execute(ChangeSubscription.parse({"subscription_id": "S", "quantity": 2, "effective_date": "2026-10-20"}))


def test_a_new_price_version_prices_periods_from_its_start() -> None:
    """Version 2 (40.00 from 1 December) prices December; November stays at version 1."""
    ledger, clock = ledger_at("2026-10-01")
    define_offering(ledger, "BASIC", recurring_price("31.00", tax_rate=None, timing="arrears"))
    subscribe(ledger, "S", "A", "BASIC", "2026-11-01")
    clock.set(datetime(2026, 11, 20, tzinfo=UTC))
    ledger.execute(AddOfferingPrice.parse({"offering_id": "BASIC", "price": recurring_price(
        "40.00", tax_rate=None, timing="arrears", valid_from="2026-12-01")}))
    cycle(ledger, clock, "2026-11-01", "2026-12-01T06:00:00+00:00")
    cycle(ledger, clock, "2026-12-01", "2027-01-01T06:00:00+00:00")
    assert (amounts(ledger, "A-00001"), amounts(ledger, "A-00002")) == (["31.000000"], ["40.000000"])


# ---------------------------------------------------------------- bad input


def _ready() -> Ledger:
    ledger, _ = ledger_at("2026-10-05")
    define_offering(ledger, "BASIC", recurring_price("31.00"))
    return ledger


@pytest.mark.parametrize("values, error", [
    ({"offering_id": "NOPE"}, OfferingNotFound),
    ({"start_date": "2026-10-04"}, RuleViolation),  # before the account opened
    ({"quantity": 0}, InvalidInput),
    ({"quantity": "1.5"}, InvalidInput),
    ({"quantity": 1.0}, InvalidInput),
    ({"quantity": True}, InvalidInput),
])
def test_bad_subscriptions_are_refused(values: dict[str, Any], error: type[Exception]) -> None:
    """Unknown offering, a start before the account opened, a quantity that is not a positive integer: refused."""
    ledger = _ready()
    with pytest.raises(error):
        subscribe(ledger, "S", "A", **{"offering": values.pop("offering_id", "BASIC"),
                                       "start": values.pop("start_date", "2026-10-15")}, **values)


def test_a_subscription_in_another_currency_is_refused() -> None:
    """An offering priced in USD cannot be billed on a EUR account."""
    ledger = _ready()
    define_offering(ledger, "US", recurring_price("10.00", currency="USD"))
    with pytest.raises(CurrencyMismatch):
        subscribe(ledger, "S", "A", "US", "2026-10-15")


def test_prepaid_accounts_take_no_subscription() -> None:
    """Subscriptions are billed at the cycle: a prepaid account has no bills."""
    ledger = _ready()
    open_account(ledger, "P", "EUR", rating_type="prepaid")
    with pytest.raises(RuleViolation, match="prepaid"):
        subscribe(ledger, "S", "P", "BASIC", "2026-10-15")


@pytest.mark.parametrize("valid_from", ["2026-10-05", "2025-12-01"])
def test_price_versions_must_start_ahead_and_never_overlap(valid_from: str) -> None:
    """A new version starting today (or inside the first one) is refused."""
    ledger = _ready()
    with pytest.raises(RuleViolation):
        ledger.execute(AddOfferingPrice.parse({"offering_id": "BASIC", "price": recurring_price("40.00", valid_from=valid_from)}))


def test_a_price_version_in_the_past_of_a_bounded_one_overlaps() -> None:
    """Versions 2026-01-01..2026-06-30 and then 2026-03-01..: overlapping, refused."""
    ledger = _ready()
    define_offering(ledger, "B2", recurring_price("10.00", valid_to="2027-06-30"))
    with pytest.raises(RuleViolation, match="overlaps"):
        ledger.execute(AddOfferingPrice.parse({"offering_id": "B2", "price": recurring_price("12.00", valid_from="2027-03-01")}))
