"""The read-model database (PostgreSQL schema, or an SQLite file on the embedded default): load, write, offsets."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from ledger.projections.read_models import VERSIONED_TABLES, ReadModelBatch, Row
from ledger.projections.tables import (
    BILL_ALLOCATIONS,
    GROUP_MEMBERS,
    OFFERING_PRICES,
    OFFSETS,
    SUBSCRIPTION_PHASES,
    TABLES,
    Table,
    ddl,
)

BY_NAME = {table.name: table for table in TABLES}


class ReadModelDatabase:
    """One connection to the read models; every write happens inside `transaction()`. On PostgreSQL a failed
    connection is replaced: `reconnect()` drops it, and the next use connects again."""

    def __init__(self, conn: Any, dialect: str, location: str, connect: Callable[[], Any] | None = None) -> None:
        self._conn = conn
        self._connect = connect
        self.dialect = dialect
        self.location = location  # "schema ledger_read" or a file path, for messages
        self._p = "%s" if dialect == "postgres" else "?"

    # ------------------------------------------------------------ opening

    @classmethod
    def postgres(cls, url: str, schema: str) -> ReadModelDatabase:
        def connect() -> psycopg.Connection[Any]:
            conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            return conn

        return cls(connect(), "postgres", f"schema {schema}", connect)

    @property
    def conn(self) -> Any:
        if self._conn is None:
            if self._connect is None:
                raise RuntimeError("the read-model database is closed")
            self._conn = self._connect()
        return self._conn

    def reconnect(self) -> None:
        """Drop a (failed) PostgreSQL connection; the next use opens a new one. SQLite keeps its file open."""
        if self._connect is None:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    @classmethod
    def sqlite(cls, path: Path) -> ReadModelDatabase:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        return cls(conn, "sqlite", str(path))

    def create(self) -> ReadModelDatabase:
        with self.transaction():
            for statement in ddl(self.dialect):
                self.conn.execute(statement)
            self._add_new_columns()
        return self

    def _add_new_columns(self) -> None:
        """Columns added to a table after its file or schema was made (e.g. account_balances.time_zone): added,
        empty; `ledger read-models rebuild` fills them."""
        for table in TABLES:
            if self.dialect == "postgres":
                cur = self.conn.execute("SELECT column_name FROM information_schema.columns "
                                        "WHERE table_schema = current_schema() AND table_name = %s", (table.name,))
                have = {row[0] for row in cur}
            else:
                have = {row[1] for row in self.conn.execute(f"PRAGMA table_info({table.name})")}
            for name, kind in table.columns.items():
                if name not in have:
                    sql_type = {"money": "numeric", "int": "bigint", "date": "date", "time": "timestamptz"}.get(
                        kind, "text") if self.dialect == "postgres" else ("INTEGER" if kind == "int" else "TEXT")
                    self.conn.execute(f"ALTER TABLE {table.name} ADD COLUMN {name} {sql_type}")

    def close(self) -> None:
        conn, self._conn, self._connect = self._conn, None, None
        if conn is not None:
            conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self.dialect == "postgres":
            with self.conn.transaction():
                yield
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ------------------------------------------------------------ rows

    def load(self, table: Table, ids: set[str]) -> dict[str, Row]:
        """Rows of a one-column-key table by key."""
        if not ids:
            return {}
        key = table.key[0]
        cols = list(table.columns)
        if self.dialect == "postgres":
            cur = self.conn.execute(f"SELECT {', '.join(cols)} FROM {table.name} WHERE {key} = ANY(%s)", (list(ids),))
            return {row[0]: dict(zip(cols, row)) for row in cur}
        found: dict[str, Row] = {}
        wanted = list(ids)
        for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
            chunk = wanted[start:start + 900]
            cur = self.conn.execute(
                f"SELECT {', '.join(cols)} FROM {table.name} WHERE {key} IN ({', '.join('?' * len(chunk))})", chunk)
            for row in cur:
                found[row[0]] = self._from_sqlite(table, dict(zip(cols, row)))
        return found

    def all_rows(self, table: Table) -> list[Row]:
        cols = list(table.columns)
        cur = self.conn.execute(f"SELECT {', '.join(cols)} FROM {table.name} ORDER BY {', '.join(table.key)}")
        rows = [dict(zip(cols, row)) for row in cur]
        return rows if self.dialect == "postgres" else [self._from_sqlite(table, r) for r in rows]

    def select(self, query: str) -> list[Row]:
        """Rows of a read-only query (named columns); money stays text on SQLite (the caller makes it Decimal)."""
        cur = self.conn.execute(query)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row)) for row in cur]

    def count(self, table: Table) -> int:
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table.name}").fetchone()[0])

    def upsert(self, table: Table, rows: list[Row]) -> None:
        if not rows:
            return
        cols = list(table.columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in table.key)
        statement = (f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join([self._p] * len(cols))}) "
                     f"ON CONFLICT ({', '.join(table.key)}) DO UPDATE SET {updates}")
        self._executemany(statement, [self._values(table, row, cols) for row in rows])

    def insert_new(self, table: Table, rows: list[Row]) -> None:
        if not rows:
            return
        cols = list(table.columns)
        statement = (f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join([self._p] * len(cols))}) "
                     f"ON CONFLICT ({', '.join(table.key)}) DO NOTHING")
        self._executemany(statement, [self._values(table, row, cols) for row in rows])

    def write(self, batch: ReadModelBatch) -> None:
        for name in VERSIONED_TABLES:
            self.upsert(BY_NAME[name], batch.changed_rows(name))
        self.insert_new(BILL_ALLOCATIONS, batch.allocations)
        for table, rows in ((GROUP_MEMBERS, batch.members), (OFFERING_PRICES, batch.prices),
                            (SUBSCRIPTION_PHASES, batch.phases)):
            latest = {tuple(str(row[k]) for k in table.key): row for row in rows}  # the last one for a key holds
            self.upsert(table, list(latest.values()))

    # ------------------------------------------------------------ offsets

    def offsets(self, consumer: str, topic: str, lock: bool = False) -> dict[int, int]:
        """Stored next offsets by partition (locked until the transaction ends when `lock`)."""
        query = f"SELECT partition, next_offset FROM {OFFSETS.name} WHERE consumer = {self._p} AND topic = {self._p}"
        if lock and self.dialect == "postgres":
            query += " FOR UPDATE"
        return {int(p): int(o) for p, o in self.conn.execute(query, (consumer, topic))}

    def save_offsets(self, consumer: str, topic: str, next_offsets: dict[int, int]) -> None:
        self.upsert(OFFSETS, [{"consumer": consumer, "topic": topic, "partition": p, "next_offset": o}
                              for p, o in sorted(next_offsets.items())])

    # ------------------------------------------------------------ conversions

    def _executemany(self, statement: str, params: list[tuple[Any, ...]]) -> None:
        if self.dialect == "postgres":
            with self.conn.cursor() as cur:
                cur.executemany(statement, params)
        else:
            self.conn.executemany(statement, params)

    def _values(self, table: Table, row: Row, cols: list[str]) -> tuple[Any, ...]:
        values = tuple(row.get(c) for c in cols)
        if self.dialect == "postgres":
            return values
        return tuple(_sqlite_value(v) for v in values)

    @staticmethod
    def _from_sqlite(table: Table, row: Row) -> Row:
        for column in table.money_columns:
            if row.get(column) is not None:
                row[column] = Decimal(row[column])
        return row


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value
