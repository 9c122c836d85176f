"""Ledger processes starting at the same moment on a fresh PostgreSQL database (docker compose starts them
together; two ingestion workers start together): each sets up its tables in turn, none fails."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from ledger.bootstrap import bootstrap, read_model_db
from ledger.streaming.positions import PostgresPositions
from tests.support.ledger_factory import postgres_settings

STARTS = 6


def _all_at_once(start: Callable[[], Any]) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(STARTS)
    started: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        barrier.wait()
        try:
            started.append(start())
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(STARTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return started, errors


@pytest.mark.postgres
def test_ledgers_starting_together_on_a_fresh_schema_all_start(postgres_schema: tuple[str, str]) -> None:
    """Six stores created at once on an empty schema all come up (the tables are created once, in turn)."""
    settings = postgres_settings(*postgres_schema)
    ledgers, errors = _all_at_once(lambda: bootstrap(settings))
    try:
        assert errors == [] and len(ledgers) == STARTS
    finally:
        for ledger in ledgers:
            ledger.close()


@pytest.mark.postgres
def test_relay_positions_and_read_models_set_up_together_all_start(postgres_schema: tuple[str, str]) -> None:
    """The relay's position table and the read-model tables, set up by six processes at once, come up."""
    url, schema = postgres_schema
    settings = postgres_settings(url, schema, read_model_schema=f"{schema}_read")
    opened, errors = _all_at_once(lambda: (PostgresPositions(url, schema), read_model_db(settings)))
    try:
        assert errors == [] and len(opened) == STARTS
    finally:
        for positions, db in opened:
            positions.close()
            db.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}_read" CASCADE')
