"""The stream processes (real subprocesses) while their dependencies go away and come back: PostgreSQL stopped
and started on the same port and data directory, the broker stopped (SIGTERM) and killed (SIGKILL) and started
again. Each process recovers by itself (the test restarts none), says so in its log once, not once a retry,
reports itself not ready meanwhile, and nothing is lost or doubled: balances equal the independent sum of what the
rating system sent, and verify is clean. A database gone past the give-up limit ends the process with code 3;
SIGTERM ends a busy one with 0, nothing half-applied."""

from __future__ import annotations

import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ledger.bootstrap import api_tables, ensure_ledger_topics, read_model_db
from ledger.contracts.rating import CHARGE_SCHEMA, charge_record
from ledger.ports import ListenerRecord
from ledger.projections.verify import verify_read_models
from ledger.settings import Settings
from tests.support.ledger_factory import account_of, make_ledger
from tests.support.listeners import Listener
from tests.support.outages import PROCESSES, WITH_NOTIFY, ChargeFeeder, ProgressWatch, Rig
from tests.support.pipeline import (
    Processes,
    RatingSystem,
    dead_letters_on,
    drop_read_schemas,
    ledger_with_accounts,
    read_model_balances,
    read_topic,
    stream_settings,
    wait_for,
)
from tests.support.postgres_server import PostgresServer, drop_schema, fresh_schema
from tests.support.processes import free_ports

ACCOUNTS = [f"O-{n}" for n in range(12)]
RIDE_OUT = {"reconnect_max_seconds": 1.0, "outage_log_seconds": 60.0}  # retry often, log an outage once
OUTAGE_SECONDS = 7  # longer than a step may wait before its process says it is not ready (5 s)
BROKER_OUTAGE_SECONDS = 3  # the consumers fail at once on a broker outage (an empty poll with no connection)


@pytest.fixture
def on_stoppable_postgres(postgres_server_control: PostgresServer, kafka_bootstrap: str) -> Iterator[Settings]:
    """Stream settings on the PostgreSQL server the test may stop, with accounts opened."""
    url = postgres_server_control.url
    schema = fresh_schema(url)
    settings = stream_settings(url, schema, kafka_bootstrap, **RIDE_OUT)
    ensure_ledger_topics(settings)
    with ledger_with_accounts(settings, {ref: "EUR" for ref in ACCOUNTS}):
        pass
    yield settings
    if postgres_server_control.running:
        drop_read_schemas(settings)
        drop_schema(url, schema)


def _readiness(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def _not_ready_during(ports: dict[str, int], seconds: float) -> set[str]:
    """The processes whose /readyz answered 503 at least once in the next `seconds`."""
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen |= {name for name, port in ports.items() if _readiness(port) == 503}
        time.sleep(0.3)
    return seen


def _metric(port: int, name: str, **labels: str) -> float | None:
    """One sample of a process's /metrics (None when it has none such)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return None


def _all_three(settings: Settings, registry, tmp_path, names: tuple[str, ...] = PROCESSES
               ) -> tuple[RatingSystem, ChargeFeeder, Processes, dict[str, int], ProgressWatch]:
    """Charges flowing, the processes at work (each with its health port), and a watch on their progress."""
    rating = RatingSystem(settings, registry)
    feeder = ChargeFeeder(rating, ACCOUNTS).start()
    procs = Processes(settings, tmp_path)
    ports = dict(zip(names, free_ports(len(names))))
    for name in names:
        procs.start(name, log_level="INFO", env={"LEDGER_HEALTH_PORT": str(ports[name])})
    watch = ProgressWatch(settings).start()
    if not wait_for(lambda: all(watch.latest(n) for n in names), timeout=60):
        feeder.stop()
        watch.stop()
        procs.stop_all()
        raise AssertionError(f"the processes did not start working:\n{procs.log_tail()}")
    return rating, feeder, procs, ports, watch


def _books_balance(settings: Settings, rating: RatingSystem) -> None:
    """The read models reach the independent sum; the event store holds it too, and verify finds no difference."""
    expected = rating.expected_balances()
    assert wait_for(lambda: read_model_balances(settings) == expected, timeout=120, every=1), \
        "read models never matched the sum sent"
    checker = make_ledger(settings)
    try:
        assert {ref: account_of(checker, ref).balance for ref in expected} == expected
        report = verify_read_models(checker.store, read_model_db(settings))
        assert report.ok, report.differences[:5]
    finally:
        checker.close()


def _hub_listener(settings: Settings) -> Listener:
    """A loopback listener registered for every charge event from the start of the log."""
    listener = Listener()
    records = api_tables(settings)
    try:
        records.add_listener(ListenerRecord(uuid.uuid4().hex, listener.url, "eventType=AppliedCustomerBillingRateCreateEvent",
                                            0, "active", None, None, None, 0, time.time()), "outage-secret")
    finally:
        records.close()
    return listener


def test_every_process_rides_out_postgresql_restarts(on_stoppable_postgres, postgres_server_control, registry, tmp_path):
    """PostgreSQL shut down (fast, then immediate: a crash) and started again under relay, ingest, project and notify
    while charges flow: each one resumes by itself, was not ready meanwhile, logged the outage once and its end; the
    hub's listener gets every charge recorded, across the restarts too."""
    settings = on_stoppable_postgres
    listener = _hub_listener(settings)
    rating, feeder, procs, ports, watch = _all_three(settings, registry, tmp_path, WITH_NOTIFY)
    try:
        for mode in ("fast", "immediate"):
            postgres_server_control.halt(mode)
            assert _not_ready_during(ports, OUTAGE_SECONDS) == set(WITH_NOTIFY)
            postgres_server_control.resume()
            back = time.monotonic()
            assert {name: watch.resumed_after(name, back) is not None for name in WITH_NOTIFY} == \
                dict.fromkeys(WITH_NOTIFY, True), procs.log_tail()
        feeder.stop()
        assert [name for name, p in procs.running.items() if p.poll() is not None] == []
        _books_balance(settings, rating)
        charges = {f"{account}:{charge_id}" for charge_id, (account, _) in rating.sent.items()}
        assert wait_for(lambda: len(listener.event_ids()) >= len(charges), timeout=120, every=1), procs.log_tail()
        delivered = {b["event"]["appliedCustomerBillingRate"]["id"] for _, b in listener.accepted}
        assert len(listener.event_ids()) == len(charges) and delivered == charges
        assert {name: _readiness(port) for name, port in ports.items()} == dict.fromkeys(WITH_NOTIFY, 200)
        for name, port in ports.items():
            assert (_metric(port, "ledger_messages_processed_total") or 0) > 0, name
        for name in ("relay", "project"):  # the ingestion's and notifier's pools wait the outage out inside one step
            assert (_metric(ports[name], "ledger_reconnects_total", dependency="postgresql") or 0) >= 2, name
        assert _metric(ports["relay"], "ledger_relay_lag_events") is not None
        assert _metric(ports["project"], "ledger_consumer_lag", partition="0") is not None
    finally:
        feeder.stop()
        watch.stop()
        procs.stop_all()
        listener.close()
    for name in WITH_NOTIFY:  # each outage said once (a failure, or a step waiting), never once a retry
        log = procs.log_of(name)
        said = log.count("postgresql unavailable; retrying") + log.count("one step has waited")
        assert 2 <= said <= 4 and "still unavailable" not in log, log[-3000:]


def test_every_process_rides_out_broker_restarts(make_stream_settings, kafka_server, registry, tmp_path):
    """The broker stopped (SIGTERM), then killed (SIGKILL), and started again under the three processes: each one
    resumes by itself (ingest never dies of a connection error) and nothing is lost or doubled."""
    settings = make_stream_settings(kafka_server.bootstrap, **RIDE_OUT)
    with ledger_with_accounts(settings, {ref: "EUR" for ref in ACCOUNTS}):
        pass
    rating, feeder, procs, ports, watch = _all_three(settings, registry, tmp_path)
    try:
        for stop in (kafka_server.stop, kafka_server.kill):
            feeder.pause()
            stop()
            # the consumers see the broker gone at their next poll; the relay only when it has events to publish
            assert _not_ready_during(ports, BROKER_OUTAGE_SECONDS) >= {"ingest", "project"}
            kafka_server.start()
            back = time.monotonic()
            feeder.resume()
            assert {name: watch.resumed_after(name, back) is not None for name in PROCESSES} == \
                dict.fromkeys(PROCESSES, True), procs.log_tail()
        feeder.stop()
        assert [name for name, p in procs.running.items() if p.poll() is not None] == []
        _books_balance(settings, rating)
    finally:
        feeder.stop()
        watch.stop()
        procs.stop_all()
        kafka_server.start()


def test_a_process_gives_up_when_its_database_stays_away(on_stoppable_postgres, postgres_server_control, tmp_path):
    """With PostgreSQL gone longer than LEDGER_GIVE_UP_SECONDS the relay exits with code 3, its last line saying why."""
    procs = Processes(on_stoppable_postgres, tmp_path)
    watch = ProgressWatch(on_stoppable_postgres).start()
    relay = procs.start("relay", env={"LEDGER_GIVE_UP_SECONDS": "3"})
    try:
        assert wait_for(lambda: watch.latest("relay") > 0, timeout=60), procs.log_tail()
        postgres_server_control.halt("fast")
        assert relay.wait(timeout=60) == 3
    finally:
        watch.stop()
        procs.running.pop("relay", None)
        postgres_server_control.resume()
    last = procs.log_of("relay").strip().splitlines()[-1]
    assert "[dependency_lost]" in last and "postgresql unavailable" in last, last


def test_sigterm_ends_busy_processes_with_0_and_nothing_half_applied(make_stream_settings, kafka_bootstrap, registry,
                                                                    tmp_path):
    """SIGTERM to the three processes while charges flow: each exits 0 within its stop timeout; restarted, they
    finish the work with every charge applied once."""
    settings = make_stream_settings(kafka_bootstrap, stop_timeout_seconds=10.0)
    with ledger_with_accounts(settings, {ref: "EUR" for ref in ACCOUNTS}):
        pass
    rating = RatingSystem(settings, registry)
    feeder = ChargeFeeder(rating, ACCOUNTS, per_tick=200).start()
    procs = Processes(settings, tmp_path)
    watch = ProgressWatch(settings).start()
    try:
        for name in PROCESSES:
            procs.start(name)
        assert wait_for(lambda: all(watch.latest(n) for n in PROCESSES), timeout=60), procs.log_tail()
        stopping = dict(procs.running)
        procs.running.clear()
        started = time.monotonic()
        for process in stopping.values():
            process.terminate()
        codes = {name: process.wait(timeout=30) for name, process in stopping.items()}
        assert codes == dict.fromkeys(PROCESSES, 0) and time.monotonic() - started < 30
        feeder.stop()
        for name in PROCESSES:
            procs.start(name)
        _books_balance(settings, rating)
    finally:
        feeder.stop()
        watch.stop()
        procs.stop_all()


def _poison(rating: RatingSystem, registry, count: int) -> list[bytes]:
    """`count` refused messages of four kinds (undecodable, unknown account, invalid amount, a conflicting re-send
    of a charge already sent), each with bytes of its own; returns them."""
    sent = []
    for n in range(count):
        kind = n % 4
        if kind == 0:
            value, key = f"not avro {n}".encode(), "junk"
        else:
            first_account = rating.sent["f0"][0]  # a conflicting re-send of the feeder's first charge, on its account
            charge_id, account, amount = {1: (f"p{n}", "NO-SUCH", Decimal(1)), 2: (f"p{n}", ACCOUNTS[0], Decimal(-1)),
                                          3: ("f0", first_account, Decimal(1000 + n))}[kind]
            value = registry.encode(CHARGE_SCHEMA, charge_record(charge_id=charge_id, account_id=account,
                                                                 currency="EUR", tax_excluded_amount=amount,
                                                                 date="2026-10-05T10:00:00+00:00"))
            key = account
        rating.send(value, key)
        sent.append(value)
    rating.flush()
    return sent


def test_twenty_kills_with_a_database_and_a_broker_restart_lose_and_double_nothing(
        postgres_server_control, kafka_server, registry, tmp_path):
    """20 kill -9 of random stream processes, each restarted at once, with PostgreSQL restarted after the 7th and the
    broker after the 14th, while charges and 1% poison flow: every process resumes (times printed), balances equal
    the independent sum, verify is clean, and the dead letters are exactly the poison sent, by source and bytes."""
    url = postgres_server_control.url
    schema = fresh_schema(url)
    settings = stream_settings(url, schema, kafka_server.bootstrap, **RIDE_OUT)
    ensure_ledger_topics(settings)
    with ledger_with_accounts(settings, {ref: "EUR" for ref in ACCOUNTS}):
        pass
    rating, rng = RatingSystem(settings, registry), random.Random(20261206)
    feeder = ChargeFeeder(rating, ACCOUNTS, per_tick=30, tick=0.1)
    env = {"LEDGER_INGEST_INSTANCE_ID": "ingest-1"}  # static membership: a restarted worker rejoins at once
    resumed: dict[str, list[float | None]] = {name: [] for name in PROCESSES}
    with Rig(settings, Processes(settings, tmp_path), feeder.start(), postgres_server_control, kafka_server, env) as rig:
        poison = _poison(rating, registry, 40)
        for kill in range(1, 21):
            time.sleep(rng.uniform(0.2, 1.5))
            victim = rng.choice(PROCESSES)
            resumed[victim].append(rig.kill(victim))
            if kill == 7:
                assert None not in rig.restart_postgres(OUTAGE_SECONDS / 2).values()
            if kill == 14:
                assert None not in rig.restart_broker(OUTAGE_SECONDS / 2, kill=True).values()
        feeder.stop()
        print("\nresume seconds after kill -9:", {name: [round(t, 1) if t else t for t in times]
                                                  for name, times in resumed.items()})
        assert sum(map(len, resumed.values())) == 20 and None not in sum(resumed.values(), [])
        assert rig.exited() == []
        _books_balance(settings, rating)
    where = {m.value: (m.topic, m.partition, m.offset) for m in read_topic(kafka_server.bootstrap, settings.rating_topic)}
    letters = dead_letters_on(kafka_server.bootstrap, settings.dead_letter_topic)
    # a batch killed after its dead letters were sent and before its offsets were committed sends them again
    assert {(d.source_topic, d.source_partition, d.source_offset, d.value) for d in letters} == \
        {(*where[value], value) for value in poison}
