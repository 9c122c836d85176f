"""Events leaving the store: the notification log's feed, the outbox relay and the Kafka adapters it uses."""
