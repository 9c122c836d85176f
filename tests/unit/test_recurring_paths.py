"""The recurring-charge step's shortcuts (aggregates/recurring_paths.py) give what the plain paths give."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.billing_calendar import CycleSpecification, next_occurrence, occurrence
from ledger.aggregates.entries import CHARGE, TaxLine
from ledger.aggregates.product_offering import ProductOffering
from ledger.aggregates.proration import Posting, postings
from ledger.aggregates.recurring_paths import RunWorths, post_recurring
from ledger.aggregates.subscription import Subscription
from ledger.commands.recurring import post_one
from ledger.errors import AccountStateError, IdempotencyConflict
from tests.support.accounts import new_account
from tests.support.master_data import MONTHLY, apply_moves

AT = datetime(2026, 9, 1, tzinfo=UTC)
SPEC = CycleSpecification("monthly")
OCTOBER = occurrence(SPEC, date(2026, 10, 1))
NOVEMBER = next_occurrence(SPEC, OCTOBER)
DECEMBER = next_occurrence(SPEC, NOVEMBER)
ACTIVATION = {"price_type": "oneTime", "currency": "EUR", "tax_category": "VAT", "tax_rate": "20",
              "unit_of_measure": None}


def _offerings() -> dict[str, ProductOffering]:
    found = {}
    for ref, amount in (("B", "31.00"), ("P", "60.00")):
        offering = ProductOffering.create(AT, id=ids.offering_id(ref), offering_ref=ref, name=ref, description="")
        offering.add_price_version(AT, price_id="monthly", terms=MONTHLY, amount=Decimal(amount),
                                   valid_from=date(2026, 1, 1), valid_to=None)
        if ref == "B":
            offering.add_price_version(AT, price_id="activation", terms=ACTIVATION, amount=Decimal("10.00"),
                                       valid_from=date(2026, 1, 1), valid_to=None)
        found[ref] = offering
    return found


moves = st.lists(st.tuples(st.integers(min_value=0, max_value=29),
                           st.sampled_from(["qty", "offering", "suspend", "resume", "end"]),
                           st.integers(min_value=1, max_value=3)), max_size=4)
plans = st.tuples(st.sampled_from(["B", "P"]), st.integers(min_value=1, max_value=3),
                  st.sampled_from([date(2026, 10, 1), date(2026, 10, 15), date(2026, 11, 3)]), moves)


def _subscription(n: int, account_id: UUID, plan: tuple[str, int, date, list[tuple[int, str, int]]],
                  offerings: dict[str, ProductOffering]) -> tuple[Subscription, list[Posting]]:
    """A subscription charged for October by the plain rule (its postings), then changed in November as `plan`
    says."""
    offering, quantity, start, changes = plan
    ref = f"S-{n}"
    sub = Subscription.create(AT, id=ids.subscription_id(ref), subscription_ref=ref, account_ref="ACC-1",
                              account_id=account_id, offering_ref=offering, quantity=quantity, start_date=start,
                              end_date=None)
    first = postings(sub, offerings, SPEC, OCTOBER, NOVEMBER)
    sub.record_charges(AT, OCTOBER.period_end, [p.line() for p in first])
    apply_moves(sub, AT, NOVEMBER.period_start, changes, offerings="BP")
    return sub, first


@settings(max_examples=60, deadline=None)
@given(st.lists(plans, min_size=1, max_size=8))
def test_run_worths_give_the_postings_postings_gives(chosen: list[Any]) -> None:
    """One RunWorths asked for many subscriptions (alike or not) gives each the postings the plain rule gives."""
    offerings = _offerings()
    account_id = ids.account_id("ACC-1")
    subs = [_subscription(n, account_id, plan, offerings)[0] for n, plan in enumerate(chosen + chosen)]  # twins too
    run = RunWorths(offerings, SPEC, NOVEMBER, DECEMBER)
    for sub in subs:
        assert run.postings(sub) == postings(sub, offerings, SPEC, NOVEMBER, DECEMBER)


def _events(account: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in vars(event).items()} for event in account.collect_events()]


@settings(max_examples=40, deadline=None)
@given(st.lists(plans, min_size=1, max_size=6))
def test_post_recurring_gives_the_events_of_the_plain_post(chosen: list[Any]) -> None:
    """Posting a run's postings through post_recurring gives the account the events and state, and the subscriptions
    the line records, that posting them one at a time does."""
    offerings = _offerings()
    account_id = ids.account_id("ACC-1")
    plain, fast = new_account(at=AT, id=account_id), new_account(at=AT, id=account_id)  # the same account twice
    now = datetime(2026, 12, 1, 6, tzinfo=UTC)
    run = RunWorths(offerings, SPEC, NOVEMBER, DECEMBER)
    for n, plan in enumerate(chosen + chosen):
        sub, october = _subscription(n, plain.id, plan, offerings)
        # the October run's lines first (November's corrections point at them), then the November run's
        for account in (plain, fast):
            for posting in october:
                post_one(AT, account, sub, posting)
        found = run.postings(sub)
        assert [post_one(now, plain, sub, p) for p in found] == post_recurring(now, fast, sub, found, run.pieces)
    assert _events(fast) == _events(plain)
    assert vars(fast) == vars(plain)


_OWN = ("originator_id", "originator_version", "timestamp")


def _charges(account: Any) -> list[tuple[str, dict[str, Any]]]:
    """The account's pending events as (type, fields) with each charge of a PlanChargesApplied on its own, as a
    ChargeApplied (the fields without id, version and timestamp)."""
    found = []
    for event in account.collect_events():
        if isinstance(event, BillingAccount.PlanChargesApplied):
            found += [("ChargeApplied", dict(charge)) for charge in event.charges]
        else:
            found.append((type(event).__name__, {k: v for k, v in vars(event).items() if k not in _OWN}))
    return found


@settings(max_examples=40, deadline=None)
@given(st.lists(plans, min_size=1, max_size=6))
def test_pending_plan_charges_give_the_state_and_charges_of_one_event_each(chosen: list[Any]) -> None:
    """Posting every subscription's postings with one `pending` for the account, recorded at the end, gives the
    account the state, and the same charges and corrections in the same order, that one event per posting gives;
    the subscriptions get the same line records."""
    offerings = _offerings()
    account_id = ids.account_id("ACC-1")
    plain, fast = new_account(at=AT, id=account_id), new_account(at=AT, id=account_id)
    now = datetime(2026, 12, 1, 6, tzinfo=UTC)
    run = RunWorths(offerings, SPEC, NOVEMBER, DECEMBER)
    subs = [_subscription(n, plain.id, plan, offerings) for n, plan in enumerate(chosen + chosen)]
    for sub, october in subs:  # the October run's lines first (November's corrections point at them)
        for account in (plain, fast):
            for posting in october:
                post_one(AT, account, sub, posting)
    pending: dict[str, dict[str, Any]] = {}
    for sub, _ in subs:  # then the November run's, all of the account's new charges pending together
        found = run.postings(sub)
        assert (post_recurring(now, plain, sub, found, run.pieces)
                == post_recurring(now, fast, sub, found, run.pieces, pending))
    fast.record_plan_charges(now, pending)
    assert _charges(fast) == _charges(plain) and not pending
    state = ("_version", "_pending_events")  # fewer events: a lower version
    assert {k: v for k, v in vars(fast).items() if k not in state} == {k: v for k, v in vars(plain).items() if k not in state}


def test_a_pending_plan_charge_again_or_changed_is_judged_as_a_recorded_one() -> None:
    """A charge id already pending: the same content again adds nothing; other content conflicts."""
    account, pending = new_account(at=AT), {}
    assert _plan_charge(account, "plan", pending=pending) is True
    assert _plan_charge(account, "plan", pending=pending) is False and len(pending) == 1
    with pytest.raises(IdempotencyConflict):
        account.apply_plan_charge(AT, charge_id="rc:S:2026-11-01|B/monthly", tax_excluded=Decimal("30"),
                                  tax_line=None, tax_amount=Decimal(0), effective_at=datetime(2026, 11, 1, tzinfo=UTC),
                                  product_ref="S", period_start="2026-11-01", period_end="2026-11-30",
                                  description="B monthly", pending=pending)
    assert [type(e) for e in account.collect_events()] == [BillingAccount.Opened] and len(pending) == 1


def test_plan_charges_recorded_together_are_one_event_and_one_alone_a_charge_applied() -> None:
    """Two pending charges or more are recorded as one PlanChargesApplied; one alone as the ChargeApplied it is."""
    for count, kind in ((1, BillingAccount.ChargeApplied), (3, BillingAccount.PlanChargesApplied)):
        account, pending = new_account(at=AT), {}
        for n in range(count):
            _plan_charge(account, "plan", charge_id=f"rc:S:2026-11-01|B{n}/monthly", pending=pending)
        account.record_plan_charges(AT, pending)
        events = account.collect_events()
        assert [type(e) for e in events[1:]] == [kind] and not pending


def _plan_charge(account: Any, method: str, charge_id: str = "rc:S:2026-11-01|B/monthly",
                 pending: dict[str, Any] | None = None) -> Any:
    tax = {"category": "VAT", "rate": "20", "amount": "6.200000"}
    common = dict(charge_id=charge_id, tax_excluded=Decimal("31.000000"), effective_at=datetime(2026, 11, 1, tzinfo=UTC),
                  product_ref="S", period_start="2026-11-01", period_end="2026-11-30", description="B monthly")
    if method == "plan":
        return account.apply_plan_charge(AT, tax_line=tax, tax_amount=Decimal("6.200000"), pending=pending, **common)
    return account.apply_charge(AT, charge_type=CHARGE, currency_code="EUR", tax_included=Decimal("37.200000"),
                                taxes=[TaxLine("VAT", Decimal("20"), Decimal("6.200000"))], **common)


def test_a_plan_charge_again_or_changed_is_judged_as_apply_charge_judges_it() -> None:
    """The same plan charge again changes nothing; the same id with other content conflicts, as with apply_charge."""
    for method in ("plan", "plain"):
        account = new_account(at=AT)
        assert _plan_charge(account, method) is True
        assert _plan_charge(account, "plan") is False and _plan_charge(account, "plain") is False
        account.collect_events()
        with pytest.raises(IdempotencyConflict):
            account.apply_plan_charge(AT, charge_id="rc:S:2026-11-01|B/monthly", tax_excluded=Decimal("30"),
                                      tax_line=None, tax_amount=Decimal(0), effective_at=datetime(2026, 11, 1, tzinfo=UTC),
                                      product_ref="S", period_start="2026-11-01", period_end="2026-11-30",
                                      description="B monthly")
        assert account.collect_events() == []


def test_a_plan_charge_on_a_suspended_account_is_refused_as_apply_charge_refuses_it() -> None:
    """Not active: the plan charge takes the apply_charge way and its refusal."""
    account = new_account(at=AT)
    account.suspend(AT, "late")
    for method in ("plan", "plain"):
        with pytest.raises(AccountStateError):
            _plan_charge(account, method)
