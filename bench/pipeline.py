"""Benchmark of the streaming pipeline: charges on the rating topic -> ingestion -> event store -> relay ->
event topic -> projection -> balance read model, against a real Kafka broker and PostgreSQL.

    python -m bench.pipeline [--charges 100000] [--accounts 10000] [--ingest-workers 2] [--json]

Runs the ledger's real processes (`ledger ingest`, `ledger relay`, `ledger project`) as subprocesses and reports:
  * end to end: all three running at once (one process each), from the first charge read to the last balance updated;
  * each stage alone (ingest, relay, projection) on a second, identical data set; ingestion as a consumer group
    of `--ingest-workers` processes (one per core by default), and once more with one process on a third data set;
  * each process's resident memory at 25/50/75/100% of its work (flat means it does not grow with the count);
and, in the same run, the machine's ceilings: kafka-python consuming the same messages without processing them,
and psycopg writing the same number of rows (from one process and from as many as the ingest workers, the faster
counting). Services: $LEDGER_TEST_POSTGRES_URL / $LEDGER_TEST_KAFKA_BOOTSTRAP,
else the throw-away servers the test suite starts.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ledger.bootstrap import bootstrap, ensure_ledger_topics  # noqa: E402
from ledger.commands import DefineCycleSpecification, OpenBillingAccount  # noqa: E402
from ledger.contracts.codec import SchemaRegistry  # noqa: E402
from ledger.contracts.rating import CHARGE_SCHEMA, charge_record  # noqa: E402
from ledger.ports import fixed_clock  # noqa: E402
from ledger.settings import Settings  # noqa: E402
from ledger.streaming.kafka_publisher import producer_config  # noqa: E402
from tests.support.pipeline import process_env  # noqa: E402


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def services() -> Iterator[tuple[str, str]]:
    from tests.support.kafka_server import kafka_broker
    from tests.support.postgres_server import postgres_server

    with postgres_server() as url, kafka_broker() as (bootstrap_servers, _):
        yield url, bootstrap_servers


# --------------------------------------------------------------------------- data set


def dataset_settings(url: str, bootstrap_servers: str, partitions: int) -> Settings:
    tag = uuid.uuid4().hex[:8]
    schema = f"bench_{tag}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return Settings(store="postgres", postgres_url=url, postgres_schema=schema, kafka_bootstrap=bootstrap_servers,
                    events_topic=f"bench-events-{tag}", rating_topic=f"bench-rating-{tag}",
                    dead_letter_topic=f"bench-dlq-{tag}", ingest_group=f"bench-ingest-{tag}",
                    read_model_schema=f"{schema}_read", topic_partitions=partitions, log_level="WARNING")


OPENED_AT = datetime(2026, 10, 1, tzinfo=UTC)  # the accounts open before the charges they get (5 October)


def open_accounts(settings: Settings, accounts: int) -> float:
    ledger = bootstrap(settings, clock=fixed_clock(OPENED_AT))  # before the charges' effective moment
    started = time.perf_counter()
    ledger.execute(DefineCycleSpecification.parse({"name": "monthly"}))
    for i in range(accounts):
        ledger.execute(OpenBillingAccount.parse({"account_id": f"B-{i:06d}", "customer_id": f"C-{i:06d}",
                                                 "currency": "EUR", "cycle_specification": "monthly"}))
    ledger.close()
    return time.perf_counter() - started


def produce_charges(settings: Settings, registry: SchemaRegistry, charges: int, accounts: int, seed: int) -> dict[str, Any]:
    """The rating system's messages; returns the independent per-account sums too."""
    rng = random.Random(seed)
    producer = KafkaProducer(**producer_config(settings.kafka_bootstrap or "", linger_ms=20))
    expected: dict[str, Decimal] = {}
    started = time.perf_counter()
    for n in range(charges):
        account = f"B-{rng.randrange(accounts):06d}"
        amount = Decimal(rng.randint(1, 500_000)) / 10_000
        value = registry.encode(CHARGE_SCHEMA, charge_record(
            charge_id=f"r-{n}", account_id=account, currency="EUR", tax_excluded_amount=amount,
            date="2026-10-05T10:00:00+00:00"))
        producer.send(settings.rating_topic, key=account.encode(), value=value)
        expected[account] = expected.get(account, Decimal(0)) + amount
    producer.flush(120)
    producer.close(10)
    return {"seconds": time.perf_counter() - started, "expected": expected}


# --------------------------------------------------------------------------- ceilings


def raw_consume(settings: Settings, topic: str, total: int) -> float:
    """kafka-python reading `total` messages and doing nothing with them."""
    consumer = KafkaConsumer(bootstrap_servers=(settings.kafka_bootstrap or "").split(","), group_id=None,
                             enable_auto_commit=False, max_poll_records=10_000, fetch_max_bytes=32 * 1024 * 1024,
                             max_partition_fetch_bytes=8 * 1024 * 1024)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    started, seen = time.perf_counter(), 0
    while seen < total:
        for batch in consumer.poll(timeout_ms=1000, max_records=10_000).values():
            seen += len(batch)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def raw_produce(settings: Settings, count: int, size: int = 330) -> float:
    """kafka-python producing `count` messages of an event's size, idempotent with acks=all, as the relay does."""
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    from ledger.streaming.kafka_topics import ensure_topics

    ensure_topics(settings.kafka_bootstrap or "", {topic: settings.topic_partitions})
    producer = KafkaProducer(**producer_config(settings.kafka_bootstrap or ""))
    value = os.urandom(size)
    keys = [f"B-{n:06d}".encode() for n in range(10_000)]
    started = time.perf_counter()
    for n in range(count):
        producer.send(topic, key=keys[n % len(keys)], value=value)
    producer.flush(120)
    elapsed = time.perf_counter() - started
    producer.close(10)
    return elapsed


def _raw_rows_writer(url: str, table: str, rows: int, batch: int, ready: Any, results: Any) -> None:
    payload = os.urandom(300)
    with psycopg.connect(url) as conn:
        data = [(uuid.uuid4(), n, "ledger.aggregates.billing_account:BillingAccount.ChargeApplied", payload)
                for n in range(rows)]
        ready.wait()
        started = time.perf_counter()
        for start in range(0, rows, batch):
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO public.{table} (originator_id, originator_version, topic, state) "
                                "VALUES (%s, %s, %s, %s)", data[start:start + batch])
            conn.commit()
        results.put(time.perf_counter() - started)


def raw_psycopg_rows(url: str, rows: int, batch: int = 5_000, writers: int = 1) -> float:
    """psycopg inserting `rows` event-sized rows (uuid, version, topic, ~300 bytes), `batch` per transaction, split
    over `writers` processes (each its own connection) that start together; seconds until the last is done."""
    import multiprocessing

    table = f"raw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE public.{table} (id bigserial PRIMARY KEY, originator_id uuid, "
                     "originator_version bigint, topic text, state bytea)")
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(writers), context.Queue()
    shares = [rows // writers + (1 if n < rows % writers else 0) for n in range(writers)]
    processes = [context.Process(target=_raw_rows_writer, args=(url, table, share, batch, ready, results))
                 for share in shares]
    for process in processes:
        process.start()
    try:
        elapsed = max(results.get(timeout=600) for _ in processes)
    finally:
        for process in processes:
            process.join(60)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE public.{table}")
    return elapsed


# --------------------------------------------------------------------------- progress probes


def _sql_value(url: str, query: str) -> int:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(query).fetchone()
            return int(row[0] or 0) if row else 0
    except psycopg.Error:
        return 0  # the table is not created yet


def ingested(settings: Settings, baseline: int) -> Callable[[], int]:
    """Charges stored: each applied charge is one new event in the log."""
    return lambda: max(0, max_notification(settings) - baseline)


def relayed(settings: Settings, baseline: int) -> Callable[[], int]:
    query = (f"SELECT position FROM {settings.postgres_schema}.ledger_follower_positions "
             "WHERE name = 'event-topic-relay'")
    return lambda: max(0, _sql_value(settings.postgres_url or "", query) - baseline)


def projected(settings: Settings, baseline: int) -> Callable[[], int]:
    query = f"SELECT SUM(next_offset) FROM {settings.read_model_schema}.projection_offsets"
    return lambda: max(0, _sql_value(settings.postgres_url or "", query) - baseline)


def balances_updated(settings: Settings) -> Callable[[], int]:
    query = f"SELECT SUM(unbilled_count) FROM {settings.read_model_schema}.account_balances"
    return lambda: _sql_value(settings.postgres_url or "", query)


def max_notification(settings: Settings) -> int:
    return _sql_value(settings.postgres_url or "", f"SELECT MAX(notification_id) FROM {settings.postgres_schema}.ledger_events")


# --------------------------------------------------------------------------- processes


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class StageRun:
    name: str
    total: int
    seconds: float = 0.0
    rss_at: dict[str, float] = field(default_factory=dict)  # "25%" -> MB
    rss_max: float = 0.0

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


def group_settled(settings: Settings, members: int) -> Callable[[], bool]:
    """Whether the ingestion consumer group is stable with `members` members (each worker has its partitions)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=(settings.kafka_bootstrap or "").split(","))

    def settled() -> bool:
        try:
            group = admin.describe_groups([settings.ingest_group]).get(settings.ingest_group) or {}
        except Exception:  # noqa: BLE001 - not known to the coordinator yet
            return False
        if group.get("group_state") == "Stable" and len(group.get("members") or ()) == members:
            admin.close()
            return True
        return False

    return settled


def watch(processes: dict[str, subprocess.Popen[bytes]], probes: dict[str, tuple[Callable[[], int], int]],
          timeout: float, ready: Callable[[], bool] | None = None) -> dict[str, StageRun]:
    """Poll each probe until it reaches its total; time from the first progress seen (once `ready` says so: what
    is done before counts as the start) to the total reached."""
    runs = {name: StageRun(name, total) for name, (_, total) in probes.items()}
    first: dict[str, tuple[float, int]] = {}
    marks = (0.25, 0.5, 0.75, 1.0)
    deadline = time.monotonic() + timeout
    pending = set(probes)
    began = time.perf_counter()
    while pending and time.monotonic() < deadline:
        now = time.perf_counter()
        if ready is not None and ready():
            ready = None
        for name in list(pending):
            probe, total = probes[name]
            done = probe()
            if done and name not in first and ready is None:
                first[name] = (now, done)
            run = runs[name]
            # each of the stage's processes (ingest, ingest-2, ...): the largest is the figure
            sizes = [rss_mb(p.pid) for n, p in processes.items() if n == name or n.startswith(f"{name}-")]
            rss = max((size for size in sizes if size), default=None)
            if rss:
                run.rss_max = max(run.rss_max, rss)
                for mark in marks:
                    if done >= mark * total and f"{int(mark * 100)}%" not in run.rss_at:
                        run.rss_at[f"{int(mark * 100)}%"] = round(rss, 1)
            if done >= total:
                started, at_start = first.get(name, (began, 0))  # never ready: the whole run, start-up included
                run.total = total - at_start if now > started else total
                run.seconds = max(now - started, 1e-9)
                pending.discard(name)
        time.sleep(0.05)
    if pending:
        raise RuntimeError(f"stages {sorted(pending)} did not finish in {timeout:.0f}s")
    return runs


def start(name: str, settings: Settings, logdir: Path, copies: int = 1) -> dict[str, subprocess.Popen[bytes]]:
    """`copies` processes of `ledger NAME` (keyed name, name-2, ...); ingest copies form one consumer group."""
    processes = {}
    for n in range(1, copies + 1):
        key = name if n == 1 else f"{name}-{n}"
        log = open(logdir / f"{key}.log", "ab")
        processes[key] = subprocess.Popen([sys.executable, "-m", "ledger", name, "--log-level", "WARNING"],
                                          env=process_env(settings), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                          cwd=str(ROOT))
    return processes


def stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


# --------------------------------------------------------------------------- the run


def prepare(url: str, bootstrap_servers: str, registry: SchemaRegistry, a: argparse.Namespace,
            seed: int) -> tuple[Settings, dict[str, Any]]:
    settings = dataset_settings(url, bootstrap_servers, a.partitions)
    ensure_ledger_topics(settings)
    opened = open_accounts(settings, a.accounts)
    produced = produce_charges(settings, registry, a.charges, a.accounts, seed)
    say(f"data set: {a.accounts} accounts opened in {opened:.1f}s; {a.charges} charges produced in {produced['seconds']:.1f}s")
    return settings, produced


def end_to_end(settings: Settings, charges: int, logdir: Path, timeout: float) -> StageRun:
    """One process of each: on a 2-core machine a second ingestion process only takes CPU from the other two."""
    processes = {**start("ingest", settings, logdir), **start("relay", settings, logdir),
                 **start("project", settings, logdir)}
    try:
        runs = watch(processes, {"project": (balances_updated(settings), charges)}, timeout)
    finally:
        stop(processes)
    run = runs["project"]
    run.name = "end to end"
    return run


def ingest_stage(settings: Settings, charges: int, logdir: Path, timeout: float, workers: int) -> StageRun:
    before = max_notification(settings)
    processes = start("ingest", settings, logdir, workers)
    try:  # timed from when every worker has its partitions: a group's start-up rebalance happens once
        return watch(processes, {"ingest": (ingested(settings, before), charges)}, timeout,
                     ready=group_settled(settings, workers))["ingest"]
    finally:
        stop(processes)


def stages(settings: Settings, charges: int, logdir: Path, timeout: float, ingest_workers: int) -> dict[str, StageRun]:
    results = {"ingest": ingest_stage(settings, charges, logdir, timeout, ingest_workers)}
    events = max_notification(settings)
    processes = start("relay", settings, logdir)
    try:
        results.update(watch(processes, {"relay": (relayed(settings, 0), events)}, timeout))
    finally:
        stop(processes)
    processes = start("project", settings, logdir)
    try:
        results.update(watch(processes, {"project": (projected(settings, 0), events)}, timeout))
    finally:
        stop(processes)
    return results


def check_balances(settings: Settings, expected: dict[str, Decimal]) -> bool:
    with psycopg.connect(settings.postgres_url or "", autocommit=True) as conn:
        rows = conn.execute(f"SELECT account_ref, balance FROM {settings.read_model_schema}.account_balances").fetchall()
    found = {ref: balance for ref, balance in rows if balance}
    return found == expected


def drop(settings: Settings) -> None:
    with psycopg.connect(settings.postgres_url or "", autocommit=True) as conn:
        for schema in (settings.postgres_schema, settings.read_model_schema):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--charges", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--ingest-workers", type=int, default=os.cpu_count() or 1,
                        help="ingestion processes in the consumer group (default: one per core)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per measured run")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    a = parser.parse_args(argv)
    gc.set_threshold(50_000, 20, 100)
    from ledger.logging_setup import configure_logging

    configure_logging("WARNING", True)
    registry = SchemaRegistry.load()
    logdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-pipeline-{uuid.uuid4().hex[:6]}"
    logdir.mkdir(parents=True)
    with services() as (url, bootstrap_servers):
        say("end-to-end run")
        e2e_settings, e2e_data = prepare(url, bootstrap_servers, registry, a, seed=1)
        consume_ceiling = raw_consume(e2e_settings, e2e_settings.rating_topic, a.charges)
        e2e = end_to_end(e2e_settings, a.charges, logdir, a.timeout)
        e2e_exact = check_balances(e2e_settings, e2e_data["expected"])
        say("stage-by-stage run")
        stage_settings, _ = prepare(url, bootstrap_servers, registry, a, seed=2)
        per_stage = stages(stage_settings, a.charges, logdir, a.timeout, a.ingest_workers)
        events = max_notification(stage_settings)
        events_ceiling = raw_consume(stage_settings, stage_settings.events_topic, events)
        rows_ceiling = raw_psycopg_rows(url, a.charges)
        if a.ingest_workers > 1:  # the ceiling of a group of writers is the faster of one and as many
            rows_ceiling = min(rows_ceiling, raw_psycopg_rows(url, a.charges, writers=a.ingest_workers))
        produce_ceiling = raw_produce(stage_settings, events)
        drop(e2e_settings)
        drop(stage_settings)
        if a.ingest_workers > 1:
            say("ingestion by one process, on a third data set")
            single_settings, _ = prepare(url, bootstrap_servers, registry, a, seed=3)
            per_stage["ingest, 1 process"] = ingest_stage(single_settings, a.charges, logdir, a.timeout, 1)
            drop(single_settings)
    ceilings = {"kafka-python consume (rating topic)": a.charges / consume_ceiling,
                "kafka-python consume (event topic)": events / events_ceiling,
                "kafka-python produce (event-sized)": events / produce_ceiling,
                "psycopg insert rows": a.charges / rows_ceiling}
    # Each stage against the slower of its raw read and raw write.
    ingest_ceiling = min(ceilings["kafka-python consume (rating topic)"], ceilings["psycopg insert rows"])
    stage_ceiling = {"ingest": ingest_ceiling, "ingest, 1 process": ingest_ceiling,
                     "relay": ceilings["kafka-python produce (event-sized)"],
                     "project": min(ceilings["kafka-python consume (event topic)"], ceilings["psycopg insert rows"])}
    doc = {
        "charges": a.charges, "accounts": a.accounts, "partitions": a.partitions, "cpus": os.cpu_count(),
        "ingest_workers": a.ingest_workers,
        "end_to_end": {"charges_per_s": round(e2e.rate), "seconds": round(e2e.seconds, 2), "balances_exact": e2e_exact,
                       "rss_mb": e2e.rss_at, "target_per_s": 10_000},
        "stages": {name: {"per_s": round(run.rate), "seconds": round(run.seconds, 2), "ceiling_per_s": round(stage_ceiling[name]),
                          "ratio": round(run.rate / stage_ceiling[name], 3), "rss_mb": run.rss_at,
                          "rss_max_mb": round(run.rss_max, 1)}
                   for name, run in per_stage.items()},
        "ceilings_per_s": {k: round(v) for k, v in ceilings.items()},
        "logs": str(logdir),
    }
    if a.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"\npipeline: {a.charges:,} charges over {a.accounts:,} accounts, {a.partitions} partitions, {os.cpu_count()} CPUs, "
          f"{a.ingest_workers} ingest process(es)")
    print(f"end to end (rating topic -> balance read model): {e2e.rate:,.0f} charges/s in {e2e.seconds:.1f}s "
          f"(target 10,000/s); balances equal the independent sum: {e2e_exact}")
    print(f"{'stage':<20}{'rate/s':>10}{'ceiling/s':>12}{'ratio':>8}  {'RSS MB at 25/50/75/100%':<28}{'max MB':>8}")
    for name, row in doc["stages"].items():
        rss = "/".join(str(row["rss_mb"].get(m, "-")) for m in ("25%", "50%", "75%", "100%"))
        print(f"{name:<20}{row['per_s']:>10,}{row['ceiling_per_s']:>12,}{row['ratio']:>8.2f}  {rss:<28}{row['rss_max_mb']:>8}")
    print("ceilings: " + "; ".join(f"{k} {v:,}/s" for k, v in doc["ceilings_per_s"].items()))
    print("stage ceilings: ingest = min(consume rating topic, psycopg rows); relay = raw produce; "
          "project = min(consume event topic, psycopg rows); psycopg rows = the faster of 1 and "
          f"{a.ingest_workers} writer processes; RSS: the largest process of the stage")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
