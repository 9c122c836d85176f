"""The book checkpoints' table (`ledger.ports.BookCheckpoints`), in the event store's database, on its connections.

One row per account and code version: the encoded book of the account's events up to `version`
(ledger/queries/book_codec.py). A put replaces the account's older rows and other codes' (a checkpoint is a cache of
a projection: any row may go at any time, which only costs the next as-of a projection from events). On PostgreSQL
the data column is stored out of line uncompressed (a megabyte checkpoint reads back faster so).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog

_TABLE = "ledger_book_checkpoints"
log = structlog.get_logger(__name__)


class BookCheckpointTable:
    """`BookCheckpoints` on the recorder's datastore (PostgreSQL or SQLite)."""

    def __init__(self, datastore: Any, postgres: bool) -> None:
        self.datastore, self.postgres = datastore, postgres
        schema = getattr(datastore, "schema", "") if postgres else ""
        self.table = f'"{schema}".{_TABLE}' if schema else _TABLE
        self.mark = "%s" if postgres else "?"

    @classmethod
    def of(cls, recorder: Any, factory: Any) -> BookCheckpointTable | None:
        """The table on the recorder's database (created when the factory creates tables), None for a recorder of
        another kind."""
        from eventsourcing.postgres import PostgresDatastore
        from eventsourcing.sqlite import SQLiteDatastore

        datastore = getattr(recorder, "datastore", None)
        if isinstance(datastore, PostgresDatastore):
            table = cls(datastore, postgres=True)
        elif isinstance(datastore, SQLiteDatastore):
            table = cls(datastore, postgres=False)
        else:
            return None
        if factory.env_create_table():
            table.create()
        return table

    def create(self) -> None:
        """The table, when missing. On PostgreSQL nothing is run once it exists (its ALTER takes the table's
        exclusive lock: never at every start), and a creation raced by another process is theirs."""
        ddl = (f"CREATE TABLE IF NOT EXISTS {self.table} (account_id text NOT NULL, code text NOT NULL, "
               f"version bigint NOT NULL, data {'bytea' if self.postgres else 'BLOB'} NOT NULL, "
               "PRIMARY KEY (account_id, code, version))")
        if not self.postgres:
            with self.datastore.transaction(commit=True) as cur:
                cur.execute(ddl)
            return
        if self._exists():
            return
        try:
            with self.datastore.transaction(commit=True) as cur:
                cur.execute(ddl)
                cur.execute(f"ALTER TABLE {self.table} ALTER COLUMN data SET STORAGE EXTERNAL")
        except Exception:
            if not self._exists():
                raise

    def _exists(self) -> bool:
        with self.datastore.transaction(commit=False) as cur:
            cur.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (self.table,))
            return bool(cur.fetchone()["found"])

    def _run(self, statement: str, params: tuple[Any, ...], commit: bool = False, fetch: bool = True) -> list[Any]:
        statement = statement.format(t=self.table).replace("?", self.mark)
        if self.postgres:
            from psycopg.rows import tuple_row

            with self.datastore.get_connection() as conn:
                with conn.transaction(), conn.cursor(row_factory=tuple_row, binary=True) as cur:
                    cur.execute(statement, params, prepare=True)
                    return cur.fetchall() if fetch else []
        with self.datastore.transaction(commit=commit) as cur:
            cur.execute(statement, params)
            return [tuple(row) for row in cur.fetchall()] if fetch else []

    def latest(self, account_id: UUID, code: str) -> tuple[int, bytes] | None:
        try:
            rows = self._run("SELECT version, data FROM {t} WHERE account_id = ? AND code = ? "
                             "ORDER BY version DESC LIMIT 1", (str(account_id), code))
        except Exception as error:  # no table (a store that does not create tables), a lost connection: from events
            log.warning("book_checkpoint_not_read", account_id=str(account_id), error=type(error).__name__)
            return None
        return (rows[0][0], bytes(rows[0][1])) if rows else None

    def version(self, account_id: UUID, code: str) -> int | None:
        try:
            rows = self._run("SELECT max(version) FROM {t} WHERE account_id = ? AND code = ?", (str(account_id), code))
        except Exception as error:  # as latest: no table or a lost connection reads as no checkpoint
            log.warning("book_checkpoint_not_read", account_id=str(account_id), error=type(error).__name__)
            return None
        return rows[0][0] if rows else None

    def put(self, account_id: UUID, version: int, code: str, data: bytes) -> bool:
        try:
            self._run("DELETE FROM {t} WHERE account_id = ? AND (version < ? OR code <> ?)",
                      (str(account_id), version, code), commit=True, fetch=False)
            self._run("INSERT INTO {t} (account_id, code, version, data) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                      (str(account_id), code, version, data), commit=True, fetch=False)
        except Exception as error:  # a checkpoint is a cache: failing to write one only costs speed
            log.warning("book_checkpoint_not_written", account_id=str(account_id), version=version,
                        error=type(error).__name__)
            return False
        return True

    def drop(self, account_id: UUID | None = None) -> int:
        if account_id is None:
            rows = self._run("DELETE FROM {t} RETURNING account_id", (), commit=True)
        else:
            rows = self._run("DELETE FROM {t} WHERE account_id = ? RETURNING account_id", (str(account_id),), commit=True)
        return len(rows)

    def stored(self) -> list[tuple[UUID, int, str]]:
        rows = self._run("SELECT account_id, version, code FROM {t} ORDER BY account_id, version", ())
        return [(UUID(account_id), version, code) for account_id, version, code in rows]
