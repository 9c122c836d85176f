"""The EventPublisher contract (ledger.ports), the same tests run on the in-memory publisher and on the Kafka
publisher against the suite's real broker: each key's messages in the order published, `publish` returning only
once everything is acknowledged, PublishFailed when the broker cannot be reached, and close."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from ledger.errors import PublishFailed
from ledger.ports import EventPublisher, OutboundMessage
from ledger.streaming.kafka_publisher import KafkaPublisher
from ledger.streaming.kafka_topics import ensure_topics
from ledger.streaming.memory_publisher import InMemoryPublisher
from tests.support.pipeline import read_topic

Received = list[tuple[bytes, bytes, list[tuple[str, bytes]]]]  # (key, value, headers) as a reader of the topic sees them
# The Kafka publisher's timeouts scaled down from the relay's (delivery 30 s, flush 60 s) in the same order: a
# message not acknowledged within the delivery timeout fails before publish stops waiting for it, so a failed
# publish leaves nothing pending and close returns at once.
KAFKA_TIMEOUTS = {"flush_timeout": 8.0, "request_timeout_ms": 1_500, "delivery_timeout_ms": 3_000}


@dataclass
class Adapter:
    """One publisher implementation with what the contract needs around it."""

    new_publisher: Callable[[], EventPublisher]  # a publisher on the adapter's broker (as the relay's factory makes)
    received: Callable[[], Received]  # everything on the broker now
    outage: Callable[[], contextlib.AbstractContextManager[None]]  # the broker unreachable inside, back after


def memory_adapter() -> Adapter:
    publisher = InMemoryPublisher()

    @contextlib.contextmanager
    def outage() -> Iterator[None]:
        publisher.down = True
        try:
            yield
        finally:
            publisher.down = False

    def received() -> Received:
        return [(m.key, m.value, list(m.headers)) for m in publisher.published]

    return Adapter(publisher.reopen, received, outage)


def kafka_adapter(bootstrap: str, stop_and_start: tuple[Callable[[], None], Callable[[], None]] | None = None) -> Adapter:
    topic = f"contract-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {topic: 3})

    @contextlib.contextmanager
    def outage() -> Iterator[None]:
        assert stop_and_start is not None, "this adapter's broker cannot be stopped"
        stop, start = stop_and_start
        stop()
        try:
            yield
        finally:
            start()

    def received() -> Received:
        return [(r.key, r.value, list(r.headers)) for r in read_topic(bootstrap, topic)]

    return Adapter(lambda: KafkaPublisher(bootstrap, topic, **KAFKA_TIMEOUTS), received, outage)


@pytest.fixture(params=["memory", "kafka"])
def adapter(request: pytest.FixtureRequest) -> Adapter:
    """Each publisher on a broker of its own (Kafka: a fresh topic on the suite's broker)."""
    if request.param == "memory":
        return memory_adapter()
    return kafka_adapter(request.getfixturevalue("kafka_bootstrap"))


@pytest.fixture(params=["memory", "kafka"])
def stoppable(request: pytest.FixtureRequest) -> Adapter:
    """Each publisher on a broker the test may make unreachable (Kafka: a broker this suite started, stopped)."""
    if request.param == "memory":
        return memory_adapter()
    server = request.getfixturevalue("kafka_server")
    return kafka_adapter(server.bootstrap, (server.stop, server.start))


@contextlib.contextmanager
def opened(adapter: Adapter) -> Iterator[EventPublisher]:
    publisher = adapter.new_publisher()
    try:
        yield publisher
    finally:
        publisher.close()


def messages(count: int, keys: int = 7, start: int = 0) -> list[OutboundMessage]:
    """`count` messages over `keys` keys; value and header n say the message's place in the sending order."""
    return [OutboundMessage(f"account-{n % keys}".encode(), f"v{n}".encode(), [("n", str(n).encode())])
            for n in range(start, start + count)]


def by_key(received: Received) -> dict[bytes, list[int]]:
    order: dict[bytes, list[int]] = {}
    for key, value, _ in received:
        order.setdefault(key, []).append(int(value[1:]))
    return order


def test_each_key_s_messages_arrive_in_the_order_published(adapter: Adapter) -> None:
    """Over three publishes, every message arrives once, and each key's messages in the order they were sent."""
    sent = messages(120) + messages(60, start=120) + messages(1, start=180)
    with opened(adapter) as publisher:
        publisher.publish(sent[:120])
        publisher.publish(sent[120:180])
        publisher.publish(sent[180:])
    received = adapter.received()
    assert sorted(value for _, value, _ in received) == sorted(m.value for m in sent)
    assert by_key(received) == by_key([(m.key, m.value, list(m.headers)) for m in sent])


def test_publish_returns_once_every_message_is_acknowledged(adapter: Adapter) -> None:
    """As soon as publish returns (before close), a reader finds every message with its key and headers."""
    sent = messages(50)
    with opened(adapter) as publisher:
        publisher.publish(sent)
        received = adapter.received()
    assert sorted(received) == sorted((m.key, m.value, list(m.headers)) for m in sent)


def test_publishing_nothing_sends_nothing(adapter: Adapter) -> None:
    """An empty page is acknowledged at once and puts nothing on the topic."""
    with opened(adapter) as publisher:
        publisher.publish([])
    assert adapter.received() == []


def test_an_unreachable_broker_raises_publish_failed(stoppable: Adapter) -> None:
    """With the broker gone, publish raises PublishFailed (it never returns as if acknowledged), and the publisher
    still closes; a new publisher delivers once the broker is back."""
    publisher = stoppable.new_publisher()
    publisher.publish(messages(3))
    with stoppable.outage():
        with pytest.raises(PublishFailed):
            publisher.publish(messages(3, start=3))
        publisher.close()
    with opened(stoppable) as again:
        again.publish(messages(3, start=6))
    assert {f"v{n}".encode() for n in (0, 1, 2, 6, 7, 8)} <= {value for _, value, _ in stoppable.received()}


def test_a_closed_publisher_refuses_to_publish(adapter: Adapter) -> None:
    """After close, publish raises PublishFailed and what was acknowledged before stays published."""
    publisher = adapter.new_publisher()
    publisher.publish(messages(4))
    publisher.close()
    with pytest.raises(PublishFailed):
        publisher.publish(messages(1, start=4))
    assert sorted(value for _, value, _ in adapter.received()) == [b"v0", b"v1", b"v2", b"v3"]

