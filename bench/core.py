"""Core throughput benchmark of the ledger, with raw-driver ceilings measured in the same run.

    python -m bench.core [--store sqlite|postgres|both] [--accounts 10000] [--charges-per-account 20]
                         [--replay-events 10000] [--post-batch 2000] [--bill-batch 500] [--replay-loads 7]
                         [--warm] [--subscriptions 3] [--workers 1[,2...]] [--json]
                         [--profile [--profile-top 15] [--profile-dir DIR]]
    python -m bench.core --render saved.json      # the table of a saved --json run

Per store (SQLite in a temp file; PostgreSQL in a fresh schema of ``$LEDGER_BENCH_POSTGRES_URL``, dropped
afterwards, or of a throw-away server from tests.support.postgres_server.PostgresServer) it measures:

1. charge posting: accounts x charges-per-account charges through ``Ledger.execute(PostCharges.parse(...))``
   in batches of --post-batch, shuffled so a batch touches many accounts (a rating feed). Pydantic validation
   is timed; building the input is not (it is kept as JSON and each batch decoded, untimed, just before it
   is posted, so 200,000 input dicts do not sit on the garbage collector's heap during the timing);
2. bill run: ``TriggerBillingCycle`` for the period in a FRESH Ledger (cold aggregate cache, as a separate
   process would be), accounts billed/s. ``--warm`` then posts a second period through that Ledger and
   bills it warm. ``--workers 1,2`` makes one bill run per figure, each with that many worker processes
   (``TriggerBillingCycle.workers``), over its own accounts: account i is on the run i mod 2's specification, so
   the runs bill alike accounts of one data set, one after the other (``--accounts 20000`` for 10,000 each); each
   run's load average and CPU time per account (this process and its workers, not the server) are reported;
3. replay: one account with --replay-events charges, loaded from events alone (snapshot_interval=0,
   cache_size=0) and from a snapshot taken at its head (cache_size=0); median of --replay-loads loads;
4. ceilings, same run, same store: the raw driver (psycopg: the faster of executemany and one binary
   INSERT ... SELECT FROM unnest() per batch, the way the ledger's recorder inserts; sqlite3 executemany) inserting
   as many rows as charges were posted, in the same order and transaction size, into a table shaped like the
   event store (uuid, version, topic, the state of a real ChargeApplied event); raw reads (no decoding, binary rows
   on PostgreSQL), taken just before the bill run, of each bill-run batch's rows (its --bill-batch accounts and,
   with --subscriptions, their subscriptions) with one query per batch, the way the bill run reads them (the ledger
   recorder's unnest join; SQLite: one IN query), and, for information, the same rows with one query per
   aggregate; of the replay account's rows, and of its snapshot row.
   The bill-run ceiling is derived: 1 / (raw batch read time per account + events written per account / raw
   insert rate).

Targets (PostgreSQL posting >= 15,000/s, bill run >= 2,000 accounts/s; replay of 10,000 events < 200 ms, < 10 ms
from a snapshot) are shown beside the figures, never asserted. Time in the cyclic GC and in pydantic validation
is reported as a share of posting / bill-run time. The database server shares the machine's CPUs, and the load
average at start and end is printed: figures from a busy machine are low.

Progress goes to stderr; the table (or, with --json, one JSON document) to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import logging
import os
import platform
import pstats
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import structlog

from ledger.aggregates import ids
from ledger.bootstrap import bootstrap, tune_gc
from ledger.commands import DefineCycleSpecification, OpenBillingAccount, PostCharges, TriggerBillingCycle
from ledger.commands.lookups import load_account
from ledger.service import Ledger
from ledger.settings import Settings

POSTGRES_URL_ENV = "LEDGER_BENCH_POSTGRES_URL"
SPEC = "bench-monthly"
REPLAY_SPEC = "bench-replay"
REPLAY_ACCOUNT = "BENCH-REPLAY-1"
TIME_ZONE = "Europe/Paris"

TARGETS = {  # shown beside the figures, never asserted
    "posting": ("postgres", ">= 15,000 charges/s", lambda v: v >= 15_000),
    "bill_cold": ("postgres", ">= 2,000 accounts/s", lambda v: v >= 2_000),
    "replay_events": (None, "< 200 ms", lambda v: v < 200),
    "replay_snapshot": (None, "< 10 ms", lambda v: v < 10),
}

_T0 = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:8.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class Params:
    accounts: int = 10_000
    charges_per_account: int = 20
    replay_events: int = 10_000
    post_batch: int = 2_000
    bill_batch: int = 500
    replay_loads: int = 7
    seed: int = 20261001
    warm: bool = False
    profile: bool = False
    subscriptions: int = 0  # per account, each on a monthly plan billed in advance (recurring charges at the cycle)
    workers: tuple[int, ...] = (1,)  # bill runs, one per entry, each with that many worker processes (own accounts)

    def spec_of(self, i: int) -> str:
        """The cycle specification of account i: with several bill runs (`workers`), account i is billed by run
        i % len(workers), on a specification of its own."""
        return SPEC if len(self.workers) == 1 else f"{SPEC}-{i % len(self.workers)}"

    def specs(self) -> list[str]:
        return [SPEC] if len(self.workers) == 1 else [f"{SPEC}-{k}" for k in range(len(self.workers))]

    def accounts_of(self, k: int) -> int:
        """How many accounts bill run k bills."""
        return len(range(k, self.accounts, len(self.workers)))

    @property
    def charges(self) -> int:
        return self.accounts * self.charges_per_account


class Clock:
    """A settable fake clock (the Ledger calls it for every event's timestamp)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Period:
    """One billing period of the bench: when charges are effective, posted, and billed."""

    key: str
    start: datetime  # first charge date (UTC)
    days: int  # charges fall on days start .. start + days - 1
    post_at: datetime
    bill_at: datetime
    period_start: str  # the cycle occurrence to trigger


OCTOBER = Period("oct", datetime(2026, 10, 2, tzinfo=UTC), 28, datetime(2026, 10, 31, 12, tzinfo=UTC),
                 datetime(2026, 11, 1, 2, tzinfo=UTC), "2026-10-01")
NOVEMBER = Period("nov", datetime(2026, 11, 2, tzinfo=UTC), 27, datetime(2026, 11, 30, 12, tzinfo=UTC),
                  datetime(2026, 12, 1, 2, tzinfo=UTC), "2026-11-01")


# ---------------------------------------------------------------------------------------------- input data


def account_ref(i: int) -> str:
    return f"BENCH-{i:06d}"


def account_input(ref: str, spec: str) -> dict[str, Any]:
    return {"account_id": ref, "customer_id": f"CUST-{ref}", "currency": "EUR", "cycle_specification": spec,
            "time_zone": TIME_ZONE, "name": f"Bench customer {ref}"}


def charge_input(rng: random.Random, period: Period, ref: str, j: int) -> dict[str, Any]:
    cents = rng.randint(1, 500_000)  # 0.0001 .. 50.0000 EUR, four decimal places (rated usage)
    excl = Decimal(cents).scaleb(-4)
    moment = period.start + timedelta(seconds=rng.randrange(period.days * 86_400))
    return {
        "charge_id": f"{period.key}-{ref}-{j:05d}",
        "account_id": ref,
        "currency": "EUR",
        "tax_excluded_amount": str(excl),
        "applied_tax": [{"tax_category": "VAT", "tax_rate": "20", "tax_amount": str(excl * Decimal("0.2"))}],
        "date": moment.isoformat().replace("+00:00", "Z"),
        "product_ref": f"PRD-VOICE-{j % 7}",
        "description": "usage",
    }


@dataclass
class Feed:
    """The charges of one period, cut into batches, kept as JSON so the input is not on the GC's heap.

    A rating feed holds one batch at a time; 200,000 input dicts kept alive for the whole run would make every
    full garbage collection during the timing walk them too. Each batch is decoded just before its (timed) post.
    """

    batches: list[bytes]
    charges: int
    accounts_per_batch: float


def charge_batches(p: Params, period: Period) -> Feed:
    """Every account's charges, shuffled (a feed interleaves accounts), cut into batches of p.post_batch."""
    rng = random.Random(f"{p.seed}-{period.key}")
    charges = [charge_input(rng, period, account_ref(i), j) for i in range(p.accounts) for j in range(p.charges_per_account)]
    rng.shuffle(charges)
    batches = [charges[k : k + p.post_batch] for k in range(0, len(charges), p.post_batch)]
    distinct = statistics.mean(len({c["account_id"] for c in b}) for b in batches)
    feed = Feed([json.dumps(b).encode() for b in batches], len(charges), distinct)
    del charges, batches
    gc.collect()
    return feed


def chunks(seq: list[Any], size: int) -> Iterator[list[Any]]:
    for k in range(0, len(seq), size):
        yield seq[k : k + size]


# ---------------------------------------------------------------------------------------------- stores


class Target:
    """A store under test: Settings for the Ledger plus raw access for counting and ceilings."""

    name: str
    events_table: str
    snapshots_table: str

    def settings(self, **overrides: Any) -> Settings:
        raise NotImplementedError

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        return {}

    def count(self, table: str) -> int:
        try:
            return int(self.query(f"SELECT COUNT(*) FROM {table}")[0][0])
        except Exception:  # noqa: BLE001  (no snapshots table yet)
            return 0

    def sample_charge_state(self) -> tuple[str, bytes, float]:
        """A real ChargeApplied row's topic and state, and the mean state size of all of them."""
        return self.sample_state("%ChargeApplied")

    def sample_state(self, topic_like: str) -> tuple[str, bytes, float]:
        """A real row's topic and state among those whose topic is LIKE `topic_like`, and their mean state size."""
        mark = "%s" if self.name == "postgres" else "?"
        topic, state = self.query(f"SELECT topic, state FROM {self.events_table} WHERE topic LIKE {mark} LIMIT 1",
                                  (topic_like,))[0]
        mean = self.query(f"SELECT AVG(LENGTH(state)) FROM {self.events_table} WHERE topic LIKE {mark}",
                          (topic_like,))[0][0]
        return topic, bytes(state), float(mean)

    # ceilings: implemented per driver
    def raw_insert(self, batches: list[list[tuple[uuid.UUID, int, str, bytes]]]) -> float:
        raise NotImplementedError

    def raw_read(self, table: str, aggregate_ids: list[uuid.UUID], gt: int | None = None) -> tuple[float, int]:
        """Seconds to select each aggregate's rows (ordered by version, all fetched); and rows read."""
        raise NotImplementedError

    def raw_read_batches(self, table: str, batches: list[list[uuid.UUID]]) -> tuple[float, int]:
        """Seconds to select the rows of each batch of aggregates with one query (all fetched, in the order of the
        primary key); and rows read."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class SqliteTarget(Target):
    name = "sqlite"
    events_table = "stored_events"
    snapshots_table = "stored_snapshots"

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / "ledger.sqlite"
        self.raw_path = workdir / "raw.sqlite"
        self._reader: sqlite3.Connection | None = None

    def settings(self, **overrides: Any) -> Settings:
        return Settings(store="sqlite", sqlite_path=self.path, **overrides)

    def _connect(self, path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None)  # autocommit; explicit BEGIN/COMMIT like eventsourcing
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with contextlib.closing(self._connect(self.path)) as conn:
            return conn.execute(sql, params).fetchall()

    def info(self) -> dict[str, Any]:
        with contextlib.closing(self._connect(self.path)) as conn:
            sync = conn.execute("PRAGMA synchronous").fetchone()[0]
        return {"sqlite_version": sqlite3.sqlite_version, "journal_mode": "wal", "synchronous": sync,
                "path": str(self.path)}

    def raw_insert(self, batches: list[list[tuple[uuid.UUID, int, str, bytes]]]) -> float:
        with contextlib.closing(self._connect(self.raw_path)) as conn:
            # the table eventsourcing's SQLiteApplicationRecorder creates (a rowid table: rowid = notification id)
            conn.execute("CREATE TABLE raw_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
                         "state BLOB, PRIMARY KEY (originator_id, originator_version))")
            rows = [[(u.hex, v, t, s) for u, v, t, s in batch] for batch in batches]
            started = time.perf_counter()
            for batch in rows:
                conn.execute("BEGIN")
                conn.executemany("INSERT INTO raw_events VALUES (?,?,?,?)", batch)
                conn.execute("COMMIT")
            return time.perf_counter() - started

    def raw_read(self, table: str, aggregate_ids: list[uuid.UUID], gt: int | None = None) -> tuple[float, int]:
        sql = f"SELECT * FROM {table} WHERE originator_id=? "
        sql += "AND originator_version>? ORDER BY originator_version" if gt is not None else "ORDER BY originator_version"
        if self._reader is None:  # an open connection: measure queries, not connecting
            self._reader = self._connect(self.path)
        conn = self._reader
        started, n = time.perf_counter(), 0
        for aggregate_id in aggregate_ids:
            params = (aggregate_id.hex, gt) if gt is not None else (aggregate_id.hex,)
            n += len(conn.execute(sql, params).fetchall())
        return time.perf_counter() - started, n

    def raw_read_batches(self, table: str, batches: list[list[uuid.UUID]]) -> tuple[float, int]:
        if self._reader is None:
            self._reader = self._connect(self.path)
        conn = self._reader
        started, n = time.perf_counter(), 0
        for batch in batches:
            marks = ",".join("?" * len(batch))
            n += len(conn.execute(f"SELECT * FROM {table} WHERE originator_id IN ({marks}) "
                                  "ORDER BY originator_id, originator_version", [u.hex for u in batch]).fetchall())
        return time.perf_counter() - started, n

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


class PostgresTarget(Target):
    name = "postgres"
    events_table = "ledger_events"
    snapshots_table = "ledger_snapshots"

    def __init__(self, url: str, owned_server: bool) -> None:
        import psycopg
        from psycopg import sql

        from tests.support.postgres_server import fresh_schema

        self.psycopg, self.sql = psycopg, sql
        self.url, self.owned_server = url, owned_server
        self.schema = fresh_schema(url)
        self.raw_schema = fresh_schema(url)
        self.conn = psycopg.connect(url, autocommit=True)
        self.conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))

    def settings(self, **overrides: Any) -> Settings:
        return Settings(store="postgres", postgres_url=self.url, postgres_schema=self.schema, **overrides)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def info(self) -> dict[str, Any]:
        show = {k: self.query(f"SHOW {k}")[0][0] for k in ("server_version", "fsync", "synchronous_commit",
                                                           "shared_buffers")}
        host = self.psycopg.conninfo.conninfo_to_dict(self.url).get("host", "?")
        return {**show, "host": host, "server": "throw-away (tests.support)" if self.owned_server else f"${POSTGRES_URL_ENV}",
                "schema": self.schema}

    def raw_insert(self, batches: list[list[tuple[uuid.UUID, int, str, bytes]]]) -> float:
        sql = self.sql
        table = sql.Identifier(self.raw_schema, "raw_events")
        with self.psycopg.connect(self.url) as conn:
            # the table eventsourcing's PostgresApplicationRecorder creates
            conn.execute(sql.SQL(
                "CREATE TABLE {} (originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, "
                "state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
            ).format(table))
            conn.execute(sql.SQL("CREATE UNIQUE INDEX ON {} (notification_id ASC)").format(table))
            conn.commit()
            insert = sql.SQL("INSERT INTO {} (originator_id, originator_version, topic, state) "
                             "VALUES (%s, %s, %s, %s)").format(table)
            started = time.perf_counter()
            for batch in batches:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(insert, batch)
            executemany = time.perf_counter() - started
            # the way the ledger's recorder inserts: one INSERT ... SELECT FROM unnest() of binary arrays per batch
            conn.execute(sql.SQL("TRUNCATE {}").format(table))
            conn.commit()
            unnest = sql.SQL("INSERT INTO {} (originator_id, originator_version, topic, state) "
                             "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
                             "RETURNING notification_id").format(table)
            started = time.perf_counter()
            for batch in batches:
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute(unnest, tuple(list(column) for column in zip(*batch)), binary=True)
                    cur.fetchall()
            self.insert_methods = {"executemany": executemany, "binary unnest": time.perf_counter() - started}
            return min(self.insert_methods.values())  # the ceiling is the faster raw way

    def raw_read(self, table: str, aggregate_ids: list[uuid.UUID], gt: int | None = None) -> tuple[float, int]:
        sql = self.sql.SQL("SELECT * FROM {} WHERE originator_id = %s "
                           + ("AND originator_version > %s " if gt is not None else "")
                           + "ORDER BY originator_version").format(self.sql.Identifier(self.schema, table))
        with self.conn.cursor(binary=True) as cur:  # an open connection (queries, not connecting); binary rows
            started, n = time.perf_counter(), 0
            for aggregate_id in aggregate_ids:
                cur.execute(sql, (aggregate_id, gt) if gt is not None else (aggregate_id,))
                n += len(cur.fetchall())
            return time.perf_counter() - started, n

    def raw_read_batches(self, table: str, batches: list[list[uuid.UUID]]) -> tuple[float, int]:
        # the ledger recorder's batch read (select_events_after with every version after 0), without its sort
        sql = self.sql.SQL("SELECT a.n, e.originator_version, e.topic, e.state FROM {} e "
                           "JOIN unnest(%b::uuid[]) WITH ORDINALITY AS a(i, n) ON e.originator_id = a.i"
                           ).format(self.sql.Identifier(self.schema, table))
        with self.conn.cursor(binary=True) as cur:
            started, n = time.perf_counter(), 0
            for batch in batches:
                cur.execute(sql, (batch,), prepare=True)
                n += len(cur.fetchall())
            return time.perf_counter() - started, n

    def close(self) -> None:
        self.conn.close()
        if not self.owned_server:  # on a server we do not own, leave nothing behind
            from tests.support.postgres_server import drop_schema

            drop_schema(self.url, self.schema)
            drop_schema(self.url, self.raw_schema)


# ---------------------------------------------------------------------------------------------- measuring


@dataclass
class Profiles:
    enabled: bool
    top: int = 15
    directory: Path | None = None  # also dump each section's raw profile here (for pstats / snakeviz)
    reports: dict[str, str] = field(default_factory=dict)

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        if not self.enabled:
            yield
            return
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                slug = "-".join("".join(ch if ch.isalnum() else " " for ch in name.split("(")[0].lower()).split())
                profiler.dump_stats(self.directory / f"{slug}.prof")
            for order in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(self.top)
                self.reports[f"{name} [{order}]"] = out.getvalue()


class GcTimer:
    """Wall time spent in the cyclic garbage collector while `timing` (it grows with the live heap: cached accounts)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self.timing = True
        self._started: float | None = None

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter() if self.timing else None
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._callback)


def subscribe_all(ledger: Ledger, target: Target, p: Params, r: dict[str, Any]) -> list[uuid.UUID]:
    """`p.subscriptions` subscriptions per account (from the period's first day, two offerings, monthly in advance,
    VAT 20%), so the bill run also prorates and posts their recurring charges; their ids."""
    if not p.subscriptions:
        return []
    from ledger.commands import CreateProductOffering, CreateSubscriptions

    for name, amount in (("BENCH-BASIC", "19.99"), ("BENCH-PRO", "49.00")):
        ledger.execute(CreateProductOffering.parse({"offering_id": name, "name": name, "prices": [{
            "price_id": "monthly", "price_type": "recurring", "currency": "EUR", "amount": amount,
            "recurring_period": "monthly", "timing": "advance", "tax_category": "VAT", "tax_rate": "20",
            "valid_from": "2026-01-01"}]}))
    say(f"{target.name}: {p.subscriptions * p.accounts:,} subscriptions")
    started, found, items = time.perf_counter(), [], []
    for i in range(p.accounts):
        for k in range(p.subscriptions):
            ref = f"{account_ref(i)}-S{k}"
            items.append({
                "subscription_id": ref, "account_id": account_ref(i), "offering_id": ("BENCH-BASIC", "BENCH-PRO")[k % 2],
                "quantity": 1 + k, "start_date": OCTOBER.period_start})
            found.append(ids.subscription_id(ref))
    for batch in chunks(items, 1_000):  # the bulk command (as `ledger import subscriptions`): set-up, not timed
        ledger.execute(CreateSubscriptions.parse({"subscriptions": batch}))
    r["subscribe"] = {"subscriptions": len(found), "seconds": time.perf_counter() - started}
    return found


def post_all(ledger: Ledger, feed: Feed) -> dict[str, Any]:
    """Post every batch (validation + execute timed, decoding the feed's JSON not); seconds, validation and GC parts."""
    validate = seconds = 0.0
    with GcTimer() as gc_timer:
        for blob in feed.batches:
            gc_timer.timing = False
            batch = json.loads(blob)
            gc_timer.timing = True
            started = time.perf_counter()
            command = PostCharges.parse({"charges": batch})
            validated = time.perf_counter()
            result = ledger.execute(command)
            seconds += time.perf_counter() - started
            validate += validated - started
            if result.rejected or result.applied != len(batch):
                raise RuntimeError(f"batch not fully applied: {result.applied} of {len(batch)}; "
                                   f"rejected {result.rejected[:3]}")
            del batch, command, result
    return {"seconds": seconds, "validate_seconds": validate, "validate_share": validate / seconds,
            "gc_seconds": gc_timer.seconds, "gc_share": gc_timer.seconds / seconds, "gc_collections": gc_timer.collections}


def bill(ledger: Ledger, period: Period, accounts: int, spec: str = SPEC, workers: int = 1) -> dict[str, Any]:
    command = TriggerBillingCycle.parse({"specification": spec, "period_start": period.period_start,
                                         "trigger_type": "system", "triggered_by": "bench", "workers": workers})
    with GcTimer() as gc_timer:
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        result = ledger.execute(command)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds() - cpu_before
    if result.accounts_billed != accounts or result.status != "completed":
        raise RuntimeError(f"bill run billed {result.accounts_billed} of {accounts} ({result.status})")
    return {"accounts": accounts, "seconds": seconds, "per_s": accounts / seconds, "gc_seconds": gc_timer.seconds,
            "gc_share": gc_timer.seconds / seconds, "gc_collections": gc_timer.collections,
            "cpu_seconds": cpu, "accounts_per_cpu_s": accounts / cpu if cpu else None}


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its ended child processes (a run's workers, once joined);
    the database server's is not counted."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_loads(ledger: Ledger, ref: str, times: int, expect_version: int) -> list[float]:
    loads = []
    for _ in range(times):
        started = time.perf_counter()
        account = load_account(ledger.store, ref)
        loads.append((time.perf_counter() - started) * 1000)
        if account.version != expect_version:
            raise RuntimeError(f"replayed account at version {account.version}, expected {expect_version}")
    return loads


def ms_summary(samples: list[float]) -> dict[str, Any]:
    return {"median_ms": statistics.median(samples), "min_ms": min(samples), "first_ms": samples[0],
            "samples_ms": [round(s, 3) for s in samples]}


def run_store(target: Target, p: Params, profiles: Profiles) -> dict[str, Any]:
    r: dict[str, Any] = {"store": target.name, "info": target.info()}
    base = {"batch_size": p.bill_batch}
    clock = Clock(OCTOBER.post_at - timedelta(days=30))

    # -- setup (timed for information only)
    ledger = bootstrap(target.settings(**base), clock=clock)
    for spec in (*p.specs(), REPLAY_SPEC):
        ledger.execute(DefineCycleSpecification.parse({"name": spec, "payment_due_date_offset": 14}))
    say(f"{target.name}: opening {p.accounts:,} accounts")
    started = time.perf_counter()
    for i in range(p.accounts):
        ledger.execute(OpenBillingAccount.parse(account_input(account_ref(i), p.spec_of(i))))
    seconds = time.perf_counter() - started
    r["open_accounts"] = {"seconds": seconds, "per_s": p.accounts / seconds}
    sub_ids = subscribe_all(ledger, target, p, r)

    # -- 1. charge posting
    feed = charge_batches(p, OCTOBER)
    distinct = feed.accounts_per_batch
    say(f"{target.name}: posting {p.charges:,} charges in {len(feed.batches)} batches "
        f"(~{distinct:,.0f} accounts per batch)")
    clock.now = OCTOBER.post_at
    events_before = target.count(target.events_table)
    with profiles.section(f"{target.name}: charge posting (PostCharges)"):
        posted = post_all(ledger, feed)
    ledger.close()
    del feed
    events_posted = target.count(target.events_table) - events_before
    r["posting"] = {"charges": p.charges, "batches": math_ceil(p.charges, p.post_batch), "accounts_per_batch": distinct,
                    **posted, "per_s": p.charges / posted["seconds"], "events_written": events_posted}
    say(f"{target.name}: posting {r['posting']['per_s']:,.0f} charges/s")
    gc.collect()

    # ceiling for the bill run's reads, taken now so the raw reads see the rows the bill run will read
    account_ids = [ids.account_id(account_ref(i)) for i in range(p.accounts)]
    read_seconds, read_rows = target.raw_read(target.events_table, account_ids + sub_ids)  # one query per aggregate
    # what the bill run reads, as it can read it: a batch's accounts and their subscriptions with one query
    per = p.subscriptions
    read_batches = [account_ids[k : k + p.bill_batch] + sub_ids[k * per : (k + p.bill_batch) * per]
                    for k in range(0, p.accounts, p.bill_batch)]
    batch_read_seconds, batch_read_rows = target.raw_read_batches(target.events_table, read_batches)

    # -- 2. bill runs, each in a fresh Ledger (cold cache); with several (--workers 1,2) each bills its own accounts
    r["bill_runs"] = []
    for k, workers in enumerate(p.workers):
        accounts = p.accounts_of(k)
        say(f"{target.name}: bill run over {accounts:,} accounts (cold Ledger, batch_size={p.bill_batch}, "
            f"{workers} worker process{'es' if workers > 1 else ''}; load average {loadavg()})")
        bill_clock = Clock(OCTOBER.bill_at)
        ledger = bootstrap(target.settings(**base), clock=bill_clock)
        events_before = target.count(target.events_table)
        loads = loadavg()
        with profiles.section(f"{target.name}: bill run (TriggerBillingCycle, cold, {workers} workers)"):
            billed = bill(ledger, OCTOBER, accounts, p.specs()[k], workers)
        bill_events = target.count(target.events_table) - events_before
        r["bill_runs"].append({**billed, "workers": workers, "events_written": bill_events,
                               "events_per_account": bill_events / accounts, "loadavg_at_start": loads,
                               "loadavg_at_end": loadavg()})
        say(f"{target.name}: bill run {billed['per_s']:,.0f} accounts/s with {workers} worker(s)")
        if k + 1 < len(p.workers):
            ledger.close()
    r["bill_cold"] = r["bill_runs"][0]

    if p.warm:  # a second period posted and billed through the same, now warm, Ledger
        feed = charge_batches(p, NOVEMBER)
        bill_clock.now = NOVEMBER.post_at
        posted = post_all(ledger, feed)
        del feed
        r["posting_warm"] = {**posted, "per_s": p.charges / posted["seconds"]}
        bill_clock.now = NOVEMBER.bill_at
        r["bill_warm"] = bill(ledger, NOVEMBER, p.accounts)
        say(f"{target.name}: warm posting {r['posting_warm']['per_s']:,.0f}/s, warm bill run "
            f"{r['bill_warm']['per_s']:,.0f} accounts/s")
    ledger.close()
    gc.collect()

    # -- 3. replay of one long account
    say(f"{target.name}: replay account with {p.replay_events:,} charges")
    replay_clock = Clock(OCTOBER.post_at - timedelta(days=30))  # opened before its charges (a guard refuses others)
    ledger = bootstrap(target.settings(snapshot_interval=0), clock=replay_clock)
    ledger.execute(OpenBillingAccount.parse(account_input(REPLAY_ACCOUNT, REPLAY_SPEC)))
    replay_clock.now = OCTOBER.post_at
    rng = random.Random(p.seed)
    replay_charges = [charge_input(rng, OCTOBER, REPLAY_ACCOUNT, j) for j in range(p.replay_events)]
    for batch in chunks(replay_charges, p.post_batch):
        ledger.execute(PostCharges.parse({"charges": batch}))
    ledger.close()
    head = p.replay_events + 1
    replay_id = ids.account_id(REPLAY_ACCOUNT)

    ledger = bootstrap(target.settings(snapshot_interval=0, cache_size=0), clock=replay_clock)
    r["replay_events"] = {"events": head, **ms_summary(timed_loads(ledger, REPLAY_ACCOUNT, p.replay_loads, head))}
    ledger.close()
    ledger = bootstrap(target.settings(cache_size=0), clock=replay_clock)  # snapshotting enabled (interval 200)
    ledger.store.take_snapshot(replay_id)
    ledger.close()
    ledger = bootstrap(target.settings(cache_size=0), clock=replay_clock)
    r["replay_snapshot"] = {"events": head, **ms_summary(timed_loads(ledger, REPLAY_ACCOUNT, p.replay_loads, head))}
    ledger.close()
    snapshot_bytes = target.query(f"SELECT MAX(LENGTH(state)) FROM {target.snapshots_table}")[0][0]
    r["replay_snapshot"]["snapshot_bytes"] = int(snapshot_bytes or 0)
    say(f"{target.name}: replay {r['replay_events']['median_ms']:.1f} ms from events, "
        f"{r['replay_snapshot']['median_ms']:.2f} ms from a snapshot of {snapshot_bytes:,} bytes")

    # -- 4. ceilings: the raw driver, same rows, same transaction size
    topic, state, mean_state = target.sample_charge_state()
    rng = random.Random(p.seed + 1)
    rows = [(account_ids[i], 2 + j, topic, state) for i in range(p.accounts) for j in range(p.charges_per_account)]
    rng.shuffle(rows)  # spread like the feed (versions out of order within an aggregate does not matter here)
    say(f"{target.name}: raw insert ceiling, {len(rows):,} rows of {len(state)} bytes state")
    raw_seconds = target.raw_insert(list(chunks(rows, p.post_batch)))
    del rows
    replay_reads = [target.raw_read(target.events_table, [replay_id])[0] * 1000 for _ in range(p.replay_loads)]
    snap_reads = []
    for _ in range(p.replay_loads):  # the snapshot row, then the (empty) events after it: what the repository does
        s1, _ = target.raw_read(target.snapshots_table, [replay_id])
        s2, _ = target.raw_read(target.events_table, [replay_id], gt=head)
        snap_reads.append((s1 + s2) * 1000)
    insert_rate = p.charges / raw_seconds
    methods = getattr(target, "insert_methods", {"executemany": raw_seconds})
    read_per_account = batch_read_seconds / p.accounts
    r["ceiling"] = {
        "insert_rows": p.charges, "insert_seconds": raw_seconds, "insert_rows_per_s": insert_rate,
        "insert_rows_per_s_by_method": {k: p.charges / v for k, v in methods.items()},
        "state_bytes": len(state), "mean_charge_state_bytes": mean_state,
        "read_accounts": p.accounts, "read_rows": read_rows, "read_seconds": read_seconds,
        "read_accounts_per_s": p.accounts / read_seconds,
        "batch_read_queries": len(read_batches), "batch_read_rows": batch_read_rows,
        "batch_read_seconds": batch_read_seconds, "batch_read_accounts_per_s": p.accounts / batch_read_seconds,
        # a bill run must at least read each account's rows (and its subscriptions') and write the events it wrote,
        # at raw speed: the reads one query per batch, the way the run reads them
        "bill_accounts_per_s": 1 / (read_per_account + r["bill_cold"]["events_per_account"] / insert_rate),
        "replay_events_ms": statistics.median(replay_reads), "replay_snapshot_ms": statistics.median(snap_reads),
    }
    r["events_stored"] = target.count(target.events_table)
    r["snapshots_stored"] = target.count(target.snapshots_table)
    say(f"{target.name}: raw insert {insert_rate:,.0f} rows/s, raw read {p.accounts / batch_read_seconds:,.0f} "
        f"accounts/s by batch ({p.accounts / read_seconds:,.0f} one query per aggregate)")
    return r


def math_ceil(a: int, b: int) -> int:
    return -(-a // b)


# ---------------------------------------------------------------------------------------------- reporting


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for dist in ("eventsourcing", "psycopg", "pydantic"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return {"nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "loadavg_at_start": loadavg(),
            "cpu": cpu, "python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), **versions}


def loadavg() -> list[float] | None:
    """1/5/15-minute load average: other work on the machine skews every figure (the server shares the CPUs)."""
    with contextlib.suppress(OSError, AttributeError):
        return [round(x, 2) for x in os.getloadavg()]
    return None


def rows_for(r: dict[str, Any], p: Params) -> list[dict[str, Any]]:
    c = r["ceiling"]
    runs = r.get("bill_runs") or [r["bill_cold"]]

    def row(key: str, measure: str, value: float, unit: str, ceiling: float | None, ceiling_what: str,
            higher_is_better: bool = True) -> dict[str, Any]:
        ratio = None if not ceiling else (value / ceiling if higher_is_better else ceiling / value)
        target = TARGETS.get(key)
        target_text, verdict = "", ""
        if target and (target[0] in (None, r["store"])):
            target_text = target[1]
            scaled = key.startswith("replay") and p.replay_events != 10_000
            verdict = "n/a (not 10k events)" if scaled else ("met" if target[2](value) else "MISSED")
        return {"store": r["store"], "key": key, "measure": measure, "value": value, "unit": unit,
                "ceiling": ceiling, "ceiling_what": ceiling_what, "ratio_to_ceiling": ratio,
                "target": target_text, "verdict": verdict}

    out = [
        row("posting", f"charge posting ({p.post_batch:,}/batch)", r["posting"]["per_s"], "charges/s",
            c["insert_rows_per_s"], "raw insert rows/s"),
        *[row("bill_cold", f"bill run, cold Ledger ({p.bill_batch}/txn)"
              + (f", {run['workers']} worker{'s' if run['workers'] > 1 else ''}" if len(runs) > 1 else ""),
              run["per_s"], "accounts/s", c["bill_accounts_per_s"], "raw read+write accts/s") for run in runs],
    ]
    if "bill_warm" in r:
        out.append(row("posting_warm", "charge posting, 2nd period (warm)", r["posting_warm"]["per_s"], "charges/s",
                       c["insert_rows_per_s"], "raw insert rows/s"))
        out.append(row("bill_warm", "bill run, warm Ledger", r["bill_warm"]["per_s"], "accounts/s",
                       c["bill_accounts_per_s"], "raw read+write accts/s"))
    out += [
        row("replay_events", f"replay {r['replay_events']['events']:,} events, no snapshot",
            r["replay_events"]["median_ms"], "ms", c["replay_events_ms"], "raw select ms", higher_is_better=False),
        row("replay_snapshot", "replay from a snapshot at head", r["replay_snapshot"]["median_ms"], "ms",
            c["replay_snapshot_ms"], "raw select ms", higher_is_better=False),
    ]
    return out


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"
    return f"{value:,.0f}/s"


def print_table(doc: dict[str, Any]) -> None:
    m, p = doc["machine"], doc["params"]
    print(f"machine: nproc={m['nproc']}  cpu={m['cpu'] or '?'}  python={m['python']}  "
          f"eventsourcing={m.get('eventsourcing', '?')}  psycopg={m.get('psycopg', '?')}  pydantic={m.get('pydantic', '?')}  "
          f"loadavg start={m.get('loadavg_at_start')} end={m.get('loadavg_at_end')}")
    print(f"params:  accounts={p['accounts']:,}  charges/account={p['charges_per_account']}  "
          f"charges={p['accounts'] * p['charges_per_account']:,}  post batch={p['post_batch']:,}  "
          f"bill batch_size={p['bill_batch']}  replay events={p['replay_events']:,}  loads={p['replay_loads']}"
          + ("  [cProfile ON: figures inflated]" if p["profile"] else ""))
    for r in doc["stores"]:
        print(f"{r['store']}: " + "  ".join(f"{k}={v}" for k, v in r["info"].items()))
    print()
    header = (f"{'store':<9} {'measure':<40} {'figure':>13} {'ceiling':>13} {'ceiling is':<24} {'ratio':>6}  "
              f"{'target':<20} {'':<8}")
    print(header)
    print("-" * len(header))
    for row in doc["rows"]:
        ratio = f"{row['ratio_to_ceiling']:.0%}" if row["ratio_to_ceiling"] is not None else "-"
        print(f"{row['store']:<9} {row['measure']:<40} {fmt(row['value'], row['unit']):>13} "
              f"{fmt(row['ceiling'], row['unit']):>13} {row['ceiling_what']:<24} {ratio:>6}  "
              f"{row['target']:<20} {row['verdict']:<8}")
    print()
    for r in doc["stores"]:
        po, bc, c = r["posting"], r["bill_cold"], r["ceiling"]
        print(f"{r['store']}: events stored {r['events_stored']:,} (+{r['snapshots_stored']:,} snapshots); "
              f"posting wrote {po['events_written']:,} events in {po['seconds']:.1f}s "
              f"(pydantic validation {po['validate_share']:.0%} of it, cyclic GC {po['gc_share']:.0%}; "
              f"~{po['accounts_per_batch']:,.0f} accounts/batch); "
              f"bill run wrote {bc['events_written']:,} events ({bc['events_per_account']:.1f}/account) in {bc['seconds']:.1f}s "
              f"(cyclic GC {bc['gc_share']:.0%}); "
              f"opening accounts {r['open_accounts']['per_s']:,.0f}/s")
        for run in r.get("bill_runs", [])[1:] if len(r.get("bill_runs", [])) > 1 else []:
            print(f"{'':<{len(r['store'])}}  bill run with {run['workers']} workers: {run['accounts']:,} accounts in "
                  f"{run['seconds']:.1f}s, {run['events_per_account']:.1f} events/account, "
                  f"{run['accounts_per_cpu_s']:,.0f} accounts per CPU-second of the ledger's processes, load average "
                  f"{run['loadavg_at_start']} -> {run['loadavg_at_end']} (first run: {bc['accounts']:,} accounts, "
                  f"{bc['workers']} worker(s), {bc['accounts_per_cpu_s']:,.0f} per CPU-second, "
                  f"{bc['loadavg_at_start']} -> {bc['loadavg_at_end']})")
        by_method = ", ".join(f"{k} {v:,.0f}" for k, v in c.get("insert_rows_per_s_by_method", {}).items())
        print(f"{'':<{len(r['store'])}}  raw: insert {c['insert_rows_per_s']:,.0f} rows/s [{by_method}] "
              f"({c['state_bytes']} B state; "
              f"mean ChargeApplied state {c['mean_charge_state_bytes']:.0f} B), read "
              f"{c.get('batch_read_accounts_per_s', c['read_accounts_per_s']):,.0f} accounts/s by batch "
              f"({c['read_rows']:,} rows; {c['read_accounts_per_s']:,.0f}/s one query per aggregate); "
              f"replay loads ms (events) "
              f"{r['replay_events']['samples_ms']}, (snapshot of {r['replay_snapshot']['snapshot_bytes']:,} B) "
              f"{r['replay_snapshot']['samples_ms']}")


# ---------------------------------------------------------------------------------------------- main


@contextlib.contextmanager
def postgres_target() -> Iterator[PostgresTarget]:
    url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    with contextlib.ExitStack() as stack:
        if url:
            from tests.support.postgres_server import wait_until_ready

            wait_until_ready(url)
            owned = False
        else:
            from tests.support.postgres_server import PostgresServer

            say("starting a throw-away PostgreSQL server")
            url = stack.enter_context(PostgresServer()).url
            owned = True
        target = PostgresTarget(url, owned)
        try:
            yield target
        finally:
            target.close()


@contextlib.contextmanager
def sqlite_target() -> Iterator[SqliteTarget]:
    workdir = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    try:
        yield SqliteTarget(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Params]:
    ap = argparse.ArgumentParser(prog="python -m bench.core", description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--charges-per-account", type=int, default=20)
    ap.add_argument("--replay-events", type=int, default=10_000)
    ap.add_argument("--post-batch", type=int, default=2_000, help="charges per PostCharges command (and raw txn)")
    ap.add_argument("--bill-batch", type=int, default=500, help="Settings.batch_size for the bill run")
    ap.add_argument("--replay-loads", type=int, default=7, help="loads per replay figure (median reported)")
    ap.add_argument("--warm", action="store_true", help="also post and bill a 2nd period through a warm Ledger")
    ap.add_argument("--subscriptions", type=int, default=0,
                    help="subscriptions per account (monthly, in advance): the bill run posts their recurring charges")
    ap.add_argument("--workers", default="1", metavar="N[,M...]",
                    help="worker processes of the bill run (PostgreSQL for more than one); several (1,2): one bill "
                         "run each, each over its own accounts (account i in run i mod the count), on one data set")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile the posting and bill-run phases; top entries (by cumulative and by own time) to stderr")
    ap.add_argument("--profile-top", type=int, default=15)
    ap.add_argument("--profile-dir", type=Path, help="with --profile: also write each section's .prof file here")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    ap.add_argument("--render", type=Path, metavar="JSON_FILE", help="print the table of a saved --json run and exit")
    args = ap.parse_args(argv)
    for name in ("accounts", "charges_per_account", "replay_events", "post_batch", "bill_batch", "replay_loads"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    try:
        workers = tuple(int(w) for w in args.workers.split(","))
    except ValueError:
        ap.error(f"--workers must be numbers separated by commas, not {args.workers!r}")
    if any(w < 1 for w in workers) or len(workers) > args.accounts:
        ap.error("--workers: each must be >= 1, and no more runs than accounts")
    if max(workers) > 1 and args.store != "postgres":
        ap.error("--workers above 1 needs --store postgres (the cycle run refuses more than one worker elsewhere)")
    if len(workers) > 1 and args.warm:
        ap.error("--warm bills one run's accounts again: give one --workers figure with it")
    p = Params(accounts=args.accounts, charges_per_account=args.charges_per_account, replay_events=args.replay_events,
               post_batch=args.post_batch, bill_batch=args.bill_batch, replay_loads=args.replay_loads,
               warm=args.warm, profile=args.profile, subscriptions=args.subscriptions, workers=workers)
    return args, p


def main(argv: list[str] | None = None) -> int:
    args, p = parse_args(argv)
    tune_gc()  # what the CLI entry does: the figures are those of a ledger process
    if args.render:
        print_table(json.loads(args.render.read_text()))
        return 0
    # the Ledger logs one line per command: keep warnings only, on stderr, so the figures stay readable
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    profiles = Profiles(enabled=p.profile, top=args.profile_top, directory=args.profile_dir)
    targets: list[Callable[[], contextlib.AbstractContextManager[Target]]] = []
    if args.store in ("postgres", "both"):
        targets.append(postgres_target)
    if args.store in ("sqlite", "both"):
        targets.append(sqlite_target)
    doc: dict[str, Any] = {"machine": machine(), "params": asdict(p), "stores": [], "rows": []}
    for make in targets:
        with make() as target:
            result = run_store(target, p, profiles)
        doc["stores"].append(result)
        doc["rows"] += rows_for(result, p)
        gc.collect()
    doc["machine"]["loadavg_at_end"] = loadavg()
    doc["profiles"] = profiles.reports
    for name, report in profiles.reports.items():
        print(f"\n===== cProfile: {name} (top {args.profile_top}) =====\n{report}", file=sys.stderr)
    return output(doc, args.json, print_table)


def output(doc: dict[str, Any], as_json: bool, table: Callable[[dict[str, Any]], None]) -> int:
    """The run's document on stdout: one JSON document, or its table."""
    if as_json:
        json.dump(doc, sys.stdout, indent=2, default=str)
        print()
    else:
        table(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
