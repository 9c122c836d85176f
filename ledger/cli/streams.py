"""The `ledger` subcommands of the streaming processes: relay, ingest, project, read-models (rebuild/verify/show)."""

from __future__ import annotations

import argparse
import gc
import signal
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledger.aggregates.money import at_minor_unit, at_rated_scale
from ledger.bootstrap import GC_THRESHOLDS, local_projection
from ledger.cli.context import App, Outcome
from ledger.cli.output import money, table
from ledger.cli.progress import ProgressBar
from ledger.errors import InvalidInput


class _RunControl:
    """Stops a process on SIGTERM/SIGINT (after its current batch), or with --idle-exit N after N seconds
    without work from its first step on (tests, benchmarks, one-shot catch-ups); counts the work done."""

    def __init__(self, idle_seconds: float | None) -> None:
        self.stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        self.idle_seconds = idle_seconds
        self.done = 0
        self._last_work: float | None = None  # the idle timer starts with the first step (a slow start is not idle)

    def step(self, count: int) -> None:
        now = time.monotonic()
        self.done += count
        if count or self._last_work is None:
            self._last_work = now
        elif self.idle_seconds is not None and now - self._last_work >= self.idle_seconds:
            self.stop.set()


def do_relay(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.bootstrap import relay, run_supervised

    # A page keeps some 20 GC-tracked objects per event alive until the broker acks it (records, messages, the
    # producer's futures): with the CLI's 50,000 a young-generation collection ran every page, scanning them all.
    gc.set_threshold(max(GC_THRESHOLDS[0], 40 * app.settings.relay_batch_size), *GC_THRESHOLDS[1:])
    control = _RunControl(a.idle_exit)
    relay_: Any = run_supervised(app.settings, "relay", lambda: relay(app.ledger), control.stop, control.step)
    position = relay_.position if relay_ is not None else None
    data = {"published": control.done, "position": position}
    return Outcome(data, f"relay stopped at notification {position} ({control.done} events published)")


def do_follow_checkpoints(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.bootstrap import book_follower, run_supervised

    control = _RunControl(a.idle_exit)
    follower: Any = run_supervised(app.settings, "book-follower", lambda: book_follower(app.ledger), control.stop,
                                   control.step)
    position, written = (follower.position, follower.written) if follower is not None else (None, 0)
    data = {"read": control.done, "position": position, "checkpoints_written": written}
    return Outcome(data, f"book follower stopped at notification {position} ({control.done} events read, "
                         f"{written} book checkpoints written)")


def do_ingest(app: App, a: argparse.Namespace) -> Outcome:
    from consumers.charge_ingestion import IngestResult
    from ledger.bootstrap import ingestion, run_supervised

    control = _RunControl(a.idle_exit)
    worker: Any = run_supervised(app.settings, "ingest", lambda: ingestion(app.ledger), control.stop, control.step)
    total = worker.total if worker is not None else IngestResult()
    return Outcome(total.__dict__, (f"ingested {total.received} messages: {total.applied} charges applied, "
                                    f"{total.duplicates} duplicates, {total.dead_lettered} dead-lettered"))


def do_project(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.bootstrap import projection, read_model_db, run_supervised

    settings = app.settings
    if not settings.kafka_bootstrap:
        db = read_model_db(settings)
        try:
            count = local_projection(app.ledger, db)
        finally:
            db.close()
        return Outcome({"projected": count, "source": "local event store", "read_models": db.location},
                       f"projected {count} events from the local event store into {db.location}")
    control = _RunControl(a.idle_exit)
    run_supervised(settings, "project", lambda: projection(settings), control.stop, control.step)
    return Outcome({"projected": control.done, "source": settings.events_topic},
                   f"projected {control.done} events from {settings.events_topic}")


def do_rebuild(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.bootstrap import projection, read_model_db
    from ledger.projections.rebuild import rebuild

    settings = app.settings

    def build(fresh: Any) -> int:
        if not settings.kafka_bootstrap:
            return local_projection(app.ledger, fresh)
        consumer = projection(settings, db=fresh)
        try:
            return consumer.catch_up(progress=ProgressBar())
        finally:
            consumer.close()

    count = rebuild(settings, read_model_db, build)
    source = settings.events_topic if settings.kafka_bootstrap else "the local event store"
    return Outcome({"rebuilt_from": source, "events": count}, f"rebuilt the read models from {source}: {count} events")


def do_verify_read_models(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.bootstrap import read_model_db
    from ledger.projections.verify import verify_read_models

    db = read_model_db(app.settings)
    try:
        report = verify_read_models(app.ledger.store, db, ProgressBar())
    finally:
        db.close()
    lines = ["verified read models against the event store: " +
             ", ".join(f"{n} {kind}" for kind, n in report.checked.items())]
    lines += ["OK: every row matches a replay of the event store"] if report.ok else (
        [f"{len(report.differences)} difference(s):"] + [f"  {d}" for d in report.differences[:200]])
    return Outcome(report.to_dict(), "\n".join(lines), 0 if report.ok else 1)


def do_show_balances(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.bootstrap import read_model_db
    from ledger.projections.reader import account_overview

    db = read_model_db(app.settings)
    try:
        rows = account_overview(db, a.account)
    finally:
        db.close()
    if a.account and not rows:
        raise InvalidInput(f"account {a.account} is not in the read models (run `ledger project` first?)",
                           account=a.account)
    rows = [_at_scales(row) for row in rows]
    return Outcome(rows, render_balances(rows))


_MINOR_UNIT_FIGURES = ("receivable", "overdue_amount", "credit_balance")  # bills' and payments' money
_RATED_FIGURES = ("balance", "unbilled", "prepaid_balance")  # sums of rated charges


def _at_scales(row: dict[str, Any]) -> dict[str, Any]:
    """A balance row's amounts at one scale per kind, like every other --json output."""
    return row | {k: at_minor_unit(Decimal(row[k]), row["currency"]) for k in _MINOR_UNIT_FIGURES if k in row} \
        | {k: at_rated_scale(Decimal(row[k])) for k in _RATED_FIGURES if k in row}


def render_balances(rows: list[dict[str, Any]]) -> str:
    """The balance read model as a table, amounts in each account's currency."""
    headers = ["account", "currency", "status", "balance", "unbilled", "receivable", "overdue", "credit", "prepaid"]
    amounts = ("balance", "unbilled", "receivable", "overdue_amount", "credit_balance", "prepaid_balance")
    return table(headers, ([r["account_ref"], r["currency"], r["status"], *(money(r[k], r["currency"]) for k in amounts)]
                           for r in rows), right=range(3, 9))


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser],
                        group: Callable[[str, str], Any]) -> None:
    idle_help = "exit after this many seconds with nothing to do (default: run until stopped)"
    s = leaf(top, "relay", do_relay, "publish stored events to the Kafka event topic (the outbox relay)")
    s.add_argument("--idle-exit", type=float, help=idle_help)
    s = leaf(top, "follow-checkpoints", do_follow_checkpoints,
             "keep every long account's as-of book checkpoint current as its events arrive (a follower of the "
             "event store, like the relay)")
    s.add_argument("--idle-exit", type=float, help=idle_help)
    s = leaf(top, "ingest", do_ingest, "apply rating-system charge messages from Kafka (bad ones to the dead-letter topic)")
    s.add_argument("--idle-exit", type=float, help=idle_help)
    s = leaf(top, "project", do_project,
             "build the read models from the event topic (from the local event store when no Kafka is configured)")
    s.add_argument("--idle-exit", type=float, help=idle_help)
    g = group("read-models", "the balance, bill and payment read models")
    leaf(g, "rebuild", do_rebuild, "replay every event into fresh read-model tables and swap them in")
    leaf(g, "verify", do_verify_read_models, "compare the read models with a replay of the event store (exit 1 on differences)")
    s = leaf(g, "balances", do_show_balances, "account balances from the read models, with overdue amounts")
    s.add_argument("account", nargs="?", help="one account id (default: all)")
