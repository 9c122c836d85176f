"""Read models fed from the local event store, on SQLite and on PostgreSQL: build, verify, re-feed, rebuild."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.bootstrap import read_model_db
from ledger.errors import ReadModelError
from ledger.projections.local_feed import LOCAL_CONSUMER, LOCAL_TOPIC, LocalProjection
from ledger.projections.projector import OffsetsMoved, project
from ledger.projections.reader import account_overview
from ledger.projections.rebuild import rebuild
from ledger.projections.tables import ACCOUNT_BALANCES, BILLS
from ledger.projections.verify import verify_read_models
from ledger.service import Ledger
from ledger.streaming.event_feed import EventFeed


def _feed(story_ledger: Ledger, db) -> int:
    return LocalProjection(EventFeed(story_ledger.store), db, batch_size=9).catch_up()


def test_read_models_match_a_replay_of_the_event_store(story_ledger, story_settings):
    """After projecting every event, verify finds no difference."""
    db = read_model_db(story_settings)
    _feed(story_ledger, db)
    report = verify_read_models(story_ledger.store, db)
    assert report.ok, report.differences
    assert report.checked == {"accounts": 5, "bills": 5, "payments": 4,  # the demo: 4 accounts and the subscriber
                              "offerings": 2, "subscriptions": 1, "payment_methods": 0, "groups": 0}


def test_feeding_again_changes_nothing(story_ledger, story_settings):
    """A second catch-up finds nothing new and leaves the rows as they were."""
    db = read_model_db(story_settings)
    _feed(story_ledger, db)
    before = db.all_rows(ACCOUNT_BALANCES)
    assert _feed(story_ledger, db) == 0 and db.all_rows(ACCOUNT_BALANCES) == before


def test_overdue_amount_counts_open_bills_past_their_due_date(story_ledger, story_settings):
    """An account whose bill is past due shows it as overdue; a settled one shows none."""
    from datetime import date

    db = read_model_db(story_settings)
    _feed(story_ledger, db)
    rows = {r["account_ref"]: r for r in account_overview(db, today=date(2027, 1, 1))}
    assert rows["ACME-PARIS"]["overdue_amount"] == rows["ACME-PARIS"]["receivable"] > 0
    assert rows["GLOBEX-NYC"]["overdue_amount"] == 0
    early = {r["account_ref"]: r for r in account_overview(db, today=date(2026, 10, 1))}
    assert early["ACME-PARIS"]["overdue_amount"] == 0


def test_verify_reports_a_tampered_row(story_ledger, story_settings):
    """A read-model row that disagrees with the event store is reported."""
    db = read_model_db(story_settings)
    _feed(story_ledger, db)
    row = db.all_rows(BILLS)[0]
    row["remaining_amount"] = Decimal(row["remaining_amount"]) + 1
    with db.transaction():
        db.upsert(BILLS, [row])
    report = verify_read_models(story_ledger.store, db)
    assert not report.ok and any("remaining_amount" in d for d in report.differences)


def test_a_batch_that_fails_leaves_rows_and_offsets_untouched(story_ledger, story_settings):
    """A failing batch rolls back its rows together with its offsets."""
    db = read_model_db(story_settings)
    records = [i.record for i in EventFeed(story_ledger.store).page(0, 1000)]
    last = max(n for n, r in enumerate(records[:20]) if r["event_type"].startswith("BillingAccount."))
    broken = records[:last] + [{**records[last], "position": None}]  # an account event without its figures
    with pytest.raises(ReadModelError, match="carries no position"):
        project(db, broken, consumer=LOCAL_CONSUMER, topic=LOCAL_TOPIC, expected={0: None}, next_offsets={0: 99})
    assert db.count(ACCOUNT_BALANCES) == 0 and db.offsets(LOCAL_CONSUMER, LOCAL_TOPIC) == {}


def test_a_batch_is_refused_when_stored_offsets_moved(story_ledger, story_settings):
    """Two writers cannot both apply a batch from the same offset."""
    db = read_model_db(story_settings)
    records = [i.record for i in EventFeed(story_ledger.store).page(0, 5)]
    project(db, records, consumer="c", topic="t", expected={0: None}, next_offsets={0: 5})
    with pytest.raises(OffsetsMoved):
        project(db, records, consumer="c", topic="t", expected={0: None}, next_offsets={0: 5})


def test_rebuild_swaps_in_fresh_tables_with_the_same_figures(story_ledger, story_settings):
    """A rebuild replays everything into new tables and swaps them in; the figures are the same."""
    db = read_model_db(story_settings)
    _feed(story_ledger, db)
    before = db.all_rows(ACCOUNT_BALANCES)
    with db.transaction():
        db.conn.execute("DELETE FROM bills")  # damage the live tables
    db.close()
    count = rebuild(story_settings, read_model_db, lambda fresh: _feed(story_ledger, fresh))
    after = read_model_db(story_settings)
    assert count > 0 and after.all_rows(ACCOUNT_BALANCES) == before
    assert verify_read_models(story_ledger.store, after).ok


def test_subscription_and_offering_rows_follow_their_events(story_ledger, story_settings):
    """The demo's subscription row carries its last phase; each of its phases has a row; offerings count prices."""
    from ledger.projections.tables import OFFERING_PRICES, PRODUCT_OFFERINGS, SUBSCRIPTION_PHASES, SUBSCRIPTIONS

    db = read_model_db(story_settings)
    _feed(story_ledger, db)
    (sub,) = db.all_rows(SUBSCRIPTIONS)
    phases = db.all_rows(SUBSCRIPTION_PHASES)
    assert sub["account_ref"] and len(phases) >= 2 and phases[-1]["offering_ref"] == sub["offering_ref"]
    offerings = db.all_rows(PRODUCT_OFFERINGS)
    assert sum(o["prices"] for o in offerings) == db.count(OFFERING_PRICES) > 0
    assert {o["lifecycle_status"] for o in offerings} == {"Active"}


def test_verify_reports_a_tampered_subscription_row(story_ledger, story_settings):
    """A subscription row whose quantity disagrees with the event store is reported."""
    from ledger.projections.tables import SUBSCRIPTIONS

    db = read_model_db(story_settings)
    _feed(story_ledger, db)
    row = db.all_rows(SUBSCRIPTIONS)[0]
    row["quantity"] = int(row["quantity"]) + 5
    with db.transaction():
        db.upsert(SUBSCRIPTIONS, [row])
    report = verify_read_models(story_ledger.store, db)
    assert any("subscriptions" in d and "quantity" in d for d in report.differences)
