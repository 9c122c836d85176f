"""The rules on time: the effective horizon, charges before their account's opening, billing periods not over
(judged in every billed account's time zone), early runs and their reason."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from ledger.aggregates.billing_calendar import CycleSpecification, occurrence
from ledger.aggregates.entries import CHARGE
from ledger.aggregates.party_billing_cycle import trigger_record
from ledger.bootstrap import bootstrap as make_ledger_from
from ledger.commands.time_rules import cutoffs_passed_by, require_period_over, within_horizon
from ledger.errors import EffectiveBeforeOpening, EffectiveTooFarAhead, PeriodNotOver, RuleViolation
from ledger.settings import Settings
from tests.support.account_events import AccountScript
from tests.support.ledger_factory import memory_settings

NOW = datetime(2026, 11, 1, 6, tzinfo=UTC)
DAY = timedelta(days=1)
OCTOBER = occurrence(CycleSpecification("monthly"), date(2026, 10, 1))


def test_the_default_horizon_is_one_day() -> None:
    """LEDGER_EFFECTIVE_HORIZON_HOURS defaults to 24: a money movement may be effective up to a day ahead."""
    assert Settings().effective_horizon == DAY


def test_a_movement_exactly_at_the_horizon_is_accepted() -> None:
    """Effective exactly one horizon after the clock: within it."""
    within_horizon(NOW, NOW + DAY, DAY, "charge c1")


def test_a_movement_beyond_the_horizon_is_refused_naming_the_setting() -> None:
    """A microsecond further is refused, with the moments and the setting's name in the message."""
    with pytest.raises(EffectiveTooFarAhead, match="LEDGER_EFFECTIVE_HORIZON_HOURS") as caught:
        within_horizon(NOW, NOW + DAY + timedelta(microseconds=1), DAY, "charge c1", charge="c1")
    assert caught.value.code == "effective_too_far_ahead" and caught.value.context["charge"] == "c1"


def test_a_charge_effective_before_its_account_opened_is_refused_and_changes_nothing() -> None:
    """One microsecond before the opening: refused by the account, which records no event."""
    script = AccountScript(opened="2026-10-01T00:00:00Z")
    version = script.account.version
    with pytest.raises(EffectiveBeforeOpening):
        script.account.apply_charge(NOW, charge_id="early", charge_type=CHARGE, currency_code="EUR",
                                    tax_excluded=Decimal("1"), taxes=[], tax_included=Decimal("1"),
                                    effective_at=datetime(2026, 9, 30, 23, 59, 59, 999999, tzinfo=UTC))
    assert script.account.version == version and not script.account.collect_events()


def test_the_period_is_over_when_its_cutoff_passed_in_the_latest_time_zone() -> None:
    """October's cut-off passes at 1 November 00:00 Tokyo, Paris, New York: the latest (New York, 04:00Z) counts."""
    passed_by = cutoffs_passed_by(OCTOBER, ["Asia/Tokyo", "Europe/Paris", "America/New_York"])
    assert passed_by == datetime(2026, 11, 1, 4, tzinfo=UTC)


def test_a_cycle_before_its_cutoff_passed_in_one_account_zone_is_refused() -> None:
    """At 03:00Z on 1 November October is over in Paris but not in New York: refused."""
    with pytest.raises(PeriodNotOver, match="not over"):
        require_period_over(datetime(2026, 11, 1, 3, tzinfo=UTC), OCTOBER, ["Europe/Paris", "America/New_York"],
                            early_run=False, reason="", specification="monthly")


def test_a_cycle_once_the_cutoff_passed_everywhere_is_allowed() -> None:
    """At the moment the last cut-off passes the run may go."""
    require_period_over(datetime(2026, 11, 1, 4, tzinfo=UTC), OCTOBER, ["Europe/Paris", "America/New_York"],
                        early_run=False, reason="", specification="monthly")


def test_an_early_run_with_a_reason_is_allowed_before_the_cutoff() -> None:
    """The trigger asks for it explicitly and says why."""
    require_period_over(datetime(2026, 10, 20, tzinfo=UTC), OCTOBER, ["UTC"], early_run=True,
                        reason="customer leaves on the 21st", specification="monthly")


def test_an_early_run_without_a_reason_is_refused() -> None:
    """The flag alone is not enough: an early run must say why."""
    with pytest.raises(PeriodNotOver, match="reason"):
        require_period_over(datetime(2026, 10, 20, tzinfo=UTC), OCTOBER, ["UTC"], early_run=True, reason=" ",
                            specification="monthly")


def test_a_cycle_with_no_account_to_bill_is_never_early() -> None:
    """No billed account, no time zone to wait for."""
    require_period_over(datetime(2026, 10, 2, tzinfo=UTC), OCTOBER, [], early_run=False, reason="",
                        specification="monthly")


def test_an_early_run_is_recorded_on_the_trigger_and_needs_a_reason() -> None:
    """trigger_record marks an early run "early_run": "true"; without a reason it refuses."""
    assert trigger_record("person", "alice", "year-end close", early_run=True)["early_run"] == "true"
    assert "early_run" not in trigger_record("person", "alice", "")
    with pytest.raises(RuleViolation, match="why"):
        trigger_record("person", "alice", "", early_run=True)


def test_a_fixed_now_setting_fixes_the_ledger_s_clock() -> None:
    """LEDGER_FIXED_NOW (a scripted session's step): the ledger's clock reads that moment, in UTC."""
    ledger = make_ledger_from(memory_settings(fixed_now="2026-11-01T07:00:00+01:00"))
    assert ledger.now() == datetime(2026, 11, 1, 6, tzinfo=UTC) == ledger.now()
