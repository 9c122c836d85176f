"""Billing-cycle calendar: dates of one billing-cycle occurrence (TMF666) and local-day boundaries."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "FREQUENCY_MONTHS", "CycleCalendarError", "CycleDates", "CycleSpecification", "check_time_zone",
    "end_of_day_exclusive", "next_occurrence", "occurrence", "occurrence_containing",
    "period_starts_on", "start_of_day",
]

FREQUENCY_MONTHS = {"monthly": 1, "bimonthly": 2, "quarterly": 3, "semiannual": 6, "annual": 12}

_ONE_DAY = timedelta(days=1)


class CycleCalendarError(ValueError):
    """A billing-cycle specification, period start or time-zone name is invalid."""


def _check_int(field: str, value: object, low: int | None = None, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CycleCalendarError(f"{field} must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f">= {low}"
        raise CycleCalendarError(f"{field} must be {bounds}, got {value!r}")


@dataclass(frozen=True)
class CycleSpecification:
    """How billing periods are laid out and which dates derive from each period."""

    name: str
    frequency: str = "monthly"
    billing_day: int = 1
    anchor_month: int = 1
    charge_date_offset: int = 0
    credit_date_offset: int = 0
    bill_date_offset: int = 0
    mailing_date_offset: int = 2
    payment_due_date_offset: int = 14

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise CycleCalendarError(f"name must be a non-empty string, got {self.name!r}")
        if self.frequency not in FREQUENCY_MONTHS:
            raise CycleCalendarError(
                f"unknown frequency {self.frequency!r}; expected one of {sorted(FREQUENCY_MONTHS)}"
            )
        _check_int("billing_day", self.billing_day, 1, 31)
        _check_int("anchor_month", self.anchor_month, 1, 12)
        _check_int("charge_date_offset", self.charge_date_offset)
        _check_int("credit_date_offset", self.credit_date_offset)
        _check_int("bill_date_offset", self.bill_date_offset, 0)
        _check_int("mailing_date_offset", self.mailing_date_offset, 0)
        _check_int("payment_due_date_offset", self.payment_due_date_offset, 0)


@dataclass(frozen=True)
class CycleDates:
    """The dates of one occurrence of a billing cycle (all local calendar days)."""

    period_start: date
    period_end: date
    bill_date: date
    charge_date: date
    credit_date: date
    mailing_date: date
    payment_due_date: date


# Months are handled as a single index (year * 12 + month - 1) so period arithmetic is plain integers.
def _months(spec: CycleSpecification) -> int:
    return FREQUENCY_MONTHS[spec.frequency]


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _start_in_month(spec: CycleSpecification, index: int) -> date:
    """The period start in month `index`: billing_day clamped to that month's last day."""
    year, month = divmod(index, 12)
    month += 1
    if not 1 <= year <= 9999:
        raise CycleCalendarError(f"billing cycle {spec.name!r}: year {year} is out of the supported range")
    return date(year, month, min(spec.billing_day, calendar.monthrange(year, month)[1]))


def _is_aligned(spec: CycleSpecification, index: int) -> bool:
    return (index - (spec.anchor_month - 1)) % _months(spec) == 0


def _containing_start_index(spec: CycleSpecification, day: date) -> int:
    """Month index of the period start on or before `day`."""
    index = _month_index(day)
    index -= (index - (spec.anchor_month - 1)) % _months(spec)
    if _start_in_month(spec, index) > day:
        index -= _months(spec)
    return index


def _dates(spec: CycleSpecification, start_index: int) -> CycleDates:
    try:
        start = _start_in_month(spec, start_index)
        end = _start_in_month(spec, start_index + _months(spec)) - _ONE_DAY
        bill = end + timedelta(days=1 + spec.bill_date_offset)
        return CycleDates(
            period_start=start,
            period_end=end,
            bill_date=bill,
            charge_date=end + timedelta(days=spec.charge_date_offset),
            credit_date=end + timedelta(days=spec.credit_date_offset),
            mailing_date=bill + timedelta(days=spec.mailing_date_offset),
            payment_due_date=bill + timedelta(days=spec.payment_due_date_offset),
        )
    except OverflowError as exc:
        raise CycleCalendarError(f"billing cycle {spec.name!r}: dates out of range ({exc})") from exc


def period_starts_on(spec: CycleSpecification, day: date) -> bool:
    """Whether `day` is a valid period start for `spec`."""
    index = _month_index(day)
    return _is_aligned(spec, index) and _start_in_month(spec, index) == day


def occurrence(spec: CycleSpecification, period_start: date) -> CycleDates:
    """The occurrence starting on `period_start`; CycleCalendarError if that is not a valid start."""
    if not period_starts_on(spec, period_start):
        around = occurrence_containing(spec, period_start)
        raise CycleCalendarError(
            f"{period_start.isoformat()} is not a period start of billing cycle {spec.name!r} "
            f"({spec.frequency}, billing_day={spec.billing_day}, anchor_month={spec.anchor_month}); "
            f"the nearest valid starts are {around.period_start.isoformat()} "
            f"and {(around.period_end + _ONE_DAY).isoformat()}"
        )
    return _dates(spec, _month_index(period_start))


def occurrence_containing(spec: CycleSpecification, day: date) -> CycleDates:
    """The occurrence whose billing period contains `day`."""
    return _dates(spec, _containing_start_index(spec, day))


def next_occurrence(spec: CycleSpecification, dates: CycleDates) -> CycleDates:
    """The occurrence that follows `dates`."""
    return occurrence(spec, dates.period_end + _ONE_DAY)


def check_time_zone(name: str) -> str:
    """Validate an IANA time-zone name and return it."""
    _zone(name)
    return name


def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise CycleCalendarError(f"time zone must be a non-empty IANA name, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise CycleCalendarError(f"unknown time zone {name!r}") from exc


@lru_cache(maxsize=4096)  # a cycle run asks it for every recurring charge, of a few days and time zones
def start_of_day(day: date, time_zone: str) -> datetime:
    """First instant of local `day` in `time_zone`, as an aware UTC datetime.

    If local midnight falls in a DST gap, this is the first instant that exists on that day.
    """
    zone = _zone(time_zone)
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    earliest = midnight.astimezone(UTC)  # fold=0: the earlier instant when midnight is ambiguous
    if earliest.astimezone(zone).replace(tzinfo=None) == midnight.replace(tzinfo=None):
        return earliest
    # Midnight is skipped. fold=1 reads it with the post-transition offset, landing before the
    # transition (previous day); fold=0 lands at or after it. The two differ when the gap starts before
    # midnight (Toronto 1919: 23:30 -> 00:30), so bisect, in whole seconds like tzdata transitions,
    # for the first instant whose local date is `day` or later (later: the whole day was skipped).
    before = midnight.replace(fold=1).astimezone(UTC)
    after = earliest
    while after - before > timedelta(seconds=1):
        middle = before + timedelta(seconds=(after - before).total_seconds() // 2)
        if middle.astimezone(zone).date() >= day:
            after = middle
        else:
            before = middle
    return after


@lru_cache(maxsize=4096)  # a bill run asks it for every account, of a few days and time zones
def end_of_day_exclusive(day: date, time_zone: str) -> datetime:
    """start_of_day of the following day: an instant is on or before local `day` iff it is earlier."""
    return start_of_day(day + _ONE_DAY, time_zone)
