"""The store's batch paths: preloading many accounts at once, and the PostgreSQL recorder's unnest insert."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.commands import PostCharges
from ledger.errors import AccountNotFound
from ledger.eventstore.postgres_recorder import FastPostgresApplicationRecorder
from ledger.settings import Settings
from tests.support.ledger_factory import (
    FakeClock,
    charge_cmd,
    define_spec,
    fresh_account,
    make_ledger,
    max_notification_id,
    open_account,
    post_charge,
    postgres_settings,
)

SettingsFactory = Callable[..., Settings]


def _three_accounts(make_settings: SettingsFactory) -> list[str]:
    ledger = make_ledger(make_settings(snapshot_interval=3), FakeClock(datetime(2026, 10, 1, tzinfo=UTC)))
    define_spec(ledger)
    refs = ["A-1", "A-2", "A-3"]
    for n, ref in enumerate(refs):
        open_account(ledger, ref, "EUR")
        for i in range(n * 2 + 1):  # pass a snapshot (every 3 events)
            post_charge(ledger, ref, f"c{i}", f"{i + 1}.50", "EUR", "2026-10-01T10:00:00Z")
    ledger.close()
    return refs


@pytest.mark.parametrize("cache_size", [0, 100])
def test_preload_gives_the_accounts_single_loads_give(make_settings: SettingsFactory, cache_size: int) -> None:
    """preload() of several accounts (some from snapshots) equals rebuilding each from the database."""
    refs = _three_accounts(make_settings)
    ledger = make_ledger(make_settings(snapshot_interval=3, cache_size=cache_size))
    try:
        account_ids = [ids.account_id(ref) for ref in refs]
        loaded = ledger.store.preload(BillingAccount, account_ids, AccountNotFound, "account")
        assert list(loaded) == account_ids
        for ref, account_id in zip(refs, account_ids):
            assert loaded[account_id].__dict__ == fresh_account(ledger, ref).__dict__
    finally:
        ledger.close()


def test_preload_serves_cached_accounts_from_the_cache(make_settings: SettingsFactory) -> None:
    """An account already in the cache is returned as that very instance."""
    refs = _three_accounts(make_settings)
    ledger = make_ledger(make_settings(snapshot_interval=3))
    try:
        first = ledger.store.load(BillingAccount, ids.account_id(refs[0]), AccountNotFound, "account")
        loaded = ledger.store.preload(BillingAccount, [ids.account_id(r) for r in refs], AccountNotFound, "account")
        assert loaded[first.id] is first
    finally:
        ledger.close()


@pytest.fixture
def reopened(make_settings: SettingsFactory) -> Iterator[Any]:
    """A fresh ledger (empty cache) over the three accounts."""
    _three_accounts(make_settings)
    ledger = make_ledger(make_settings())
    yield ledger
    ledger.close()


def test_preload_refuses_an_unknown_id(reopened: Any) -> None:
    """An id with no events raises the given NotFound error."""
    with pytest.raises(AccountNotFound):
        reopened.store.preload(BillingAccount, [ids.account_id("A-1"), ids.account_id("NOPE")], AccountNotFound, "x")


def test_load_many_maps_an_unknown_id_to_none(reopened: Any) -> None:
    """load_many() returns None for an id with no events and the accounts for the others."""
    known, unknown = ids.account_id("A-1"), ids.account_id("NOPE")
    loaded = reopened.store.load_many(BillingAccount, [known, unknown])
    assert loaded[unknown] is None and loaded[known].account_ref == "A-1"


def test_an_account_missing_from_a_batch_load_is_found_once_another_process_opens_it(make_settings: SettingsFactory) -> None:
    """A miss is not cached: an account opened later by another ledger process is found by the next load."""
    _three_accounts(make_settings)
    reader = make_ledger(make_settings())
    writer = make_ledger(make_settings())
    try:
        late = ids.account_id("LATE")
        assert reader.store.load_many(BillingAccount, [late])[late] is None
        open_account(writer, "LATE", "EUR")
        assert reader.store.load_many(BillingAccount, [late])[late].account_ref == "LATE"
    finally:
        reader.close()
        writer.close()


def test_accounts_read_ahead_equal_accounts_read_when_loaded(make_settings: SettingsFactory) -> None:
    """preload() from rows read ahead in the background gives what single loads give (PostgreSQL; SQLite, which
    reads one aggregate at a time, reads nothing ahead)."""
    refs = _three_accounts(make_settings)
    ledger = make_ledger(make_settings(snapshot_interval=3))
    try:
        account_ids = [ids.account_id(ref) for ref in refs]
        ahead = ledger.store.read_ahead(account_ids)
        assert (ahead is None) == (ledger.settings.store == "sqlite")
        loaded = ledger.store.preload(BillingAccount, account_ids, AccountNotFound, "account", ahead)
        for ref, account_id in zip(refs, account_ids):
            assert loaded[account_id].__dict__ == fresh_account(ledger, ref).__dict__
    finally:
        ledger.close()


@pytest.fixture
def three_on_postgres(postgres_schema: tuple[str, str]) -> Iterator[tuple[Any, list[UUID], list[str]]]:
    """(ledger, account ids, refs) of three accounts on PostgreSQL, whose store reads many aggregates at once."""
    refs = _three_accounts(lambda **kw: postgres_settings(*postgres_schema, **kw))
    ledger = make_ledger(postgres_settings(*postgres_schema, snapshot_interval=3))
    yield ledger, [ids.account_id(ref) for ref in refs], refs
    ledger.close()


@pytest.mark.postgres
def test_an_account_cached_after_its_rows_were_read_ahead_comes_from_the_cache(three_on_postgres) -> None:
    """The cache's copy (which may be newer) outranks rows read ahead before it was loaded."""
    ledger, account_ids, refs = three_on_postgres
    ahead = ledger.store.read_ahead(account_ids)
    first = ledger.store.load(BillingAccount, account_ids[0], AccountNotFound, "account")
    post_charge(ledger, refs[0], "after-read-ahead", "7.00", "EUR", "2026-10-01T10:00:00Z")
    loaded = ledger.store.preload(BillingAccount, account_ids, AccountNotFound, "account", ahead)
    assert loaded[account_ids[0]] is first and first.balance == fresh_account(ledger, refs[0]).balance


@pytest.mark.postgres
def test_rows_read_ahead_are_used_once(three_on_postgres) -> None:
    """A batch retried after a version conflict reads afresh: the rows read ahead are handed out only once."""
    ledger, account_ids, _ = three_on_postgres
    ahead = ledger.store.read_ahead(account_ids)
    assert ahead is not None and ahead.take(account_ids) is not None
    assert ahead.take(account_ids) is None


@pytest.mark.postgres
def test_rows_read_ahead_for_other_accounts_are_not_used(three_on_postgres) -> None:
    """Rows read ahead for some accounts are not handed out for a batch holding others."""
    ledger, account_ids, _ = three_on_postgres
    ahead = ledger.store.read_ahead(account_ids[:1])
    assert ahead is not None and ahead.take(account_ids[:2]) is None


@pytest.mark.postgres
def test_postgres_store_uses_the_unnest_recorder(postgres_schema: tuple[str, str]) -> None:
    """On PostgreSQL the store's application recorder is ours, with the library's db functions off."""
    ledger = make_ledger(postgres_settings(*postgres_schema))
    try:
        assert isinstance(ledger.store.recorder, FastPostgresApplicationRecorder)
        assert not ledger.store.recorder.datastore.enable_db_functions
    finally:
        ledger.close()


@pytest.mark.postgres
def test_unnest_insert_returns_gap_free_ids_in_event_order(postgres_schema: tuple[str, str]) -> None:
    """One save of many events gets consecutive notification ids in the order of its events."""
    ledger = make_ledger(postgres_settings(*postgres_schema))
    try:
        define_spec(ledger)
        open_account(ledger, "N-1", "EUR")
        before = max_notification_id(ledger)
        account = ledger.store.load(BillingAccount, ids.account_id("N-1"), AccountNotFound, "account")
        for i in range(50):
            account.apply_charge(datetime(2026, 10, 2, tzinfo=UTC), charge_id=f"c{i}", charge_type="appliedBillingCharge",
                                 currency_code="EUR", tax_excluded=Decimal(i), taxes=[],
                                 tax_included=Decimal(i), effective_at=datetime(2026, 10, 2, tzinfo=UTC))
        recordings = ledger.store.save(account)
        assert [r.notification.id for r in recordings] == list(range(before + 1, before + 51))
        assert [r.domain_event.originator_version for r in recordings] == list(range(2, 52))
        stored = ledger.store.notifications(start=before + 1, limit=100)
        assert [(n.id, n.originator_version) for n in stored] == [(before + 1 + i, 2 + i) for i in range(50)]
    finally:
        ledger.close()


@pytest.mark.postgres
def test_unnest_insert_of_a_taken_version_is_an_integrity_error(postgres_schema: tuple[str, str]) -> None:
    """Saving an aggregate whose version another writer already took raises the library's IntegrityError."""
    settings = postgres_settings(*postgres_schema)
    first, second = make_ledger(settings), make_ledger(settings)
    try:
        define_spec(first)
        open_account(first, "V-1", "EUR")
        a = first.store.load(BillingAccount, ids.account_id("V-1"), AccountNotFound, "account")
        b = second.store.load(BillingAccount, ids.account_id("V-1"), AccountNotFound, "account")
        a.suspend(datetime(2026, 10, 2, tzinfo=UTC), "one")
        b.suspend(datetime(2026, 10, 2, tzinfo=UTC), "two")
        first.store.save(a)
        with pytest.raises(IntegrityError):
            second.store.save(b)
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
def test_one_aggregate_read_gives_the_rows_a_batch_read_gives(postgres_schema: tuple[str, str]) -> None:
    """select_events_after for one id (the plain key-range statement) equals its part of a many-id read."""
    ledger = make_ledger(postgres_settings(*postgres_schema))
    try:
        define_spec(ledger)
        for ref in ("R-1", "R-2"):
            open_account(ledger, ref, "EUR")
            for i in range(4):
                post_charge(ledger, ref, f"c{i}", f"{i}.25", "EUR", "2026-10-01T10:00:00Z")
        recorder = ledger.store.recorder
        one, two = ids.account_id("R-1"), ids.account_id("R-2")
        for after in (0, 2, 5):
            alone = recorder.select_events_after([two], [after])
            both = recorder.select_events_after([one, two], [0, after])
            assert [(v, t, bytes(s)) for _, v, t, s in alone] == [(v, t, bytes(s)) for n, v, t, s in both if n == 2]
            assert [v for _, v, _, _ in alone] == list(range(after + 1, 6))
            assert {n for n, _, _, _ in alone} <= {1}
    finally:
        ledger.close()


@pytest.mark.postgres
def test_one_aggregate_read_with_its_snapshot_gives_the_rows_of_the_two_queries(postgres_schema: tuple[str, str]) -> None:
    """select_one_with_snapshot (one statement) equals select_latest_snapshots then select_events_after."""
    settings = postgres_settings(*postgres_schema, snapshot_interval=3)
    _three_accounts(lambda **overrides: settings)  # no snapshot: a snapshot and events after it
    ledger = make_ledger(settings)
    try:
        recorder, table = ledger.store.recorder, ledger.store.snapshots.recorder.events_table_name
        for ref in ("A-1", "A-2", "A-3", "NOBODY"):
            account_id = ids.account_id(ref)
            snapshots = recorder.select_latest_snapshots(table, [account_id])
            after = snapshots[0].originator_version if snapshots else 0
            one_snapshots, one_events = recorder.select_one_with_snapshot(table, account_id)
            assert one_snapshots == snapshots, ref
            assert [(v, t, bytes(s)) for _, v, t, s in one_events] == [
                (v, t, bytes(s)) for _, v, t, s in recorder.select_events_after([account_id], [after])], ref
        assert recorder.select_one_with_snapshot(table, ids.account_id("A-3"))[0]  # one of them did pass a snapshot
        assert ledger.store.load(BillingAccount, ids.account_id("A-3"), AccountNotFound, "account").version == 6
    finally:
        ledger.close()


def test_a_batch_meeting_a_conflict_catches_its_cached_accounts_up(make_settings: SettingsFactory,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Another ledger posts to accounts this one has cached: this ledger's batch meets the version conflict, takes its
    charges back, catches the same cached accounts up with the other's events (no reload) and applies every charge
    once; each account then equals its rebuild from the database. Lately contended, the next batch catches its
    accounts up before deciding, and meets no conflict."""
    refs = _three_accounts(make_settings)
    settings = make_settings(snapshot_interval=3)
    clock = FakeClock(datetime(2026, 10, 2, tzinfo=UTC))
    ours, other = make_ledger(settings, clock), make_ledger(settings, clock)
    try:
        account_ids = [ids.account_id(ref) for ref in refs]
        cached = ours.store.preload(BillingAccount, account_ids, AccountNotFound, "account")
        for ref in refs[:2]:
            post_charge(other, ref, "theirs", "5.00", "EUR", "2026-10-01T11:00:00Z")
        batch = PostCharges(charges=[charge_cmd(ref, f"ours-{n}", "1.25", "EUR", "2026-10-01T12:00:00Z")
                                     for n in range(3) for ref in refs])
        result = ours.execute(batch)
        assert (result.applied, result.duplicates, result.rejected) == (9, 0, [])
        for ref, account_id in zip(refs, account_ids):
            assert ours.store._cached(account_id) is cached[account_id]  # type: ignore[attr-defined]
            assert cached[account_id].__dict__ == fresh_account(ours, ref).__dict__
        assert ours.execute(batch).duplicates == 9
        conflicts: list[int] = []
        after_conflict = ours.store.after_conflict  # type: ignore[attr-defined]  # LedgerStore's, not the port's

        def counted() -> None:
            conflicts.append(1)
            after_conflict()

        monkeypatch.setattr(ours.store, "after_conflict", counted)
        post_charge(other, refs[0], "theirs-later", "5.00", "EUR", "2026-10-01T11:00:00Z")
        late = PostCharges(charges=[charge_cmd(refs[0], "ours-later", "1.25", "EUR", "2026-10-01T12:00:00Z")])
        assert ours.execute(late).applied == 1 and conflicts == []  # lately contended: caught up before deciding
        assert cached[account_ids[0]].__dict__ == fresh_account(ours, refs[0]).__dict__
    finally:
        ours.close()
        other.close()
