"""Crashes against a real broker: two ingestion workers of one group killed -9 in turn, and the broker stopped
mid-stream under the relay. Nothing is lost or doubled: balances equal an independent sum. (Random kills of every
process amid database and broker restarts: tests/integration/test_outages.py.)"""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

import pytest

from ledger.bootstrap import projection, relay
from ledger.settings import Settings
from tests.support.ledger_factory import account_of, make_ledger, post_charge
from tests.support.pipeline import Processes, RatingSystem, ledger_with_accounts, read_model_balances, read_topic, wait_for

ACCOUNTS = [f"K-{n}" for n in range(20)]


@pytest.fixture
def settings(make_stream_settings, kafka_bootstrap) -> Settings:
    return make_stream_settings(kafka_bootstrap, relay_batch_size=200)


@pytest.fixture
def ledger(settings):
    with ledger_with_accounts(settings, {ref: "EUR" for ref in ACCOUNTS}) as ledger:
        yield ledger


def test_two_ingestion_workers_in_one_group_apply_each_charge_once(settings, ledger, registry, tmp_path):
    """Two ingest processes share the rating topic's partitions; killed -9 and restarted in turn (partitions move
    between them, so each sometimes holds stale copies of accounts), every charge is still applied exactly once."""
    rng = random.Random(20261122)
    rating = RatingSystem(settings, registry)
    for n in range(3000):
        rating.charge(f"w{n}", rng.choice(ACCOUNTS), Decimal(rng.randint(1, 99999)) / 100)
    rating.flush()
    expected = rating.expected_balances()
    procs = Processes(settings, tmp_path)
    workers = ("ingest-a", "ingest-b")
    for worker in workers:
        procs.start("ingest", key=worker)
    try:
        for n in range(3):  # a, b, a: at the third kill b takes back partitions a has changed accounts of since
            time.sleep(rng.uniform(1.0, 2.5))
            procs.kill(workers[n % 2])
            for m in range(200):  # more charges while one worker is down
                rating.charge(f"w{n}-{m}", rng.choice(ACCOUNTS), Decimal(rng.randint(1, 99999)) / 100)
            rating.flush()
            procs.start("ingest", key=workers[n % 2])
        expected = rating.expected_balances()
        checker = make_ledger(settings)
        try:
            def balances() -> dict[str, Decimal]:
                checker.store.forget()
                return {ref: account_of(checker, ref).balance for ref in expected}

            done = wait_for(lambda: balances() == expected, timeout=180, every=2)
        finally:
            checker.close()
    finally:
        procs.stop_all()
    assert done, f"balances never matched the sum sent:\n{procs.log_tail()}"


def test_commands_succeed_with_the_broker_down_and_the_relay_catches_up(make_stream_settings, registry, kafka_server):
    """Stopping the broker mid-stream blocks nothing; once it is back every event is published, in order."""
    settings = make_stream_settings(kafka_server.bootstrap, relay_batch_size=200)
    with ledger_with_accounts(settings, {ref: "EUR" for ref in ACCOUNTS[:3]}) as ledger:
        _broker_outage(settings, ledger, registry, kafka_server)


def _broker_outage(settings, ledger, registry, kafka_server) -> None:
    stop = threading.Event()
    relay_ = relay(ledger, registry)
    runner = threading.Thread(target=relay_.run, args=(stop,), kwargs={"idle_seconds": 0.1, "max_backoff": 1.0})
    runner.start()
    try:
        for n in range(50):
            post_charge(ledger, ACCOUNTS[n % 3], f"before-{n}", "1.00", "EUR", "2026-10-05T10:00:00Z")
        kafka_server.stop()
        for n in range(50):  # commands never wait for Kafka
            post_charge(ledger, ACCOUNTS[n % 3], f"during-{n}", "2.00", "EUR", "2026-10-05T10:00:00Z")
        time.sleep(2)
        kafka_server.start()
        for n in range(50):
            post_charge(ledger, ACCOUNTS[n % 3], f"after-{n}", "3.00", "EUR", "2026-10-05T10:00:00Z")
        stored = ledger.store.recorder.max_notification_id()
        assert wait_for(lambda: relay_.position >= stored, timeout=120), f"relay stuck at {relay_.position}/{stored}"
    finally:
        stop.set()
        runner.join(30)
    consumer = projection(settings, registry=registry)
    consumer.catch_up()
    consumer.close()
    balances = read_model_balances(settings)
    assert [balances[ref] for ref in ACCOUNTS[:3]] == [account_of(ledger, ref).balance for ref in ACCOUNTS[:3]]
    charge_ids = [registry.decode(m.value)[1].get("charge_id") for m in read_topic(settings.kafka_bootstrap,
                                                                                   settings.events_topic)]
    assert {c for c in charge_ids if c} == {f"{p}-{n}" for p in ("before", "during", "after") for n in range(50)}
