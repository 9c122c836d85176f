"""The `ledger` subcommands of the streaming processes: relay, ingest, project, read-models (rebuild/verify/show)."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from ledger.errors import InvalidInput
from ledger.progress import ProgressBar

if TYPE_CHECKING:
    from ledger.cli import App, Outcome


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so a process finishes its batch and exits cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _idle_stopper(stop: threading.Event, idle_seconds: float | None) -> Callable[[int], None]:
    """With --idle-exit N: stop after N seconds without work (tests, benchmarks, one-shot catch-ups)."""
    last = [time.monotonic()]

    def seen(count: int) -> None:
        now = time.monotonic()
        if count:
            last[0] = now
        elif idle_seconds is not None and now - last[0] >= idle_seconds:
            stop.set()

    return seen


def do_relay(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.cli import Outcome
    from ledger.streams import relay

    relay_ = relay(app.ledger)
    stop = _stop_on_signals()
    sent = [0]
    idle = _idle_stopper(stop, a.idle_exit)

    def on_step(count: int) -> None:
        sent[0] += count
        idle(count)

    relay_.run(stop, on_step=on_step)
    data = {"published": sent[0], "position": relay_.position}
    return Outcome(data, f"relay stopped at notification {relay_.position} ({sent[0]} events published)")


def do_ingest(app: App, a: argparse.Namespace) -> Outcome:
    from consumers.charge_ingestion import IngestResult, run_ingestion
    from ledger.cli import Outcome
    from ledger.streams import ingestion

    work, consumer = ingestion(app.ledger)
    stop = _stop_on_signals()
    idle = _idle_stopper(stop, a.idle_exit)
    try:
        total = run_ingestion(work, consumer, stop, on_batch=lambda r: idle(r.received),
                              on_idle=lambda: idle(0))
    finally:
        consumer.close()  # type: ignore[attr-defined]
        work.dead_letters.close()
    data = total.__dict__ if isinstance(total, IngestResult) else {}
    return Outcome(data, (f"ingested {total.received} messages: {total.applied} charges applied, "
                          f"{total.duplicates} duplicates, {total.dead_lettered} dead-lettered"))


def do_project(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.cli import Outcome
    from ledger.streams import projection, read_model_db

    settings = app.settings
    if not settings.kafka_bootstrap:  # embedded default: straight from the local event store
        from ledger.event_feed import EventFeed
        from ledger.projections.local_feed import LocalProjection

        db = read_model_db(settings)
        try:
            count = LocalProjection(EventFeed(app.ledger.store, settings.cache_size), db).catch_up()
        finally:
            db.close()
        return Outcome({"projected": count, "source": "local event store", "read_models": db.location},
                       f"projected {count} events from the local event store into {db.location}")
    consumer = projection(settings)
    stop = _stop_on_signals()
    done = [0]
    idle = _idle_stopper(stop, a.idle_exit)

    def on_step(count: int) -> None:
        done[0] += count
        idle(count)

    consumer.run(stop, on_step=on_step)
    return Outcome({"projected": done[0], "source": settings.events_topic},
                   f"projected {done[0]} events from {settings.events_topic}")


def do_rebuild(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.cli import Outcome
    from ledger.projections.rebuild import rebuild
    from ledger.streams import projection, read_model_db

    settings = app.settings

    def open_db(s: Any, suffix: str) -> Any:
        return read_model_db(s, suffix)

    def build(fresh: Any) -> int:
        if not settings.kafka_bootstrap:
            from ledger.event_feed import EventFeed
            from ledger.projections.local_feed import LocalProjection

            return LocalProjection(EventFeed(app.ledger.store, settings.cache_size), fresh).catch_up()
        consumer = projection(settings, db=fresh, name="read-models")
        try:
            return consumer.catch_up(progress=ProgressBar())
        finally:
            consumer.close()

    count = rebuild(settings, open_db, build)
    source = settings.events_topic if settings.kafka_bootstrap else "the local event store"
    return Outcome({"rebuilt_from": source, "events": count}, f"rebuilt the read models from {source}: {count} events")


def do_verify_read_models(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.cli import Outcome
    from ledger.projections.verify import verify_read_models
    from ledger.streams import read_model_db

    db = read_model_db(app.settings)
    try:
        report = verify_read_models(app.ledger, db, ProgressBar())
    finally:
        db.close()
    lines = [f"verified read models against the event store: " +
             ", ".join(f"{n} {kind}" for kind, n in report.checked.items())]
    lines += ["OK: every row matches a replay of the event store"] if report.ok else (
        [f"{len(report.differences)} difference(s):"] + [f"  {d}" for d in report.differences[:200]])
    return Outcome(report.to_dict(), "\n".join(lines), 0 if report.ok else 1)


def do_show_balances(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.cli import Outcome
    from ledger.projections.reader import account_overview
    from ledger.streams import read_model_db

    db = read_model_db(app.settings)
    try:
        rows = account_overview(db, a.account)
    finally:
        db.close()
    if a.account and not rows:
        raise InvalidInput(f"account {a.account} is not in the read models (run `ledger project` first?)",
                           account=a.account)
    return Outcome(rows, render_balances(rows))


def render_balances(rows: list[dict[str, Any]]) -> str:
    """The balance read model as a table, amounts in each account's currency."""
    from ledger.cli import money, table

    headers = ["account", "currency", "status", "balance", "unbilled", "receivable", "overdue", "credit", "prepaid"]
    amounts = ("balance", "unbilled", "receivable", "overdue_amount", "credit_balance", "prepaid_balance")
    return table(headers, ([r["account_ref"], r["currency"], r["status"], *(money(r[k], r["currency"]) for k in amounts)]
                           for r in rows), right=range(3, 9))


def add_stream_commands(top: Any, leaf: Callable[..., argparse.ArgumentParser],
                        group: Callable[[str, str], Any]) -> None:
    idle_help = "exit after this many seconds with nothing to do (default: run until stopped)"
    s = leaf(top, "relay", do_relay, "publish stored events to the Kafka event topic (the outbox relay)")
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
