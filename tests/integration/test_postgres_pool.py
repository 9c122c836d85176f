"""The store's PostgreSQL connection pool hands out the connection used last (one warm backend for a lone worker)."""

from __future__ import annotations

from ledger.eventstore.postgres_pool import LastUsedFirstPool, hand_out_last_used_first
from tests.support.ledger_factory import make_ledger, postgres_settings


def test_a_lone_worker_keeps_using_the_same_connection(postgres_schema: tuple[str, str]) -> None:
    url, schema = postgres_schema
    ledger = make_ledger(postgres_settings(url, schema, postgres_pool_size=3))
    try:
        datastore = ledger.store.recorder.datastore  # type: ignore[attr-defined]
        assert isinstance(datastore.pool, LastUsedFirstPool)
        datastore.pool.wait()  # all three connected
        backends = set()
        for _ in range(6):
            with datastore.get_connection() as conn:
                backends.add(conn.info.backend_pid)
        assert len(backends) == 1
        with datastore.get_connection() as first, datastore.get_connection() as second:  # overlapping work: two
            assert first.info.backend_pid != second.info.backend_pid
            last = second.info.backend_pid
        with datastore.get_connection() as conn:  # the one returned last
            assert conn.info.backend_pid == first.info.backend_pid != last
    finally:
        ledger.close()


def test_only_the_librarys_pool_is_changed() -> None:
    assert hand_out_last_used_first(None) is False
    assert hand_out_last_used_first(object()) is False
