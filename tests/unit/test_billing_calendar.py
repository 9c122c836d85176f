"""Unit tests for ledger.aggregates.billing_calendar: billing-period dates and local-day boundaries."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.aggregates.billing_calendar import (
    FREQUENCY_MONTHS,
    CycleCalendarError,
    CycleDates,
    CycleSpecification,
    check_time_zone,
    end_of_day_exclusive,
    next_occurrence,
    occurrence,
    occurrence_containing,
    period_starts_on,
    start_of_day,
)

ONE_DAY = timedelta(days=1)


def _occurrences(spec, first_start, count):
    dates = [occurrence(spec, first_start)]
    while len(dates) < count:
        dates.append(next_occurrence(spec, dates[-1]))
    return dates


def _utc_length(dates, time_zone):
    return end_of_day_exclusive(dates.period_end, time_zone) - start_of_day(dates.period_start, time_zone)


# --- billing periods -------------------------------------------------------------------------


def test_calendar_month_occurrence_has_all_derived_dates():
    """billing_day 1 gives calendar months, and every derived date follows its offset."""
    spec = CycleSpecification(
        "calendar", charge_date_offset=-1, credit_date_offset=3, bill_date_offset=2,
        mailing_date_offset=1, payment_due_date_offset=20,
    )
    assert occurrence(spec, date(2027, 1, 1)) == CycleDates(
        period_start=date(2027, 1, 1),
        period_end=date(2027, 1, 31),
        bill_date=date(2027, 2, 3),
        charge_date=date(2027, 1, 30),
        credit_date=date(2027, 2, 3),
        mailing_date=date(2027, 2, 4),
        payment_due_date=date(2027, 2, 23),
    )


def test_default_offsets():
    """With default offsets, bill the day after the period, mail 2 days and fall due 14 days later."""
    dates = occurrence(CycleSpecification("calendar"), date(2027, 2, 1))
    assert (dates.period_end, dates.charge_date, dates.credit_date) == (date(2027, 2, 28),) * 3
    assert (dates.bill_date, dates.mailing_date, dates.payment_due_date) == (
        date(2027, 3, 1), date(2027, 3, 3), date(2027, 3, 15),
    )


def test_calendar_months_follow_each_other_through_the_year():
    """Monthly calendar periods run 1st to last day of each month for a whole year."""
    periods = _occurrences(CycleSpecification("calendar"), date(2027, 1, 1), 12)
    assert [(p.period_start.month, p.period_start.day) for p in periods] == [(m, 1) for m in range(1, 13)]
    assert periods[1].period_end == date(2027, 2, 28)
    assert periods[-1].period_end == date(2027, 12, 31)


def test_billing_day_15_runs_from_the_15th_to_the_14th():
    """billing_day 15 gives periods from the 15th to the 14th of the next month."""
    dates = occurrence(CycleSpecification("mid", billing_day=15), date(2027, 1, 15))
    assert (dates.period_start, dates.period_end) == (date(2027, 1, 15), date(2027, 2, 14))


def test_billing_day_31_is_month_end_anchored_for_a_whole_year():
    """billing_day 31 starts each period on the clamped 31st, contiguous with no gaps or overlaps."""
    spec = CycleSpecification("month-end", billing_day=31)
    periods = _occurrences(spec, date(2027, 1, 31), 13)
    expected_starts = [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30),
                       date(2027, 5, 31), date(2027, 6, 30), date(2027, 7, 31), date(2027, 8, 31),
                       date(2027, 9, 30), date(2027, 10, 31), date(2027, 11, 30), date(2027, 12, 31),
                       date(2028, 1, 31)]
    assert [p.period_start for p in periods] == expected_starts
    assert all(b.period_start == a.period_end + ONE_DAY for a, b in zip(periods, periods[1:]))


@pytest.mark.parametrize(
    ("year", "billing_day", "february_start"),
    [
        (2028, 29, date(2028, 2, 29)),
        (2028, 30, date(2028, 2, 29)),
        (2028, 31, date(2028, 2, 29)),
        (2027, 29, date(2027, 2, 28)),
        (2027, 30, date(2027, 2, 28)),
        (2027, 31, date(2027, 2, 28)),
    ],
)
def test_february_start_is_clamped_to_the_last_day(year, billing_day, february_start):
    """billing_day 29/30/31 starts February's period on its last day, in leap and non-leap years."""
    spec = CycleSpecification("late", billing_day=billing_day)
    january = occurrence(spec, date(year, 1, billing_day))
    february = next_occurrence(spec, january)
    assert january.period_end == february_start - ONE_DAY
    assert february.period_start == february_start
    assert february.period_end == date(year, 3, billing_day) - ONE_DAY


def test_quarterly_periods_start_in_months_aligned_with_anchor_month():
    """Quarterly with anchor_month 2 starts periods in Feb, May, Aug and Nov only."""
    spec = CycleSpecification("quarterly", frequency="quarterly", billing_day=10, anchor_month=2)
    periods = _occurrences(spec, date(2027, 2, 10), 5)
    assert [p.period_start for p in periods] == [
        date(2027, 2, 10), date(2027, 5, 10), date(2027, 8, 10), date(2027, 11, 10), date(2028, 2, 10),
    ]
    assert periods[0].period_end == date(2027, 5, 9)
    assert not period_starts_on(spec, date(2027, 3, 10))


def test_anchor_month_is_ignored_for_monthly_cycles():
    """For a monthly cycle every month holds a period start whatever the anchor month."""
    spec = CycleSpecification("monthly", billing_day=5, anchor_month=7)
    assert all(period_starts_on(spec, date(2027, month, 5)) for month in range(1, 13))


def test_occurrence_containing_a_date():
    """The occurrence containing a day is the period that starts on or before it."""
    spec = CycleSpecification("mid", billing_day=15)
    assert occurrence_containing(spec, date(2027, 3, 14)).period_start == date(2027, 2, 15)
    assert occurrence_containing(spec, date(2027, 3, 15)).period_start == date(2027, 3, 15)
    assert occurrence_containing(spec, date(2027, 3, 16)).period_start == date(2027, 3, 15)


def test_occurrence_containing_a_date_before_the_clamped_start():
    """A day before the clamped month-end start belongs to the previous period."""
    spec = CycleSpecification("month-end", frequency="quarterly", billing_day=31, anchor_month=2)
    dates = occurrence_containing(spec, date(2027, 2, 27))
    assert (dates.period_start, dates.period_end) == (date(2026, 11, 30), date(2027, 2, 27))


def test_misaligned_period_start_raises_naming_nearby_valid_starts():
    """A period start that is not a valid start raises, naming it and the valid starts around it."""
    spec = CycleSpecification("quarterly", frequency="quarterly", billing_day=10, anchor_month=2)
    with pytest.raises(CycleCalendarError) as raised:
        occurrence(spec, date(2027, 3, 10))
    message = str(raised.value)
    assert "2027-03-10" in message
    assert "2027-02-10" in message and "2027-05-10" in message


def test_unclamped_day_in_short_month_is_not_a_period_start():
    """With billing_day 31, 30 Mar is not a valid start (31 Mar is)."""
    spec = CycleSpecification("month-end", billing_day=31)
    assert not period_starts_on(spec, date(2027, 3, 30))
    assert period_starts_on(spec, date(2027, 3, 31))


@pytest.mark.parametrize(
    ("overrides", "offending"),
    [
        ({"billing_day": 0}, "billing_day"),
        ({"billing_day": 32}, "billing_day"),
        ({"billing_day": True}, "billing_day"),
        ({"frequency": "weekly"}, "weekly"),
        ({"anchor_month": 13}, "anchor_month"),
        ({"payment_due_date_offset": -1}, "payment_due_date_offset"),
        ({"bill_date_offset": -1}, "bill_date_offset"),
        ({"mailing_date_offset": -1}, "mailing_date_offset"),
        ({"charge_date_offset": 1.5}, "charge_date_offset"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_spec_values_raise_naming_the_offending_value(overrides, offending):
    """An invalid specification value raises CycleCalendarError naming the field or value."""
    with pytest.raises(CycleCalendarError, match=offending):
        CycleSpecification(**{"name": "bad", **overrides})


def test_negative_charge_and_credit_offsets_are_allowed():
    """Charge and credit cut-offs may fall before the period end."""
    spec = CycleSpecification("early", charge_date_offset=-3, credit_date_offset=-5)
    dates = occurrence(spec, date(2027, 4, 1))
    assert (dates.charge_date, dates.credit_date) == (date(2027, 4, 27), date(2027, 4, 25))


def test_cycle_calendar_error_is_a_value_error():
    """CycleCalendarError can be caught as ValueError."""
    assert issubclass(CycleCalendarError, ValueError)


# --- local day boundaries --------------------------------------------------------------------


def test_new_york_march_period_is_one_hour_short():
    """America/New_York March 2027 (spring forward) lasts 31 days minus 1 hour in UTC."""
    dates = occurrence(CycleSpecification("calendar"), date(2027, 3, 1))
    assert start_of_day(date(2027, 3, 1), "America/New_York") == datetime(2027, 3, 1, 5, tzinfo=UTC)
    assert _utc_length(dates, "America/New_York") == timedelta(days=31, hours=-1)


def test_new_york_november_period_is_one_hour_long():
    """America/New_York November 2027 (fall back) lasts 30 days plus 1 hour in UTC."""
    dates = occurrence(CycleSpecification("calendar"), date(2027, 11, 1))
    assert _utc_length(dates, "America/New_York") == timedelta(days=30, hours=1)


def test_london_periods_across_both_changes():
    """Europe/London March 2027 is 1 hour short and October 2027 is 1 hour long."""
    spec = CycleSpecification("calendar")
    assert _utc_length(occurrence(spec, date(2027, 3, 1)), "Europe/London") == timedelta(days=31, hours=-1)
    assert _utc_length(occurrence(spec, date(2027, 10, 1)), "Europe/London") == timedelta(days=31, hours=1)


def test_sydney_southern_hemisphere_changes():
    """Australia/Sydney April 2027 (DST ends) is 1 hour long, October 2027 (DST starts) 1 hour short."""
    spec = CycleSpecification("calendar")
    assert start_of_day(date(2027, 4, 1), "Australia/Sydney") == datetime(2027, 3, 31, 13, tzinfo=UTC)
    assert _utc_length(occurrence(spec, date(2027, 4, 1)), "Australia/Sydney") == timedelta(days=30, hours=1)
    assert _utc_length(occurrence(spec, date(2027, 10, 1)), "Australia/Sydney") == timedelta(days=31, hours=-1)


@pytest.mark.parametrize(
    ("time_zone", "day", "first_instant", "first_local_time"),
    [
        # Verified against the installed tzdata: clocks jump from 00:00 to 01:00 on these days.
        ("America/Santiago", date(2027, 9, 5), datetime(2027, 9, 5, 4, tzinfo=UTC), "01:00"),
        ("America/Havana", date(2027, 3, 14), datetime(2027, 3, 14, 5, tzinfo=UTC), "01:00"),
        ("Asia/Beirut", date(2027, 3, 28), datetime(2027, 3, 27, 22, tzinfo=UTC), "01:00"),
    ],
)
def test_start_of_day_when_midnight_is_skipped(time_zone, day, first_instant, first_local_time):
    """When local midnight does not exist, the day starts at its first existing instant, not the day before."""
    zone = ZoneInfo(time_zone)
    naive_midnight = datetime(day.year, day.month, day.day)
    round_trip = naive_midnight.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    assert round_trip != naive_midnight, "precondition: local midnight is in a DST gap"

    start = start_of_day(day, time_zone)
    assert start == first_instant
    assert start.tzinfo == UTC
    assert start.astimezone(zone).date() == day
    assert start.astimezone(zone).strftime("%H:%M") == first_local_time
    assert (start - timedelta(seconds=1)).astimezone(zone).date() == day - ONE_DAY
    assert end_of_day_exclusive(day - ONE_DAY, time_zone) == start


def test_start_of_day_when_the_gap_straddles_midnight():
    """America/Toronto jumped from 23:30 on 30 Mar 1919 to 00:30 on 31 Mar: the day starts at 00:30."""
    zone = ZoneInfo("America/Toronto")
    start = start_of_day(date(1919, 3, 31), "America/Toronto")
    assert start == datetime(1919, 3, 31, 4, 30, tzinfo=UTC)
    assert start.astimezone(zone).strftime("%Y-%m-%d %H:%M") == "1919-03-31 00:30"
    assert (start - timedelta(seconds=1)).astimezone(zone).date() == date(1919, 3, 30)


def test_start_of_day_when_the_whole_day_is_skipped():
    """Pacific/Apia skipped 30 Dec 2011, so that day is empty: it starts when 31 Dec starts."""
    start_of_31st = start_of_day(date(2011, 12, 31), "Pacific/Apia")
    assert start_of_day(date(2011, 12, 30), "Pacific/Apia") == start_of_31st
    assert start_of_31st == datetime(2011, 12, 30, 10, tzinfo=UTC)


def test_start_of_day_when_midnight_is_repeated_takes_the_first():
    """When local midnight occurs twice (fall back to midnight), the day starts at the first one."""
    # America/Havana falls back from 01:00 -04 to 00:00 -05 on 7 Nov 2027, so 00:00-00:59 repeats.
    midnight = datetime(2027, 11, 7, tzinfo=ZoneInfo("America/Havana"))
    assert midnight.astimezone(UTC) != midnight.replace(fold=1).astimezone(UTC), "precondition: repeated"
    assert start_of_day(date(2027, 11, 7), "America/Havana") == datetime(2027, 11, 7, 4, tzinfo=UTC)


def test_end_of_day_exclusive_is_the_start_of_the_next_day():
    """end_of_day_exclusive(day) is start_of_day(day + 1)."""
    assert end_of_day_exclusive(date(2027, 12, 31), "Europe/London") == datetime(2028, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", ["Mars/Olympus", "America", "", "../etc/passwd", "/etc/localtime"])
def test_unknown_time_zone_raises(name):
    """An unknown or malformed time-zone name raises CycleCalendarError naming it."""
    with pytest.raises(CycleCalendarError, match="time zone"):
        check_time_zone(name)
    with pytest.raises(CycleCalendarError, match="time zone"):
        start_of_day(date(2027, 1, 1), name)


def test_check_time_zone_returns_a_valid_name():
    """A known IANA name is returned unchanged."""
    assert check_time_zone("Europe/Paris") == "Europe/Paris"


# --- properties ------------------------------------------------------------------------------

specs = st.builds(
    CycleSpecification,
    name=st.just("any"),
    frequency=st.sampled_from(sorted(FREQUENCY_MONTHS)),
    billing_day=st.integers(1, 31),
    anchor_month=st.integers(1, 12),
    charge_date_offset=st.integers(-40, 40),
    credit_date_offset=st.integers(-40, 40),
    bill_date_offset=st.integers(0, 40),
    mailing_date_offset=st.integers(0, 40),
    payment_due_date_offset=st.integers(0, 90),
)
days = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))


@given(spec=specs, day=days)
def test_occurrences_are_contiguous_and_partition_the_days(spec, day):
    """Consecutive occurrences are contiguous, each day lies in exactly one period, due >= bill >= end."""
    current = occurrence_containing(spec, day)
    assert current.period_start <= day <= current.period_end
    assert period_starts_on(spec, current.period_start)
    assert not any(
        period_starts_on(spec, current.period_start + timedelta(days=n))
        for n in range(1, (current.period_end - current.period_start).days + 1)
    )
    assert occurrence_containing(spec, current.period_start) == current
    assert occurrence_containing(spec, current.period_end) == current
    assert next_occurrence(spec, occurrence_containing(spec, current.period_start - ONE_DAY)) == current
    for _ in range(3):
        following = next_occurrence(spec, current)
        assert following.period_start == current.period_end + ONE_DAY
        assert current.payment_due_date >= current.bill_date >= current.period_end
        current = following
