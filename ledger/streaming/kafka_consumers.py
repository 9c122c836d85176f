"""What the ledger's Kafka consumers share: knowing an empty poll from a broker that is gone, and the lag per
partition (from the high-water marks fetches bring back: no extra request)."""

from __future__ import annotations

from typing import Any

from ledger.errors import BrokerUnavailable

RECONNECT_BACKOFF_MAX_MS = 1_000
"""kafka-python's longest wait between two connection attempts to a broker (its default, 30 s, kept a client away
from a restarted broker for up to half a minute)."""


def check_broker(consumer: Any, what: str) -> None:
    """Raise BrokerUnavailable when `consumer` holds no connection to any broker: kafka-python's poll returns
    nothing, without an error, while the broker is down, which would otherwise look like a quiet topic."""
    try:
        client = consumer._client
        connected = any(client.connected(broker.node_id) for broker in client.cluster.brokers())
    except AttributeError:  # another kafka-python: cannot tell, so trust the poll
        return
    if not connected:
        raise BrokerUnavailable(f"{what}: no connection to any Kafka broker")


def partition_lag(consumer: Any, partitions: Any) -> dict[Any, int]:
    """{partition: messages not yet consumed} for the partitions whose high-water mark and position are known."""
    lag = {}
    for tp in partitions:
        highwater = consumer.highwater(tp)
        try:
            position = consumer.position(tp, timeout_ms=0)
        except Exception:  # noqa: BLE001 - not known yet (no fetch, or a rebalance): skip it this time
            continue
        if highwater is not None and position is not None:
            lag[tp] = highwater - position
    return lag
