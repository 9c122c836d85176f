"""Rules on the moments commands give: how far ahead of the ledger's clock a money movement may be effective, and
when a billing period's cut-offs have passed (judged in each billed account's time zone)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from ledger.aggregates.billing_calendar import CycleDates, end_of_day_exclusive
from ledger.errors import EffectiveTooFarAhead, PeriodNotOver


def within_horizon(now: datetime, effective_at: datetime, horizon: timedelta, what: str, **context: str) -> None:
    """Refuse a money movement effective more than `horizon` after `now` (LEDGER_EFFECTIVE_HORIZON_HOURS)."""
    if effective_at - now > horizon:
        raise EffectiveTooFarAhead(
            f"{what} is effective at {effective_at.isoformat()}, more than {_hours(horizon)} ahead of the ledger's "
            f"clock ({now.isoformat()}); the limit is LEDGER_EFFECTIVE_HORIZON_HOURS",
            effective_at=effective_at.isoformat(), now=now.isoformat(), horizon=_hours(horizon), **context)


def cutoffs_passed_by(dates: CycleDates, time_zones: Iterable[str]) -> datetime | None:
    """The moment the period's last cut-off (charges or credits, whichever is later) passes in the latest of
    `time_zones`: the end of that day there. None with no time zone (no account to bill)."""
    cutoff = max(dates.charge_date, dates.credit_date)
    moments = [end_of_day_exclusive(cutoff, zone) for zone in set(time_zones)]
    return max(moments) if moments else None


def require_period_over(now: datetime, dates: CycleDates, time_zones: Iterable[str], early_run: bool, reason: str,
                        specification: str) -> None:
    """Refuse a cycle whose cut-offs have not passed in every billed account's time zone, unless the trigger asks
    for an early run and says why (a billing period's entries are complete only once its cut-offs passed)."""
    passed_by = cutoffs_passed_by(dates, time_zones)
    if passed_by is None or now >= passed_by:
        return
    if early_run and reason.strip():
        return
    what = (f"billing period {dates.period_start} .. {dates.period_end} of {specification} is not over: its cut-off "
            f"passes at {passed_by.isoformat()} in the latest account time zone, the ledger's clock says {now.isoformat()}")
    hint = "an early run also needs a reason" if early_run else "ask for an early run (with a reason) to bill it now"
    raise PeriodNotOver(f"{what}; {hint}", specification=specification, period_start=dates.period_start.isoformat(),
                        cutoff_passes_at=passed_by.isoformat())


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g} hour" + ("" if hours == 1 else "s")
