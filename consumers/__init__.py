"""Kafka consumers: charge ingestion from the rating topic, and the read-model projection of the event topic."""
