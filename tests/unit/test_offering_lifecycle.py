"""The TMF620 lifecycle of a product offering: the allowed moves, and only Active or Launched offerings are sold."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.aggregates import ids
from ledger.aggregates.product_offering import LIFECYCLE_STATUSES, SELLABLE, TRANSITIONS, ProductOffering
from ledger.aggregates.subscription import Subscription
from ledger.commands import ChangeOfferingLifecycle, ChangeSubscription, CreateSubscription, CreateSubscriptions
from ledger.commands.results import OfferingLifecycleChanged
from ledger.errors import InvalidInput, InvalidLifecycleTransition, OfferingNotSellable
from ledger.service import Ledger
from tests.support.ledger_factory import FakeClock, account_of, define_spec, make_ledger, memory_settings, open_account, run_cycle
from tests.support.master_data import define_offering, recurring_price, subscribe

NOW = datetime(2026, 10, 1, tzinfo=UTC)
# a way from Active to every status, along allowed moves
PATHS = {"Active": [], "Launched": ["Launched"], "Retired": ["Retired"], "Obsolete": ["Retired", "Obsolete"],
         "In test": ["In test"], "In design": ["In test", "In design"], "In study": ["In test", "In design", "In study"],
         "Rejected": ["In test", "Rejected"]}


def offering_in(status: str) -> ProductOffering:
    offering = ProductOffering.create(NOW, id=ids.offering_id("O"), offering_ref="O", name="O", description="")
    for step in PATHS[status]:
        offering.change_lifecycle(NOW, step, "")
    assert offering.lifecycle_status == status
    return offering


def ledger_with(*offerings: str) -> Ledger:
    ledger = make_ledger(memory_settings(), FakeClock(NOW))
    define_spec(ledger)
    open_account(ledger, "A", "EUR")
    for ref in offerings:
        define_offering(ledger, ref, recurring_price("31.00"))
    return ledger


def move(ledger: Ledger, offering: str, status: str) -> OfferingLifecycleChanged:
    return ledger.execute(ChangeOfferingLifecycle.parse({"offering_id": offering, "status": status}))


def test_a_new_offering_is_active_and_sellable() -> None:
    """Offerings start Active, as they did before the lifecycle existed."""
    offering = offering_in("Active")
    assert offering.lifecycle_status == "Active" and offering.sellable


@given(st.sampled_from(LIFECYCLE_STATUSES), st.sampled_from(LIFECYCLE_STATUSES))
def test_a_move_is_accepted_exactly_when_the_transition_table_allows_it(start: str, to: str) -> None:
    """From any status to any other: allowed moves change the status, the others raise and change nothing."""
    offering = offering_in(start)
    version = offering.version
    if to == start:
        assert offering.change_lifecycle(NOW, to, "") is False and offering.version == version
    elif to in TRANSITIONS[start]:
        assert offering.change_lifecycle(NOW, to, "why") is True and offering.lifecycle_status == to
    else:
        with pytest.raises(InvalidLifecycleTransition, match=f"cannot become {to}"):
            offering.change_lifecycle(NOW, to, "")
        assert (offering.lifecycle_status, offering.version) == (start, version)


def test_obsolete_is_final() -> None:
    """No move leaves Obsolete."""
    assert TRANSITIONS["Obsolete"] == frozenset()
    with pytest.raises(InvalidLifecycleTransition, match="it is final"):
        offering_in("Obsolete").change_lifecycle(NOW, "Active", "")


def test_a_status_that_is_not_tmf620s_is_refused() -> None:
    """An unknown status is refused by the aggregate, and by the command as bad input."""
    with pytest.raises(InvalidLifecycleTransition, match="not one of"):
        offering_in("Active").change_lifecycle(NOW, "Sold out", "")
    with pytest.raises(InvalidInput):
        ChangeOfferingLifecycle.parse({"offering_id": "O", "status": "Sold out"})


@pytest.mark.parametrize("status", LIFECYCLE_STATUSES)
def test_only_active_and_launched_are_sellable(status: str) -> None:
    """require_sellable passes for Active and Launched and refuses every other status."""
    offering = offering_in(status)
    if status in SELLABLE:
        offering.require_sellable("a sale")
    else:
        with pytest.raises(OfferingNotSellable, match=f"is {status}"):
            offering.require_sellable("a sale")


def test_the_command_reports_the_move_and_is_idempotent() -> None:
    """ChangeOfferingLifecycle answers from/to and sellable; the same status again changes nothing."""
    ledger = ledger_with("BASIC")
    first = move(ledger, "BASIC", "Launched")
    assert (first.from_status, first.status, first.sellable, first.changed) == ("Active", "Launched", True, True)
    assert move(ledger, "BASIC", "Launched").changed is False


def test_a_new_subscription_to_a_retired_offering_is_refused() -> None:
    """Subscribing to a Retired offering raises offering_not_sellable and records nothing."""
    ledger = ledger_with("BASIC")
    move(ledger, "BASIC", "Retired")
    with pytest.raises(OfferingNotSellable, match="subscription S refused"):
        subscribe(ledger, "S", "A", "BASIC", "2026-10-15")
    assert ledger.store.find(Subscription, ids.subscription_id("S")) is None


def test_a_change_to_an_offering_in_test_is_refused_and_a_quantity_change_is_not() -> None:
    """Changing to a non-sellable offering is refused; an existing subscription on one still changes quantity."""
    ledger = ledger_with("BASIC", "PLUS")
    subscribe(ledger, "S", "A", "BASIC", "2026-10-15")
    move(ledger, "PLUS", "In test")
    with pytest.raises(OfferingNotSellable, match="change of subscription S"):
        ledger.execute(ChangeSubscription.parse({"subscription_id": "S", "offering_id": "PLUS",
                                                 "effective_date": "2026-10-20"}))
    move(ledger, "BASIC", "Retired")
    done = ledger.execute(ChangeSubscription.parse({"subscription_id": "S", "quantity": 2, "effective_date": "2026-10-20"}))
    assert (done.offering_id, done.quantity) == ("BASIC", 2)


def test_repeating_an_existing_subscription_on_a_retired_offering_is_a_no_op() -> None:
    """The same CreateSubscription again (an idempotent re-run) answers unchanged, even after retirement."""
    ledger = ledger_with("BASIC")
    command = CreateSubscription.parse({"subscription_id": "S", "account_id": "A", "offering_id": "BASIC",
                                        "start_date": "2026-10-15"})
    ledger.execute(command)
    move(ledger, "BASIC", "Retired")
    assert ledger.execute(command).changed is False


def test_subscriptions_on_a_retired_offering_are_still_billed() -> None:
    """Retiring an offering stops its sales, not its billing: the cycle charges the existing subscription."""
    ledger = ledger_with("BASIC")
    subscribe(ledger, "S", "A", "BASIC", "2026-10-15")
    move(ledger, "BASIC", "Retired")
    clock = ledger.clock
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))  # type: ignore[attr-defined]
    run_cycle(ledger, "2026-10-01")
    assert account_of(ledger, "A").balance > 0


def test_a_bulk_import_line_on_a_retired_offering_is_rejected_and_the_others_applied() -> None:
    """CreateSubscriptions rejects the item on the Retired offering with offering_not_sellable, creates the other."""
    ledger = ledger_with("BASIC", "PLUS")
    move(ledger, "BASIC", "Retired")
    items = [{"subscription_id": f"S-{ref}", "account_id": "A", "offering_id": ref, "start_date": "2026-10-15"}
             for ref in ("BASIC", "PLUS")]
    done = ledger.execute(CreateSubscriptions.parse({"subscriptions": items}))
    assert done.created == 1 and [(r.key, r.error) for r in done.rejected] == [("S-BASIC", "offering_not_sellable")]
