"""The streaming pipeline for tests: per-test topics and schemas, the ledger's processes as real subprocesses,
and the charge messages a rating system would send."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.dead_letters import ABSENT_VALUE
from ledger.contracts.codec import SchemaRegistry
from ledger.contracts.rating import CHARGE_SCHEMA, charge_record
from ledger.ports import DeadLetter
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.streaming.kafka_publisher import producer_config
from tests.support.ledger_factory import FakeClock, define_spec, make_ledger, open_account
from tests.support.processes import check_subprocesses_import_this_ledger


def stream_settings(url: str, schema: str, bootstrap: str, **overrides: Any) -> Settings:
    """Settings whose topics, consumer group and read-model schema belong to this test alone."""
    tag = uuid.uuid4().hex[:8]
    return Settings(store="postgres", postgres_url=url, postgres_schema=schema, kafka_bootstrap=bootstrap,
                    events_topic=f"events-{tag}", rating_topic=f"rating-{tag}", dead_letter_topic=f"dlq-{tag}",
                    ingest_group=f"ingest-{tag}", read_model_schema=f"{schema}_read", topic_partitions=3,
                    **overrides)


def drop_read_schemas(settings: Settings) -> None:
    with psycopg.connect(settings.postgres_url or "", autocommit=True) as conn:
        for suffix in ("", "__rebuild", "__old"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{settings.read_model_schema}{suffix}" CASCADE')


def process_env(settings: Settings) -> dict[str, str]:
    """The environment of a ledger process on `settings`: ours without LEDGER_* and with the settings' (no path added:
    the process runs the installed package)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"LEDGER_{name.upper()}"] = str(value)
    return env


class Processes:
    """The ledger's stream processes (relay, ingest, project) as subprocesses that a test can kill -9, run from the
    logs folder (outside the repository) with the installed package."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.env = process_env(settings)
        check_subprocesses_import_this_ledger(self.env)
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.kills = 0

    def start(self, name: str, *extra: str, key: str | None = None, log_level: str = "WARNING",
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start `ledger NAME`, known as `key` (default: the name; a second ingest worker needs its own), with
        `env` added to the settings' environment."""
        key = key or name
        log = open(self.logs / f"{key}.log", "ab")
        self.running[key] = subprocess.Popen([sys.executable, "-m", "ledger", name, "--log-level", log_level, *extra],
                                              env=self.env | (env or {}), stdout=log, stderr=log,
                                              stdin=subprocess.DEVNULL, cwd=self.logs)
        return self.running[key]

    def log_of(self, key: str) -> str:
        return (self.logs / f"{key}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        """kill -9: no clean-up, no last commit."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        self.kills += 1

    def stop_all(self) -> None:
        for process in list(self.running.values()):
            process.send_signal(signal.SIGTERM)
        for name, process in list(self.running.items()):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
            self.running.pop(name)

    def log_tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs.glob("*.log"))


CHARGE_DATE = "2026-10-05T10:00:00+00:00"  # when the rating system's charges happened


class RatingSystem:
    """Publishes charge messages to the rating topic, remembering what it sent (the independent sum)."""

    def __init__(self, settings: Settings, registry: SchemaRegistry) -> None:
        self.topic = settings.rating_topic
        self.registry = registry
        self.producer = KafkaProducer(**producer_config(settings.kafka_bootstrap or "", linger_ms=20))
        self.sent: dict[str, tuple[str, Decimal]] = {}  # charge id -> (account, amount)

    def charge(self, charge_id: str, account: str, amount: Decimal, currency: str = "EUR") -> bytes:
        value = self.registry.encode(CHARGE_SCHEMA, charge_record(
            charge_id=charge_id, account_id=account, currency=currency, tax_excluded_amount=amount,
            date=CHARGE_DATE))
        self.send(value, account)
        self.sent[charge_id] = (account, amount)
        return value

    def send(self, value: bytes, key: str) -> None:
        self.producer.send(self.topic, key=key.encode(), value=value)

    def flush(self) -> None:
        self.producer.flush(60)

    def expected_balances(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for account, amount in self.sent.values():
            totals[account] = totals.get(account, Decimal(0)) + amount
        return totals

    def close(self) -> None:
        self.producer.close(5)


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every message on a topic right now, partition by partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        messages: list[Any] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=1000).values():
                messages.extend(batch)
        return messages
    finally:
        consumer.close()


def read_model_balances(settings: Settings) -> dict[str, Decimal]:
    """Each account's balance as the read models have it now."""
    from ledger.bootstrap import read_model_db
    from ledger.projections.reader import account_overview

    db = read_model_db(settings)
    try:
        return {r["account_ref"]: r["balance"] for r in account_overview(db)}
    finally:
        db.close()


def dead_letters_on(bootstrap: str, topic: str) -> list[DeadLetter]:
    """The dead-letter topic's messages read back into letters (the reason and source travel in headers)."""
    letters = []
    for record in read_topic(bootstrap, topic):
        headers = {name: value.decode() for name, value in record.headers}
        absent = (ABSENT_VALUE[0], ABSENT_VALUE[1].decode()) in headers.items()
        letters.append(DeadLetter(value=None if absent else record.value, key=record.key,
                                  source_topic=headers["dlq.source.topic"],
                                  source_partition=int(headers["dlq.source.partition"]),
                                  source_offset=int(headers["dlq.source.offset"]), error=headers["dlq.error"],
                                  reason=headers["dlq.reason"]))
    return letters


def wait_for(check: Callable[[], bool], timeout: float, every: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()




def rating_moment() -> datetime:
    """Just after CHARGE_DATE: a ledger clock at which the charges the tests send are within the effective horizon."""
    return datetime.fromisoformat(CHARGE_DATE) + timedelta(minutes=5)


@contextlib.contextmanager
def ledger_with_accounts(settings: Settings, accounts: dict[str, str]) -> Iterator[Ledger]:
    """A ledger on `settings` with the monthly specification and these accounts (ref -> currency) opened on
    1 October, its clock then moved to just after CHARGE_DATE (the charges the tests send are rated as they come)."""
    clock = FakeClock()
    ledger = make_ledger(settings, clock)
    try:
        define_spec(ledger)
        for ref, currency in accounts.items():
            open_account(ledger, ref, currency)
        clock.set(rating_moment())
        yield ledger
    finally:
        ledger.close()
