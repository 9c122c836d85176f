"""The store on LEDGER_STORE=memory (the eventsourcing library's POPO recorders): what the service layer uses of
LedgerStore works on it (notifications, loads, a cycle run's batches, snapshots), with no file and no server,
and the processes that must outlive it refuse it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledger.aggregates.billing_account import BillingAccount
from ledger.bootstrap import ingestion, positions, relay
from ledger.errors import NotFound, StreamError
from ledger.eventstore.account_history import load_at_versions
from ledger.eventstore.notification_log import NotificationLog
from tests.support.ledger_factory import (
    FakeClock,
    account_of,
    charged_accounts,
    define_spec,
    fresh_account,
    make_ledger,
    max_notification_id,
    memory_settings,
    replay_store,
    run_cycle,
)


def charged_and_defined(ledger, count: int, charges: int = 1) -> list[str]:
    define_spec(ledger)
    return charged_accounts(ledger, count, "2.50", charges=charges)



def test_the_memory_setting_picks_the_library_s_popo_persistence() -> None:
    """LEDGER_STORE=memory configures eventsourcing.popo and nothing else to reach."""
    env = memory_settings().eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.popo"
    assert not any(key.startswith(("SQLITE_", "POSTGRES_")) for key in env)


def test_notifications_list_every_event_in_order() -> None:
    """The notification log holds each saved event once, numbered 1, 2, 3 ... and our reader agrees with it."""
    ledger = make_ledger(memory_settings())
    charged_and_defined(ledger, 2, charges=2)
    last = max_notification_id(ledger)
    notifications = ledger.store.notifications(start=1, limit=100)
    assert [n.id for n in notifications] == list(range(1, last + 1)) and last == 1 + 2 * 3
    ours = NotificationLog(ledger.store).page(0, 100)
    assert [(i, vars(e)) for i, e in ours] == [(n.id, vars(ledger.store.mapper.to_domain_event(n))) for n in notifications]


def test_loads_find_the_saved_aggregates_and_past_versions() -> None:
    """An account loads as saved, at any earlier version too; a missing one is not found."""
    ledger = make_ledger(memory_settings(cache_size=0))
    [ref] = charged_and_defined(ledger, 1, charges=3)
    account = account_of(ledger, ref)
    assert (account.version, account.balance) == (4, Decimal("7.50"))
    [earlier] = load_at_versions(ledger.store, BillingAccount, {account.id: 2}, "account").values()
    assert (earlier.version, earlier.balance) == (2, Decimal("2.50"))
    with pytest.raises(NotFound):
        account_of(ledger, "NOBODY")


def test_a_cycle_run_bills_every_batch() -> None:
    """Five accounts billed two per batch: every account gets its bill, loaded and saved batch by batch."""
    clock = FakeClock()
    ledger = make_ledger(memory_settings(batch_size=2), clock)
    refs = charged_and_defined(ledger, 5)
    assert ledger.store.read_ahead([account_of(ledger, ref).id for ref in refs]) is None  # reads one by one
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    result = run_cycle(ledger, "2026-10-01")
    assert result.accounts_billed == 5
    assert all(account_of(ledger, ref).bill_count == 1 and not account_of(ledger, ref).unbilled for ref in refs)


def test_snapshots_are_taken_and_load_as_a_full_replay_does() -> None:
    """With snapshots every 3 events, an account rebuilt from its snapshot equals the live one and a replay."""
    ledger = make_ledger(memory_settings(snapshot_interval=3))
    [ref] = charged_and_defined(ledger, 1, charges=7)
    live = account_of(ledger, ref)
    assert ledger.store.snapshots is not None and list(ledger.store.snapshots.get(live.id))
    replay = replay_store(ledger)
    assert vars(fresh_account(ledger, ref)) == vars(replay.repository.get(live.id)) == vars(live)


def test_each_memory_ledger_starts_empty() -> None:
    """Nothing persists: a second ledger on the memory store does not see the first one's accounts."""
    first, second = make_ledger(memory_settings()), make_ledger(memory_settings())
    charged_and_defined(first, 1)
    assert max_notification_id(first) > 0 and max_notification_id(second) == 0


@pytest.mark.parametrize("start", [lambda ledger: relay(ledger), lambda ledger: ingestion(ledger),
                                   lambda ledger: positions(ledger.settings)], ids=["relay", "ingestion", "positions"])
def test_the_relay_and_the_ingestion_refuse_the_memory_store(start) -> None:
    """A relay position or committed offsets against events that end with the process would lose them: refused."""
    ledger = make_ledger(memory_settings(kafka_bootstrap="127.0.0.1:9"))
    with pytest.raises(StreamError, match="LEDGER_STORE=memory"):
        start(ledger)
