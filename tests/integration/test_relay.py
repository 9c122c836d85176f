"""The outbox relay on SQLite and PostgreSQL with the in-memory publisher: order, keys, position, broker outages."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from ledger.bootstrap import positions
from ledger.contracts.codec import SchemaRegistry
from ledger.errors import PublishFailed
from ledger.service import Ledger
from ledger.streaming.event_feed import EventFeed
from ledger.streaming.memory_publisher import InMemoryPublisher
from ledger.streaming.relay import OutboxRelay
from tests.support.ledger_factory import max_notification_id


def _relay(story_ledger: Ledger, registry: SchemaRegistry, publisher: InMemoryPublisher, batch: int = 7) -> OutboxRelay:
    return OutboxRelay(EventFeed(story_ledger.store), registry, publisher.reopen, positions(story_ledger.settings),
                       batch_size=batch)


def _headers(message: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in message.headers}


def test_every_event_is_published_once_in_notification_order(story_ledger, registry):
    """All stored events go out, in notification order."""
    publisher = InMemoryPublisher()
    assert _relay(story_ledger, registry, publisher).catch_up() == max_notification_id(story_ledger)
    ids = [int(_headers(m)["notification_id"]) for m in publisher.published]
    assert ids == list(range(1, max_notification_id(story_ledger) + 1))


def test_each_account_history_is_keyed_by_its_account_in_version_order(story_ledger, registry):
    """Bill and payment events carry their account's key; each aggregate's versions go out in order."""
    publisher = InMemoryPublisher()
    _relay(story_ledger, registry, publisher).catch_up()
    versions: dict[str, list[int]] = defaultdict(list)
    for message in publisher.published:
        _, record = registry.decode(message.value)
        if record["billing_account_id"] is not None:
            assert message.key == str(record["billing_account_id"]).encode()
        versions[str(record["aggregate_id"])].append(record["aggregate_version"])
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())


def test_headers_name_event_id_type_and_schema_fingerprint(story_ledger, registry):
    """Every message says its event id, event type and the fingerprint of the schema that wrote it."""
    publisher = InMemoryPublisher()
    _relay(story_ledger, registry, publisher).catch_up()
    for message in publisher.published:
        name, record = registry.decode(message.value)
        headers = _headers(message)
        assert headers["event_id"] == str(record["event_id"]) and headers["event_type"] == record["event_type"]
        assert headers["schema_fingerprint"] == message.value[2:10].hex()


def test_position_is_recorded_only_after_the_broker_acknowledged(story_ledger, registry):
    """With the broker down nothing is marked sent; once it is back the relay resumes where it stopped."""
    publisher = InMemoryPublisher()
    relay = _relay(story_ledger, registry, publisher)
    relay.step()
    publisher.down = True
    with pytest.raises(PublishFailed):
        relay.step()
    assert positions(story_ledger.settings).get(relay.name) == 7
    publisher.down = False
    relay.catch_up()
    ids = [int(_headers(m)["notification_id"]) for m in publisher.published]
    assert ids == list(range(1, max_notification_id(story_ledger) + 1))


def test_a_restarted_relay_continues_from_the_stored_position(story_ledger, registry):
    """A new relay process publishes only what the old one had not."""
    first, second = InMemoryPublisher(), InMemoryPublisher()
    _relay(story_ledger, registry, first).step()
    _relay(story_ledger, registry, second).catch_up()
    assert len(first.published) + len(second.published) == max_notification_id(story_ledger)
    assert _headers(second.published[0])["notification_id"] == "8"


def test_positions_match_a_replay_of_the_account(story_ledger, registry):
    """The figures each account event carries are the account's state right after that event."""
    from ledger.aggregates.billing_account import BillingAccount
    from ledger.contracts.ledger_events import account_position
    from ledger.errors import NotFound

    publisher = InMemoryPublisher()
    _relay(story_ledger, registry, publisher, batch=5).catch_up()
    for message in publisher.published:
        _, record = registry.decode(message.value)
        if record["aggregate_type"] == "BillingAccount":
            account = story_ledger.store.load(BillingAccount, record["aggregate_id"], NotFound, "account",
                                        version=record["aggregate_version"])
            assert record["position"] == {k: v for k, v in account_position(account).items()}


# ---------------------------------------------------------------- accounts the feed has not followed (start, retry)


@pytest.fixture
def snapshotted_story(make_settings) -> Any:
    """The story on a store that snapshots accounts every 2 events, so loads start from snapshots."""
    from tests.support.ledger_factory import make_ledger
    from tests.support.onboarding import MASTER_KEY
    from tests.support.streams import play_story

    ledger = make_ledger(make_settings(snapshot_interval=2, master_key=MASTER_KEY))
    play_story(ledger)
    yield ledger
    ledger.close()


def test_accounts_load_at_any_version_as_single_loads_give_them(snapshotted_story):
    """The batch load gives, for every account and version, the account a single load at that version gives."""
    from ledger.aggregates.billing_account import BillingAccount
    from ledger.errors import NotFound
    from ledger.eventstore.account_history import load_at_versions

    store = snapshotted_story.store
    versions: dict[Any, int] = defaultdict(int)
    for notification in store.notifications(start=1, limit=100_000):
        if ".billing_account:" in notification.topic or "BillingAccount" in notification.topic:
            versions[notification.originator_id] = max(versions[notification.originator_id], notification.originator_version)
    assert versions
    for upto in range(1, max(versions.values()) + 1):
        wanted = {i: min(v, upto) for i, v in versions.items()}
        loaded = load_at_versions(store, BillingAccount, wanted, "billing account")
        for account_id, version in wanted.items():
            single = store.load(BillingAccount, account_id, NotFound, "billing account", version=version)
            assert loaded[account_id].version == version
            assert vars(loaded[account_id]) == vars(single)


def test_a_missing_version_is_not_found(snapshotted_story):
    from ledger.aggregates.billing_account import BillingAccount
    from ledger.errors import NotFound
    from ledger.eventstore.account_history import load_at_versions

    store = snapshotted_story.store
    first = next(n for n in store.notifications(start=1, limit=100) if "BillingAccount" in n.topic)
    with pytest.raises(NotFound):
        load_at_versions(store, BillingAccount, {first.originator_id: 10_000}, "billing account")


def test_a_feed_started_anywhere_gives_the_records_a_feed_from_the_start_gives(snapshotted_story, monkeypatch):
    """A new feed (a restarted relay) loads the accounts its first page needs together, and computes the same
    positions as a feed that followed every account from its creation."""
    store = snapshotted_story.store
    everything = [item.record for item in EventFeed(store).page(0, 100_000)]
    if store.recorder.__class__.__module__.startswith(("eventsourcing.postgres", "ledger.eventstore.postgres")):
        monkeypatch.setattr(store, "load", lambda *a, **k: pytest.fail("one load per account: not batched"))
    for start in range(0, len(everything), 3):
        assert [item.record for item in EventFeed(store).page(start, 100_000)] == everything[start:]


def test_the_notification_log_reads_what_the_library_reads(story_ledger):
    """Pages of (notification id, event) equal the library's notifications through its mapper, on either store."""
    from ledger.eventstore.notification_log import NotificationLog

    store, log = story_ledger.store, NotificationLog(story_ledger.store)
    last = max_notification_id(story_ledger)
    for after, limit in ((0, 1), (0, 100_000), (3, 7), (last - 2, 10), (last, 10)):
        ours = log.page(after, limit)
        library = [(n.id, store.mapper.to_domain_event(n)) for n in store.notifications(start=after + 1, limit=limit)]
        assert [(i, type(e), vars(e)) for i, e in ours] == [(i, type(e), vars(e)) for i, e in library]
