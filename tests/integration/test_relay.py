"""The outbox relay on SQLite and PostgreSQL with the in-memory publisher: order, keys, position, broker outages."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator

import pytest

from ledger.adapters.memory_publisher import InMemoryPublisher
from ledger.contracts.codec import SchemaRegistry
from ledger.errors import PublishFailed
from ledger.event_feed import EventFeed
from ledger.relay import OutboxRelay
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.streams import positions
from tests.support.ledger_factory import make_ledger, max_notification_id
from tests.support.streams import play_story


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    from ledger.demo import DemoClock

    ledger = make_ledger(settings, DemoClock())  # type: ignore[arg-type]
    play_story(ledger)
    yield ledger
    ledger.close()


def _relay(ledger: Ledger, registry: SchemaRegistry, publisher: InMemoryPublisher, batch: int = 7) -> OutboxRelay:
    return OutboxRelay(EventFeed(ledger.store), registry, lambda: publisher, positions(ledger.settings), batch_size=batch)


def _headers(message: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in message.headers}


def test_every_event_is_published_once_in_notification_order(ledger, registry):
    """All stored events go out, in notification order."""
    publisher = InMemoryPublisher()
    assert _relay(ledger, registry, publisher).catch_up() == max_notification_id(ledger)
    ids = [int(_headers(m)["notification_id"]) for m in publisher.published]
    assert ids == list(range(1, max_notification_id(ledger) + 1))


def test_each_account_history_is_keyed_by_its_account_in_version_order(ledger, registry):
    """Bill and payment events carry their account's key; each aggregate's versions go out in order."""
    publisher = InMemoryPublisher()
    _relay(ledger, registry, publisher).catch_up()
    versions: dict[str, list[int]] = defaultdict(list)
    for message in publisher.published:
        _, record = registry.decode(message.value)
        if record["billing_account_id"] is not None:
            assert message.key == str(record["billing_account_id"]).encode()
        versions[str(record["aggregate_id"])].append(record["aggregate_version"])
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())


def test_headers_name_event_id_type_and_schema_fingerprint(ledger, registry):
    """Every message says its event id, event type and the fingerprint of the schema that wrote it."""
    publisher = InMemoryPublisher()
    _relay(ledger, registry, publisher).catch_up()
    for message in publisher.published:
        name, record = registry.decode(message.value)
        headers = _headers(message)
        assert headers["event_id"] == str(record["event_id"]) and headers["event_type"] == record["event_type"]
        assert headers["schema_fingerprint"] == message.value[2:10].hex()


def test_position_is_recorded_only_after_the_broker_acknowledged(ledger, registry):
    """With the broker down nothing is marked sent; once it is back the relay resumes where it stopped."""
    publisher = InMemoryPublisher()
    relay = _relay(ledger, registry, publisher)
    relay.step()
    publisher.down = True
    with pytest.raises(PublishFailed):
        relay.step()
    assert positions(ledger.settings).get(relay.name) == 7
    publisher.down = False
    relay.catch_up()
    ids = [int(_headers(m)["notification_id"]) for m in publisher.published]
    assert ids == list(range(1, max_notification_id(ledger) + 1))


def test_a_restarted_relay_continues_from_the_stored_position(ledger, registry):
    """A new relay process publishes only what the old one had not."""
    first, second = InMemoryPublisher(), InMemoryPublisher()
    _relay(ledger, registry, first).step()
    _relay(ledger, registry, second).catch_up()
    assert len(first.published) + len(second.published) == max_notification_id(ledger)
    assert _headers(second.published[0])["notification_id"] == "8"


def test_positions_match_a_replay_of_the_account(ledger, registry):
    """The figures each account event carries are the account's state right after that event."""
    from ledger.aggregates.billing_account import BillingAccount
    from ledger.errors import NotFound
    from ledger.contracts.ledger_events import account_position

    publisher = InMemoryPublisher()
    _relay(ledger, registry, publisher, batch=5).catch_up()
    for message in publisher.published:
        _, record = registry.decode(message.value)
        if record["aggregate_type"] == "BillingAccount":
            account = ledger.store.load(BillingAccount, record["aggregate_id"], NotFound, "account",
                                        version=record["aggregate_version"])
            assert record["position"] == {k: v for k, v in account_position(account).items()}
