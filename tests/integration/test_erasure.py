"""Erasure: after a customer is erased, none of its personal values is left anywhere the ledger keeps data, and
balances, bills and verify are unchanged (SQLite and PostgreSQL)."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import structlog

from ledger.bootstrap import read_model_db
from ledger.commands import CreateCustomer, EraseCustomer
from ledger.contracts.codec import SchemaRegistry
from ledger.projections.local_feed import LocalProjection
from ledger.queries.customers import customer_view
from ledger.queries.verify import verify
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.streaming.event_feed import EventFeed
from tests.support.ledger_factory import (
    FakeClock,
    account_of,
    define_spec,
    make_ledger,
    open_account,
    postgres_settings,
    run_cycle,
    sqlite_settings,
)
from tests.support.master_data import define_offering, recurring_price, subscribe

KEY = "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmctLS0"  # 32 bytes, base64 (a test key)
SECRETS = ("Zébulon Quaresmini", "zebulon.quaresmini@example.org", "+41 79 555 01 23", "Rue des Pâquis 17", "1201-QX")


def _story(settings: Settings) -> tuple[Ledger, io.StringIO]:
    logs = io.StringIO()
    clock = FakeClock(datetime(2026, 10, 1, tzinfo=UTC))
    ledger = make_ledger(settings, clock, quiet=False)
    ledger.log = structlog.wrap_logger(structlog.PrintLogger(logs), processors=[structlog.processors.JSONRenderer()],
                                       wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    ledger.execute(CreateCustomer.parse({
        "customer_id": "C-Z", "name": SECRETS[0],
        "contact_medium": [{"medium_type": "email", "email_address": SECRETS[1]},
                           {"medium_type": "phone", "phone_number": SECRETS[2]}],
        "billing_address": {"street1": SECRETS[3], "post_code": SECRETS[4], "city": "Genève", "country": "CH"}}))
    define_spec(ledger)
    open_account(ledger, "ACC-Z", "EUR", customer_id="C-Z")
    define_offering(ledger, "BASIC", recurring_price("31.00"))
    subscribe(ledger, "S-Z", "ACC-Z", "BASIC", "2026-10-15")
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    run_cycle(ledger, "2026-10-01")
    return ledger, logs


def _messages(ledger: Ledger, after: int) -> bytes:
    """The event-topic messages of every event after notification `after`, as the relay encodes them."""
    registry = SchemaRegistry.load()
    items = EventFeed(ledger.store).page(after, 10_000)  # type: ignore[arg-type]
    return b"".join(registry.encode(item.schema, item.record) for item in items)


def _assert_forgotten(blobs: dict[str, bytes]) -> None:
    for where, blob in blobs.items():
        for secret in SECRETS:
            for form in {secret, secret.lower(), secret.casefold()}:
                assert form.encode() not in blob, (where, secret)


def _erase_and_check(ledger: Ledger, settings: Settings, logs: io.StringIO) -> None:
    db = read_model_db(settings)
    LocalProjection(EventFeed(ledger.store), db).catch_up()  # type: ignore[arg-type]
    before = (account_of(ledger, "ACC-Z").balance, verify(ledger.store, ledger.progress).to_dict())
    last = ledger.store.recorder.max_notification_id() or 0
    ledger.execute(EraseCustomer.parse({"customer_id": "C-Z", "reason": "request 7"}))
    LocalProjection(EventFeed(ledger.store), db).catch_up()  # type: ignore[arg-type]
    view = customer_view(ledger.store, ledger.personal, "C-Z")
    assert view.erased and view.name == "[erased]"
    assert (account_of(ledger, "ACC-Z").balance, verify(ledger.store, ledger.progress).to_dict()["ok"]) == (
        before[0], True)
    blobs = {"messages after erasure": _messages(ledger, last), "logs": logs.getvalue().encode(),
             "all messages": _messages(ledger, 0)}
    blobs |= _database_contents(settings)
    db.close()
    ledger.close()
    _assert_forgotten(blobs)


def _database_contents(settings: Settings) -> dict[str, bytes]:
    if settings.store == "sqlite":
        files = [p for p in Path(settings.sqlite_path).parent.iterdir() if p.is_file()]
        return {str(p): p.read_bytes() for p in files}
    found = {}
    with psycopg.connect(settings.postgres_url or "") as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables "
                              "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')").fetchall()
        for schema, table in tables:
            rows = conn.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            found[f"{schema}.{table}"] = repr(rows).encode() + b"".join(
                bytes(v) for row in rows for v in row if isinstance(v, (bytes, memoryview)))
    return found


def test_erasure_leaves_no_personal_value_on_sqlite(tmp_path: Path) -> None:
    """SQLite: events, snapshots, vault tables, read models, messages and logs hold none of the erased values."""
    settings = sqlite_settings(tmp_path / "store" / "ledger.sqlite", master_key=KEY, snapshot_interval=2,
                               read_model_sqlite_path=tmp_path / "store" / "read.sqlite")
    ledger, logs = _story(settings)
    _erase_and_check(ledger, settings, logs)


@pytest.mark.usefixtures("postgres_schema")
def test_erasure_leaves_no_personal_value_on_postgres(postgres_schema: tuple[str, str]) -> None:
    """PostgreSQL: the same, over every table of the database."""
    url, schema = postgres_schema
    settings = postgres_settings(url, schema, master_key=KEY, snapshot_interval=2, read_model_schema=schema + "_read")
    ledger, logs = _story(settings)
    _erase_and_check(ledger, settings, logs)
