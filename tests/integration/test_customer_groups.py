"""Customer groups on SQLite and on a real PostgreSQL: a cycle for a member with a subscription puts the charge and
its group-discount credit on the bill, and the totals read model reports the group's billed, paid, outstanding."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledger.aggregates.entries import CHARGE, CREDIT
from ledger.bootstrap import read_model_db
from ledger.commands import RemoveMember
from ledger.projections.local_feed import LocalProjection
from ledger.projections.reader import group_totals
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.streaming.event_feed import EventFeed
from tests.support.ledger_factory import FakeClock, define_spec, make_ledger, open_account, pay, run_cycle
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
SettingsFactory = Callable[..., Settings]
OCT = "rc:S-1:2026-10-01|BASIC/monthly"
NOV = "rc:S-1:2026-11-01|BASIC/monthly"
KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()  # the personal-data master key of these tests


@pytest.fixture
def story(make_settings: SettingsFactory) -> Iterator[tuple[Ledger, Settings, FakeClock]]:
    """A (customer cust-A, in GOLD at 10% from 11 October) on BASIC 31.00/month + 20% VAT from 5 October; B (cust-B,
    in no group) on the same plan; the October cycle run; A pays 20.00."""
    settings = make_settings(master_key=KEY)
    clock = FakeClock(datetime(2026, 10, 5, 8, tzinfo=UTC))
    ledger = make_ledger(settings, clock)
    define_spec(ledger, payment_due_date_offset=14)
    define_offering(ledger, "BASIC", recurring_price("31.00"))
    for ref, sub in (("A", "S-1"), ("B", "S-2")):
        create_customer(ledger, f"cust-{ref}")
        open_account(ledger, ref, "EUR")  # its customer: cust-<ref>
        subscribe(ledger, sub, ref, "BASIC", "2026-10-05")
    create_group(ledger, "GOLD", "10", bill_presentation_media="email")
    assign(ledger, "GOLD", "cust-A", "2026-10-11")
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    run_cycle(ledger, "2026-10-01")
    clock.set(datetime(2026, 11, 3, 9, tzinfo=UTC))
    pay(ledger, "A", "pay-A-1", "20.00", "EUR", "2026-11-03T09:00:00+00:00")
    yield ledger, settings, clock
    ledger.close()


def test_the_members_bill_shows_the_charge_and_the_group_discount(story: tuple[Ledger, Settings, FakeClock]) -> None:
    """27/31 days of October (27.00) discounted 21 days at 10% (2.10); November in advance 31.00, discounted 3.10;
    the non-member's bill has no credit."""
    ledger, _, _ = story
    assert bill_lines(ledger, "A", "A-00001") == [
        (CHARGE, OCT, "27.000000"), (CHARGE, NOV, "31.000000"),
        (CREDIT, f"gd:{OCT}", "-2.100000"), (CREDIT, f"gd:{NOV}", "-3.100000")]
    assert [kind for kind, _, _ in bill_lines(ledger, "B", "B-00001")] == [CHARGE, CHARGE]


def test_the_totals_read_model_reports_billed_paid_and_outstanding(story: tuple[Ledger, Settings, FakeClock]) -> None:
    """GOLD: A's bill only, (58.00 - 5.20) x 1.2 = 63.36 billed, 20.00 paid, 43.36 outstanding."""
    ledger, settings, _ = story
    db = read_model_db(settings)
    try:
        LocalProjection(EventFeed(ledger.store), db, batch_size=7).catch_up()
        rows = group_totals(db)
    finally:
        db.close()
    assert [(r["group_ref"], r["currency"], r["bills"], D(r["billed"]), D(r["paid"]), D(r["outstanding"]))
            for r in rows] == [("GOLD", "EUR", 1, D("63.36"), D("20.00"), D("43.36"))]


def test_a_bill_dated_after_the_membership_ended_is_not_the_groups(story: tuple[Ledger, Settings, FakeClock]) -> None:
    """A leaves GOLD after 20 November: the November bill (dated 1 December) is not GOLD's; October's still is."""
    ledger, settings, clock = story
    ledger.execute(RemoveMember.parse({"group_id": "GOLD", "customer_id": "cust-A", "until_date": "2026-11-20"}))
    clock.set(datetime(2026, 12, 1, 6, tzinfo=UTC))
    run_cycle(ledger, "2026-11-01")
    db = read_model_db(settings)
    try:
        LocalProjection(EventFeed(ledger.store), db).catch_up()
        rows = group_totals(db, "GOLD")
    finally:
        db.close()
    assert [(r["bills"], D(r["billed"])) for r in rows] == [(1, D("63.36"))]


def test_verify_covers_the_group_rows_and_their_memberships(story: tuple[Ledger, Settings, FakeClock]) -> None:
    """After a member leaves, verify finds the group and memberships right; a tampered membership is reported."""
    from ledger.projections.tables import GROUP_MEMBERS
    from ledger.projections.verify import verify_read_models

    ledger, settings, _ = story
    ledger.execute(RemoveMember.parse({"group_id": "GOLD", "customer_id": "cust-A", "until_date": "2026-11-20"}))
    db = read_model_db(settings)
    try:
        LocalProjection(EventFeed(ledger.store), db).catch_up()
        report = verify_read_models(ledger.store, db)
        assert report.ok, report.differences
        assert report.checked["groups"] == 1
        row = db.all_rows(GROUP_MEMBERS)[0]
        with db.transaction():
            db.upsert(GROUP_MEMBERS, [{**row, "until_date": None}])
        assert any("group_members of GOLD" in d for d in verify_read_models(ledger.store, db).differences)
    finally:
        db.close()
