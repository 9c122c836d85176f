"""Recurring and one-time charges of a subscription at a cycle run, prorated by day (pure rules, no I/O).

The rule, in the account's time zone and by calendar days (a DST day is one day like any other):
- a recurring price's periods follow the account's billing calendar at the price's own frequency (monthly,
  quarterly, annual; same billing day and anchor month);
- what a price period is worth: amount x (sum over its days of the quantity in force that day) / days in that
  period, for the days the subscription is active on the offering, rounded half-up to 6 places (the bill rounds
  once, later). The whole period is priced at the version in force on its first charged day;
- a cycle run for billing period P settles every price period ending on or before P's end (in arrears: charged
  then; in advance: corrected then, for what changed after it was charged) and charges in advance the periods of
  advance prices that start by the end of the next billing period;
- what a period already got is kept on the subscription; the difference to what it is worth now is posted: a new
  charge, or a correction pointing at the charge (a credit for unused days when it went down). A correction never
  takes a charge below zero: what a period is worth is never negative;
- a one-time price of the offering the subscription starts with is charged once, at the first run that reaches
  its start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from ledger.aggregates.billing_calendar import CycleDates, CycleSpecification, occurrence_containing
from ledger.aggregates.product_offering import ADVANCE, ONE_TIME, RECURRING, ProductOffering
from ledger.aggregates.subscription import ACTIVE, Subscription

SIX = Decimal("0.000001")
ZERO = Decimal(0)
_ONE_DAY = timedelta(days=1)


def prorate(amount: Decimal, quantity_days: int, period_days: int) -> Decimal:
    """amount x quantity-days / days in the period, half-up to 6 places."""
    return (amount * quantity_days / period_days).quantize(SIX, rounding=ROUND_HALF_UP)


def tax_on(amount: Decimal, rate: Decimal | None) -> Decimal:
    return ZERO if rate is None else (amount * rate / 100).quantize(SIX, rounding=ROUND_HALF_UP)


def price_periods(spec: CycleSpecification, frequency: str, first: date, last: date) -> list[CycleDates]:
    """The periods of a price of `frequency` on the account's calendar that overlap first..last."""
    return list(_price_periods(spec, frequency, first, last))


@lru_cache(maxsize=1024)  # a cycle run asks it for every subscription, of a few calendars, frequencies and windows
def _price_periods(spec: CycleSpecification, frequency: str, first: date, last: date) -> tuple[CycleDates, ...]:
    calendar = replace(spec, frequency=frequency)
    periods, day = [], first
    while day <= last:
        period = occurrence_containing(calendar, day)
        periods.append(period)
        day = period.period_end + _ONE_DAY
    return tuple(periods)


@dataclass(frozen=True)
class Worth:
    """What one price period of one price is worth now."""

    key: str
    offering_ref: str
    price_id: str
    version: int
    period_start: date
    period_end: date
    quantity_days: int
    days: int
    tax_excluded: Decimal
    tax_amount: Decimal
    tax_category: str | None
    tax_rate: Decimal | None

    def description(self) -> str:
        if self.key.startswith("once|"):
            return f"{self.offering_ref} {self.price_id} v{self.version} x{self.quantity_days}, from {self.period_start}"
        return (f"{self.offering_ref} {self.price_id} v{self.version} {self.period_start}..{self.period_end}: "
                f"{self.quantity_days}/{self.days} quantity-days")


@dataclass(frozen=True)
class Posting:
    """What to post on the account for one line: a charge (new line) or a correction of it (`correction` > 0)."""

    worth: Worth
    charge_id: str
    correction: int
    tax_excluded: Decimal  # this posting's own amounts (a correction: the difference, signed)
    tax_amount: Decimal
    effective_day: date

    @property
    def entry_id(self) -> str:
        return self.charge_id if self.correction == 0 else f"{self.charge_id}:c{self.correction}"

    def line(self) -> dict[str, str]:
        """The subscription's record of the line after this posting."""
        w = self.worth
        return {"key": w.key, "charge_id": self.charge_id, "entry_id": self.entry_id,
                "tax_excluded": str(w.tax_excluded), "tax_amount": str(w.tax_amount), "corrections": str(self.correction),
                "period_start": w.period_start.isoformat(), "period_end": w.period_end.isoformat(),
                "version": str(w.version), "days": str(w.days), "tax_category": w.tax_category or "",
                "tax_rate": "" if w.tax_rate is None else str(w.tax_rate)}


def _worth(sub: Subscription, offering: ProductOffering, price_id: str, price: dict[str, Any],
           period: CycleDates) -> Worth | None:
    """What `price` of `offering` is worth for one of its periods, or None when no day of it is charged."""
    quantity_days, first_day = 0, None
    for begin, stop, phase in sub.segments(period.period_start, period.period_end):
        if phase["state"] == ACTIVE and phase["offering"] == offering.offering_ref:
            quantity_days += phase["quantity"] * ((stop - begin).days + 1)
            first_day = first_day or begin
    if first_day is None:
        return None
    version = offering.version_on(price_id, first_day)
    if version is None:
        return None
    days = (period.period_end - period.period_start).days + 1
    excluded = prorate(Decimal(version["amount"]), quantity_days, days)
    rate = Decimal(price["tax_rate"]) if price.get("tax_rate") is not None else None
    return Worth(key=f"{period.period_start}|{offering.offering_ref}/{price_id}", offering_ref=offering.offering_ref,
                 price_id=price_id, version=version["version"], period_start=period.period_start,
                 period_end=period.period_end, quantity_days=quantity_days, days=days, tax_excluded=excluded,
                 tax_amount=tax_on(excluded, rate), tax_category=price.get("tax_category"), tax_rate=rate)


def _zero(key: str, record: dict[str, str]) -> Worth:
    """A line charged before that no day of its period is charged for any more (the subscription moved off it)."""
    offering_ref, price_id = key.split("|", 1)[1].split("/", 1)
    rate = record.get("tax_rate")
    return Worth(key=key, offering_ref=offering_ref, price_id=price_id, version=int(record.get("version", "0")),
                 period_start=date.fromisoformat(record["period_start"]), period_end=date.fromisoformat(record["period_end"]),
                 quantity_days=0, days=int(record.get("days", "1")), tax_excluded=ZERO, tax_amount=ZERO,
                 tax_category=record.get("tax_category") or None, tax_rate=Decimal(rate) if rate else None)


def postings(sub: Subscription, offerings: dict[str, ProductOffering], spec: CycleSpecification, billing: CycleDates,
             following: CycleDates) -> list[Posting]:
    """What a cycle run for `billing` posts for `sub` (see the module's docstring); `following` is the next billing
    period. Lines stay in the order periods and prices come."""
    window = worths(sub, offerings, spec, billing, following)
    if window is None:
        return []
    return postings_from(sub, offerings, billing, following, window)


Window = tuple[dict[str, "Worth"], dict[str, "Worth | None"]]
"""What a subscription's recurring prices are worth for a run: (lines charged, by key; every period of the run's
window, by key, None when no day of it is charged)."""


def worths(sub: Subscription, offerings: dict[str, ProductOffering], spec: CycleSpecification, billing: CycleDates,
           following: CycleDates) -> Window | None:
    """What `sub`'s recurring prices are worth for each price period the run for `billing` settles or charges in
    advance; None when its periods are all settled. Depends only on its timeline (start, end, phases) and what it
    settled (`timeline_key`), the offerings' prices and the run's calendar, not on what it charged."""
    settled_after = date.fromisoformat(sub.reconciled_until) if sub.reconciled_until else sub.start - _ONE_DAY
    end = sub.end
    if end is not None and end <= settled_after:
        return None
    found: dict[str, Worth] = {}
    windows: dict[str, Worth | None] = {}
    for offering_ref in sub.offerings():
        offering = offerings[offering_ref]
        for price_id, price in offering.prices_of(RECURRING).items():
            horizon = following.period_end if price["timing"] == ADVANCE else billing.period_end
            last = min(horizon, end) if end else horizon
            for period in _price_periods(spec, price["recurring_period"], settled_after + _ONE_DAY, last):
                if price["timing"] != ADVANCE and period.period_end > billing.period_end:
                    continue
                worth = _worth(sub, offering, price_id, price, period)
                key = f"{period.period_start}|{offering_ref}/{price_id}"
                windows[key] = worth
                if worth is not None:
                    found[key] = worth
    return found, windows


def timeline_key(sub: Subscription) -> tuple[Any, ...]:
    """What of a subscription `worths` reads: two subscriptions with the same key are worth the same (their own
    ids aside) for the same offerings and run."""
    return (sub.start_date, sub.end_date, sub.reconciled_until,
            tuple((p["from"], p["offering"], p["quantity"], p["state"]) for p in sub.phases))


def postings_from(sub: Subscription, offerings: dict[str, ProductOffering], billing: CycleDates, following: CycleDates,
                  window: Window) -> list[Posting]:
    """The postings of `sub` for the run, given what its prices are worth (`worths`): each line's difference to
    what the subscription recorded it got."""
    found, windows = window
    cutoff = min(billing.charge_date, billing.credit_date)
    result = []
    for worth in found.values():
        result.append(_posting(sub, worth, cutoff))
    for key, record in sub.charged.items():  # lines charged before that are worth nothing now
        if key not in found and key in windows:
            result.append(_posting(sub, _zero(key, record), cutoff))
    result += _one_time(sub, offerings, billing, following, cutoff)
    return [p for p in result if p.tax_excluded or p.tax_amount or p.correction == 0]


def _posting(sub: Subscription, worth: Worth, cutoff: date) -> Posting:
    record = sub.charged.get(worth.key)
    effective = min(worth.period_start, cutoff)
    charge_id = f"rc:{sub.subscription_ref}:{worth.key}"
    if record is None:
        return Posting(worth, charge_id, 0, worth.tax_excluded, worth.tax_amount, effective)
    return Posting(worth, record["charge_id"], int(record["corrections"]) + 1,
                   worth.tax_excluded - Decimal(record["tax_excluded"]), worth.tax_amount - Decimal(record["tax_amount"]),
                   effective)


def _one_time(sub: Subscription, offerings: dict[str, ProductOffering], billing: CycleDates, following: CycleDates,
              cutoff: date) -> list[Posting]:
    offering = offerings[sub.one_time_offering]
    advance = any(p["timing"] == ADVANCE for p in offering.prices_of(RECURRING).values())
    if sub.start > (following.period_end if advance else billing.period_end):
        return []
    found = []
    quantity = sub.phases[0]["quantity"] if sub.phases[0]["from"] == sub.start_date else 1
    for price_id, price in offering.prices_of(ONE_TIME).items():
        key = f"once|{offering.offering_ref}/{price_id}"
        version = offering.version_on(price_id, sub.start)
        if key in sub.charged or version is None:
            continue
        excluded = Decimal(version["amount"]) * quantity
        rate = Decimal(price["tax_rate"]) if price.get("tax_rate") is not None else None
        worth = Worth(key=key, offering_ref=offering.offering_ref, price_id=price_id, version=version["version"],
                      period_start=sub.start, period_end=sub.start, quantity_days=quantity, days=1,
                      tax_excluded=excluded, tax_amount=tax_on(excluded, rate), tax_category=price.get("tax_category"),
                      tax_rate=rate)
        found.append(Posting(worth, f"ot:{sub.subscription_ref}:{offering.offering_ref}/{price_id}", 0, excluded,
                             worth.tax_amount, min(sub.start, cutoff)))
    return found
