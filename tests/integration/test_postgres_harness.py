"""The PostgreSQL test harness gives a working, isolated server."""

from __future__ import annotations

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.support.postgres_server import drop_schema, fresh_schema


class Note(Aggregate):
    @event("Created")
    def __init__(self, text: str) -> None:
        self.text = text

    @event("Edited")
    def edit(self, text: str) -> None:
        self.text = text


def test_fresh_schema_round_trips_rows(postgres_schema: tuple[str, str]) -> None:
    """A table created in the fresh schema stores and returns rows."""
    url, schema = postgres_schema
    table = sql.Identifier(schema, "items")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", [schema]).fetchone() == (0,)
        conn.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, name text)").format(table))
        conn.execute(sql.SQL("INSERT INTO {} VALUES (1, 'one'), (2, 'two')").format(table))
    with psycopg.connect(url) as conn:
        rows = conn.execute(sql.SQL("SELECT id, name FROM {} ORDER BY id").format(table)).fetchall()
    assert rows == [(1, "one"), (2, "two")]


def test_schemas_are_isolated(postgres_url: str, postgres_schema: tuple[str, str]) -> None:
    """Same-named tables in two fresh schemas do not see each other's rows."""
    _, first = postgres_schema
    second = fresh_schema(postgres_url)
    try:
        with psycopg.connect(postgres_url) as conn:
            for schema, value in ((first, "a"), (second, "b")):
                table = sql.Identifier(schema, "t")
                conn.execute(sql.SQL("CREATE TABLE {} (v text)").format(table))
                conn.execute(sql.SQL("INSERT INTO {} VALUES (%s)").format(table), [value])
            for schema, value in ((first, "a"), (second, "b")):
                rows = conn.execute(sql.SQL("SELECT v FROM {}").format(sql.Identifier(schema, "t"))).fetchall()
                assert rows == [(value,)]
    finally:
        drop_schema(postgres_url, second)


def test_eventsourcing_postgres_recorder_works(postgres_schema: tuple[str, str]) -> None:
    """eventsourcing's Postgres persistence saves and reloads an aggregate in the schema."""
    url, schema = postgres_schema
    params = conninfo_to_dict(url)
    app = Application(env={
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": params["dbname"],
        "POSTGRES_HOST": params["host"],
        "POSTGRES_PORT": str(params.get("port", 5432)),
        "POSTGRES_USER": params["user"],
        "POSTGRES_PASSWORD": params.get("password", ""),
        "POSTGRES_SCHEMA": schema,
        "POSTGRES_LOCK_TIMEOUT": "5",
        "CREATE_TABLE": "y",
    })
    try:
        note = Note("draft")
        note.edit("final")
        app.save(note)
        loaded = app.repository.get(note.id)
        assert (loaded.text, loaded.version) == ("final", 2)
    finally:
        app.close()
    with psycopg.connect(url) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema]).fetchall()
    assert tables, "the recorder's table should live in the fresh schema"
