"""End to end against a real Kafka broker and PostgreSQL: charges in, events stored and published, read models."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from consumers.charge_ingestion import run_ingestion
from ledger.bootstrap import ingestion, projection, read_model_db, relay
from ledger.projections.reader import account_overview
from ledger.projections.verify import verify_read_models
from ledger.settings import Settings
from tests.support import apache_avro
from tests.support.ledger_factory import account_of
from tests.support.pipeline import RatingSystem, ledger_with_accounts, read_topic

ACCOUNTS = [f"ACC-{n}" for n in range(5)]


@pytest.fixture
def settings(make_stream_settings, kafka_bootstrap) -> Settings:
    return make_stream_settings(kafka_bootstrap)


@pytest.fixture
def ledger(settings):
    with ledger_with_accounts(settings, {**{ref: "EUR" for ref in ACCOUNTS}, "USD-1": "USD"}) as ledger:
        yield ledger


def _ingest_all(ledger, registry, expected_messages: int) -> None:
    """Run the ingestion consumer until it has handled `expected_messages`."""
    worker = ingestion(ledger, registry)
    stop, seen = threading.Event(), [0]

    def on_batch(result) -> None:
        seen[0] += result.received
        if seen[0] >= expected_messages:
            stop.set()

    timer = threading.Timer(90, stop.set)
    timer.start()
    try:
        run_ingestion(worker, stop, on_batch=on_batch)
    finally:
        timer.cancel()
    assert seen[0] >= expected_messages, f"ingested {seen[0]} of {expected_messages} messages"


@pytest.fixture
def pipeline_run(settings, ledger, registry):
    """Charges, a duplicate and three poison messages through ingestion, relay and projection."""
    rating = RatingSystem(settings, registry)
    for n in range(300):
        rating.charge(f"c{n}", ACCOUNTS[n % len(ACCOUNTS)], Decimal(n % 17) + Decimal("0.25"))
    duplicate = rating.charge("c7", ACCOUNTS[7 % len(ACCOUNTS)], Decimal(7) + Decimal("0.25"))
    poison = [b"not avro at all", rating.charge("x-unknown", "NO-SUCH-ACCOUNT", Decimal(1)),
              rating.charge("x-currency", "USD-1", Decimal(1))]
    for ref in ("NO-SUCH-ACCOUNT", "USD-1"):
        rating.sent.pop(f"x-{'unknown' if ref.startswith('NO') else 'currency'}")
    rating.send(poison[0], "junk")
    rating.flush()
    _ingest_all(ledger, registry, 300 + 1 + 3)
    relay(ledger, registry).catch_up()
    consumer = projection(settings, registry=registry)
    consumer.catch_up()
    consumer.close()
    return rating, poison, duplicate


def test_balances_in_the_read_model_equal_the_independent_sum(pipeline_run, settings):
    """Each account's read-model balance is the sum of the charges the rating system sent (once each)."""
    rating, _, _ = pipeline_run
    db = read_model_db(settings)
    balances = {r["account_ref"]: r["balance"] for r in account_overview(db)}
    assert {ref: balances[ref] for ref in ACCOUNTS} == rating.expected_balances()


def test_ledger_accounts_equal_the_independent_sum(pipeline_run, ledger):
    """The event store's accounts hold each charge once, duplicates included."""
    rating, _, _ = pipeline_run
    assert {ref: account_of(ledger, ref).balance for ref in ACCOUNTS} == rating.expected_balances()


def test_read_models_verify_against_the_event_store(pipeline_run, ledger, settings):
    """The verify command finds no difference after the run."""
    report = verify_read_models(ledger.store, read_model_db(settings))
    assert report.ok, report.differences[:5]


def test_poison_messages_reach_the_dead_letter_topic_with_reason(pipeline_run, settings):
    """Undecodable, unknown-account and wrong-currency messages are dead-lettered with their bytes and reason."""
    _, poison, _ = pipeline_run
    letters = read_topic(settings.kafka_bootstrap, settings.dead_letter_topic)
    by_value = {m.value: dict(m.headers) for m in letters}
    assert set(by_value) == set(poison)
    errors = sorted(h["dlq.error"].decode() for h in by_value.values())
    assert errors == ["account_not_found", "currency_mismatch", "undecodable_message"]
    assert all(h["dlq.source.topic"].decode() == settings.rating_topic for h in by_value.values())


def test_published_events_decode_with_apache_avro_and_are_keyed_by_account(pipeline_run, settings, ledger):
    """Every message on the event topic decodes with Apache avro alone; its key is its billing account."""
    schemas = apache_avro.schemas_by_fingerprint()
    messages = read_topic(settings.kafka_bootstrap, settings.events_topic)
    charge_events = 0
    for message in messages:
        name, datum = apache_avro.decode(message.value, schemas)
        if datum["billing_account_id"]:
            assert message.key.decode() == datum["billing_account_id"]
        charge_events += name == "ledger.events.BillingAccountChargeApplied"
    assert charge_events == 300


def test_one_account_history_is_on_one_partition_in_order(pipeline_run, settings, registry):
    """Per account, the events sit on one partition with versions 1, 2, 3... in offset order."""
    partitions: dict[str, set[int]] = {}
    versions: dict[str, list[int]] = {}
    for message in read_topic(settings.kafka_bootstrap, settings.events_topic):
        _, record = registry.decode(message.value)
        partitions.setdefault(message.key, set()).add(message.partition)
        if record["aggregate_type"] == "BillingAccount":
            versions.setdefault(record["aggregate_id"], []).append(record["aggregate_version"])
    assert all(len(p) == 1 for p in partitions.values())
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
