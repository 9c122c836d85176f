"""State storage on PostgreSQL (snapshots uncompressed, events lz4, work_mem for big inserts), and older snapshot
layouts loaded through the batch read."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.errors import AccountNotFound
from ledger.eventstore.postgres_recorder import RAISE_WORK_MEM
from tests.support.ledger_factory import (
    FakeClock,
    adjust,
    define_spec,
    make_ledger,
    open_account,
    pay,
    post_charge,
    postgres_settings,
    replay_store,
    run_cycle,
)
from tests.support.snapshot_layouts import version_2_snapshot_state


def _storage(url: str, schema: str, table: str) -> str:
    """The state column's storage and compression, e.g. "e" (external, default compression) or "xl" (lz4)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT a.attstorage::text || a.attcompression::text FROM pg_attribute a "
                           "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = %s AND c.relname = %s AND a.attname = 'state'", (schema, table)).fetchone()
    return row[0] if row else ""


def test_snapshots_are_stored_uncompressed_and_events_compressed_with_lz4(postgres_schema: tuple[str, str]) -> None:
    """The store sets the snapshots' state column to STORAGE EXTERNAL, and the events' to lz4 (this server has it)."""
    url, schema = postgres_schema
    ledger = make_ledger(postgres_settings(url, schema, snapshot_interval=5))
    try:
        table = ledger.store.snapshots.recorder.events_table_name  # type: ignore[union-attr, attr-defined]
        assert _storage(url, schema, table) == "e"
        assert _storage(url, schema, ledger.store.recorder.events_table_name) == "xl"  # type: ignore[attr-defined]
        assert ledger.store.recorder.store_uncompressed(table) is True  # type: ignore[attr-defined]  # already so
        assert ledger.store.recorder.compress_with_lz4(table) is True  # type: ignore[attr-defined]
        assert _storage(url, schema, table) == "el"
    finally:
        ledger.close()


def test_a_version_2_snapshot_loads_to_the_replayed_state(postgres_schema: tuple[str, str]) -> None:
    """A snapshot stored in the version-2 layout, read by the batch path (no scan for typed values) and upcast,
    gives the state a replay of all events gives."""
    url, schema = postgres_schema
    settings = postgres_settings(url, schema, snapshot_interval=1000, cache_size=0)
    clock = FakeClock(datetime(2026, 10, 1, tzinfo=UTC))
    ledger = make_ledger(settings, clock)
    replay = replay_store(ledger)
    try:
        define_spec(ledger)
        open_account(ledger, "V2", "EUR")
        clock.set(datetime(2026, 10, 6, 10, tzinfo=UTC))
        for i in range(4):
            post_charge(ledger, "V2", f"c{i}", f"{i + 1}.125", "EUR", f"2026-10-0{i + 2}T10:00:00Z")
        adjust(ledger, "V2", "a1", "c0", "-0.125", "2026-10-06T10:00:00Z")
        clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
        run_cycle(ledger, "2026-10-01")
        post_charge(ledger, "V2", "c9", "9.99", "EUR", "2026-11-01T10:00:00Z")
        pay(ledger, "V2", "P1", "1.00", "EUR", "2026-11-01T12:00:00Z",
            allocations=[{"target": "charge", "id": "c9", "amount": "1.00"}])
        account_id = ids.account_id("V2")
        replayed = replay.repository.get(account_id)
        snapshot = BillingAccount.Snapshot(originator_id=account_id, originator_version=replayed.version,  # type: ignore[call-arg]
                                           timestamp=clock(), topic="ledger.aggregates.billing_account:BillingAccount",
                                           state=version_2_snapshot_state(replayed))
        ledger.store.snapshots.put([snapshot])  # type: ignore[union-attr]
        loaded = ledger.store.load(BillingAccount, account_id, AccountNotFound, "account")
        assert loaded.__dict__ == replayed.__dict__
        assert sorted(replayed.charges) == ["c0", "c1", "c2", "c3"] and list(replayed.entries) == ["c9"]
    finally:
        replay.close()
        ledger.close()


def test_a_big_insert_raises_work_mem_for_its_transaction_only_and_never_lowers_it(postgres_schema: tuple[str, str]) -> None:
    """The statement a big insert runs first: work_mem raised to what is asked, kept when already higher, reset after."""
    url, _ = postgres_schema
    with psycopg.connect(url) as conn:
        with conn.transaction():
            conn.execute(RAISE_WORK_MEM, (50_000,))
            assert conn.execute("SHOW work_mem").fetchone() == ("50000kB",)
            conn.execute(RAISE_WORK_MEM, (10,))
            assert conn.execute("SHOW work_mem").fetchone() == ("50000kB",)
        assert conn.execute("SHOW work_mem").fetchone() != ("50000kB",)


def test_changing_the_storage_gives_up_while_others_hold_the_table(postgres_schema: tuple[str, str]) -> None:
    """The ALTER waits a second at most for a table someone else holds, and says it did not change it."""
    url, schema = postgres_schema
    ledger = make_ledger(postgres_settings(url, schema, snapshot_interval=5))
    try:
        recorder = ledger.store.recorder
        table = ledger.store.snapshots.recorder.events_table_name  # type: ignore[union-attr, attr-defined]
        with psycopg.connect(url) as conn:
            conn.execute(f'ALTER TABLE "{schema}"."{table}" ALTER COLUMN state SET STORAGE EXTENDED')
            conn.commit()
            conn.execute(f'LOCK TABLE "{schema}"."{table}" IN ACCESS SHARE MODE')  # held until this transaction ends
            assert recorder.store_uncompressed(table) is False  # type: ignore[attr-defined]
        assert recorder.store_uncompressed(table) is True  # type: ignore[attr-defined]
        assert _storage(url, schema, table) == "e"
    finally:
        ledger.close()
