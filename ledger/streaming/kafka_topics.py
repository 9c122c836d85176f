"""Creates the ledger's Kafka topics when they are missing (events, rating charges, dead letters)."""

from __future__ import annotations

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ledger.errors import BrokerUnavailable


def ensure_topics(bootstrap: str, topics: dict[str, int], replication: int = 1) -> None:
    """Create each missing topic with its partition count; existing topics are left as they are."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","), client_id="ledger-admin",
                                 request_timeout_ms=15_000)
    except KafkaError as error:
        raise BrokerUnavailable(f"cannot reach Kafka at {bootstrap}: {error!r}", bootstrap=bootstrap) from None
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, partitions, replication) for name, partitions in topics.items() if name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass  # another process created it meanwhile
    except KafkaError as error:
        raise BrokerUnavailable(f"cannot create topics {sorted(topics)} on {bootstrap}: {error!r}") from None
    finally:
        admin.close()
