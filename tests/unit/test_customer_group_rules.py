"""Customer groups: the aggregate's rules (rates by day, memberships, deletion) and the commands' checks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.aggregates import ids
from ledger.aggregates.customer_group import CustomerGroup
from ledger.commands import CloseCustomer, CreateGroup, DeleteGroup, RemoveMember, UpdateGroup
from ledger.errors import CustomerNotFound, GroupNotFound, IdempotencyConflict, InvalidInput, RuleViolation
from ledger.queries.groups import group_view, list_groups
from ledger.service import Ledger
from tests.support.ledger_factory import FakeClock, make_ledger, memory_settings
from tests.support.master_data import assign, create_customer, create_group

D = Decimal
AT = datetime(2026, 10, 5, 9, tzinfo=UTC)
TODAY = AT.date()


def group(rate: str = "10") -> CustomerGroup:
    return CustomerGroup.create(AT, id=ids.group_id("G"), group_ref="G", name="Gold", description="",
                                discount_rate=D(rate), preferences={})


def ledger_with_customers(*refs: str) -> Ledger:
    ledger = make_ledger(memory_settings(), FakeClock(AT))
    for ref in refs:
        create_customer(ledger, ref)
    return ledger


# ---------------------------------------------------------------- the aggregate

@pytest.mark.parametrize("rate", [D("-1"), D("100.01"), D("12.0000001"), D("NaN"), 12.5, "10"])
def test_a_bad_discount_rate_is_refused(rate: Any) -> None:
    """A rate is an exact percentage from 0 to 100 with at most six places (never a float or text)."""
    with pytest.raises(RuleViolation):
        CustomerGroup.create(AT, id=ids.group_id("G"), group_ref="G", name="G", description="", discount_rate=rate,
                             preferences={})


def test_an_unknown_bill_media_is_refused() -> None:
    """The preferred bill presentation media is one of the customer's media."""
    with pytest.raises(RuleViolation, match="bill presentation media"):
        CustomerGroup.create(AT, id=ids.group_id("G"), group_ref="G", name="G", description="", discount_rate=D(5),
                             preferences={"bill_presentation_media": "pigeon"})


def test_a_rate_change_holds_from_its_day_on() -> None:
    """10% until 15 November, 20% from 16 November; the rate before the change is still the one before it."""
    g = group()
    g.change_rate(AT, D(20), date(2026, 11, 16), TODAY)
    assert (g.rate_on(date(2026, 11, 15)), g.rate_on(date(2026, 11, 16)), g.rate_on(date(2020, 1, 1))) == (10, 20, 10)


def test_a_later_rate_change_set_before_gives_way() -> None:
    """Setting 15% from 1 November drops the 20% planned from 16 November."""
    g = group()
    g.change_rate(AT, D(20), date(2026, 11, 16), TODAY)
    g.change_rate(AT, D(15), date(2026, 11, 1), TODAY)
    assert [v["rate"] for v in g.rates] == ["10", "15"] and g.rate_on(date(2026, 12, 1)) == 15


def test_a_rate_change_in_the_past_is_refused() -> None:
    """A billed day is never re-rated: a change takes effect today at the earliest."""
    with pytest.raises(RuleViolation, match="before today"):
        group().change_rate(AT, D(20), date(2026, 10, 4), TODAY)


def test_the_same_rate_again_changes_nothing() -> None:
    """Re-sending the rate in force is a no-op."""
    g = group()
    assert g.change_rate(AT, D("10.0"), date(2026, 10, 20), TODAY) is False


def test_overlapping_memberships_in_one_group_are_refused() -> None:
    """A customer has no two memberships covering the same day in a group."""
    g = group()
    g.assign(AT, "C", date(2026, 10, 10), date(2026, 10, 31), TODAY)
    with pytest.raises(RuleViolation, match="overlap"):
        g.assign(AT, "C", date(2026, 10, 31), None, TODAY)


def test_back_to_back_memberships_are_accepted() -> None:
    """Leaving on 31 October and joining again on 1 November are two memberships."""
    g = group()
    g.assign(AT, "C", date(2026, 10, 10), date(2026, 10, 31), TODAY)
    assert g.assign(AT, "C", date(2026, 11, 1), None, TODAY)
    assert g.member_on("C", date(2026, 10, 31)) and g.member_on("C", date(2026, 11, 1))


def test_the_same_membership_again_changes_nothing() -> None:
    """Re-sending an assignment is a no-op."""
    g = group()
    g.assign(AT, "C", date(2026, 10, 10), None, TODAY)
    assert g.assign(AT, "C", date(2026, 10, 10), None, TODAY) is False


def test_a_membership_starting_in_the_past_is_refused() -> None:
    """A membership starts today at the earliest."""
    with pytest.raises(RuleViolation, match="before today"):
        group().assign(AT, "C", date(2026, 10, 1), None, TODAY)


def test_a_membership_ending_before_it_starts_is_refused() -> None:
    """until is the last day, on or after from."""
    with pytest.raises(RuleViolation, match="before it starts"):
        group().assign(AT, "C", date(2026, 10, 10), date(2026, 10, 9), TODAY)


def test_removal_ends_the_membership_on_its_last_day() -> None:
    """Removed with until 20 October: a member on the 20th, not on the 21st."""
    g = group()
    g.assign(AT, "C", date(2026, 10, 10), None, TODAY)
    g.remove(AT, "C", date(2026, 10, 20), TODAY, "left")
    assert g.member_on("C", date(2026, 10, 20)) and not g.member_on("C", date(2026, 10, 21))


def test_removal_before_a_membership_starts_cancels_it() -> None:
    """A membership that has not started by the removal is cancelled."""
    g = group()
    g.assign(AT, "C", date(2026, 11, 1), None, TODAY)
    g.remove(AT, "C", date(2026, 10, 20), TODAY, "changed plans")
    assert g.memberships("C") == []


def test_removing_a_customer_never_a_member_is_refused() -> None:
    """Removing a stranger is a mistake worth saying."""
    with pytest.raises(RuleViolation, match="not a member"):
        group().remove(AT, "C", date(2026, 10, 20), TODAY, "")


def test_removing_again_changes_nothing() -> None:
    """A membership already ended by that day is left as it is."""
    g = group()
    g.assign(AT, "C", date(2026, 10, 10), None, TODAY)
    g.remove(AT, "C", date(2026, 10, 20), TODAY, "")
    assert g.remove(AT, "C", date(2026, 10, 20), TODAY, "") is False


def test_a_group_with_a_current_or_future_member_is_not_deleted() -> None:
    """Delete only when empty: a member from next month still counts."""
    g = group()
    g.assign(AT, "C", date(2026, 11, 1), None, TODAY)
    with pytest.raises(RuleViolation, match="current or future member"):
        g.delete(AT, TODAY, "")


def test_a_group_whose_memberships_are_over_is_deleted_and_takes_no_change() -> None:
    """Past memberships do not keep a group alive; a deleted group refuses assignments."""
    g = group()
    g.assign(AT, "C", date(2026, 10, 5), date(2026, 10, 10), TODAY)
    assert g.delete(AT, date(2026, 10, 11), "")
    assert g.delete(AT, date(2026, 10, 11), "") is False
    with pytest.raises(RuleViolation, match="deleted"):
        g.assign(AT, "D", date(2026, 10, 20), None, TODAY)


def test_update_merges_and_reports_no_change() -> None:
    """Only the fields given change; the same values again change nothing."""
    g = group()
    assert g.update(AT, name=None, description="our best", preferences={"bill_presentation_media": "paper"})
    assert (g.name, g.description, g.preferences) == ("Gold", "our best", {"bill_presentation_media": "paper"})
    assert g.update(AT, name="Gold", description="our best", preferences={"bill_presentation_media": "paper"}) is False


# ---------------------------------------------------------------- the commands

def test_assigning_an_unknown_customer_is_refused() -> None:
    """The customer must exist."""
    ledger = ledger_with_customers()
    create_group(ledger, "GOLD")
    with pytest.raises(CustomerNotFound):
        assign(ledger, "GOLD", "NOBODY", "2026-10-10")


def test_assigning_a_closed_customer_is_refused() -> None:
    """A closed customer joins no group."""
    ledger = ledger_with_customers("C")
    ledger.execute(CloseCustomer.parse({"customer_id": "C"}))
    create_group(ledger, "GOLD")
    with pytest.raises(RuleViolation, match="closed"):
        assign(ledger, "GOLD", "C", "2026-10-10")


def test_a_customer_is_in_at_most_one_group_on_any_day() -> None:
    """A membership overlapping one in another group is refused; the day after it ends is fine."""
    ledger = ledger_with_customers("C")
    create_group(ledger, "GOLD")
    create_group(ledger, "SILVER", "5")
    assign(ledger, "GOLD", "C", "2026-10-10", "2026-10-31")
    with pytest.raises(RuleViolation, match="at most one group"):
        assign(ledger, "SILVER", "C", "2026-10-31")
    assert assign(ledger, "SILVER", "C", "2026-11-01").changed


def test_an_unknown_group_is_not_found() -> None:
    """Commands and views on a group that does not exist say so."""
    ledger = ledger_with_customers("C")
    with pytest.raises(GroupNotFound):
        assign(ledger, "NOPE", "C", "2026-10-10")
    with pytest.raises(GroupNotFound):
        group_view(ledger.store, "NOPE", TODAY)


def test_creating_again_is_idempotent_and_other_values_conflict() -> None:
    """The same group again is a no-op; the same id with another rate is refused."""
    ledger = ledger_with_customers()
    assert create_group(ledger, "GOLD").changed
    assert not create_group(ledger, "GOLD").changed
    with pytest.raises(IdempotencyConflict):
        create_group(ledger, "GOLD", "12")


@pytest.mark.parametrize("rate", ["-5", "101", "0.1234567", "ten"])
def test_a_bad_rate_is_invalid_input(rate: str) -> None:
    """The command refuses a rate outside 0..100 or not an exact decimal before anything is stored."""
    with pytest.raises(InvalidInput, match="discount_rate"):
        CreateGroup.parse({"group_id": "G", "name": "G", "discount_rate": rate})


def test_a_float_rate_is_invalid_input() -> None:
    """Money-like figures are never floats."""
    with pytest.raises(InvalidInput):
        CreateGroup.parse({"group_id": "G", "name": "G", "discount_rate": 12.5})


def test_a_rate_date_without_a_rate_is_refused() -> None:
    """rate_effective_date only goes with discount_rate."""
    ledger = ledger_with_customers()
    create_group(ledger, "GOLD")
    with pytest.raises(RuleViolation, match="needs the discount rate"):
        ledger.execute(UpdateGroup.parse({"group_id": "GOLD", "rate_effective_date": "2026-11-01"}))


def test_delete_refuses_a_group_with_members_then_accepts_it_once_removed() -> None:
    """Delete only when empty: removing the member (ending yesterday) makes it empty."""
    ledger = ledger_with_customers("C")
    create_group(ledger, "GOLD")
    assign(ledger, "GOLD", "C", "2026-10-05")
    with pytest.raises(RuleViolation):
        ledger.execute(DeleteGroup.parse({"group_id": "GOLD"}))
    ledger.execute(RemoveMember.parse({"group_id": "GOLD", "customer_id": "C"}))  # until yesterday: cancelled
    assert ledger.execute(DeleteGroup.parse({"group_id": "GOLD"})).state == "deleted"
    assert list_groups(ledger.store, TODAY) == [] and len(list_groups(ledger.store, TODAY, include_deleted=True)) == 1


def test_the_view_shows_rates_preferences_and_members() -> None:
    """show: the rate today, later versions, the media, the memberships (current ones marked)."""
    ledger = ledger_with_customers("C", "D")
    create_group(ledger, "GOLD", bill_presentation_media="email")
    ledger.execute(UpdateGroup.parse({"group_id": "GOLD", "discount_rate": "20", "rate_effective_date": "2026-11-16"}))
    assign(ledger, "GOLD", "C", "2026-10-05")
    assign(ledger, "GOLD", "D", "2026-11-01")
    view = group_view(ledger.store, "GOLD", TODAY).to_dict()
    assert view["discount_rate"] == 10 and view["discount_rates"][1] == {"from": "2026-11-16", "rate": "20"}
    assert view["preferences"] == {"bill_presentation_media": "email"} and view["current_members"] == 1
    assert [(m["customer_id"], m["current"]) for m in view["members"]] == [("C", True), ("D", False)]
