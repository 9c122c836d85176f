"""The eventsourcing library's own recorder contract (the test cases eventsourcing 9.5.6 ships in
`eventsourcing.tests.persistence`) run against our PostgreSQL recorder, FastPostgresApplicationRecorder, on the
suite's real PostgreSQL; and, as controls, against the library's own PostgreSQL and SQLite recorders.

The library's cases are unittest-style: a per-test autouse fixture hands each case a datastore on a fresh schema
(or SQLite file), dropped after. The library's `eventsourcing.tests.postgres_utils` is not used: it imports the
library repository's `examples` package, which the wheel does not ship; the fresh schema does its clean-up.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from eventsourcing.tests import persistence as contract  # module, not classes: pytest would collect the bases
from psycopg.conninfo import conninfo_to_dict

from ledger.eventstore.postgres_recorder import FastPostgresApplicationRecorder

TABLE = "stored_events"


@contextlib.contextmanager
def threads_joined(timeout: float = 30) -> Iterator[None]:
    """Wait, on the way out, for the (non-daemon) threads started inside: the library's concurrency case sets its
    readers' stop event but does not join them, and closing the datastore under a reading thread crashes sqlite3.
    The connection pool's own workers are daemons that end when the datastore closes."""
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        if not thread.daemon:
            thread.join(timeout)


def postgres_datastore(url: str, schema: str) -> PostgresDatastore:
    """A datastore like the one the ledger's store builds (uuid ids, no database functions, a pool of 5)."""
    info = conninfo_to_dict(url)
    return PostgresDatastore(str(info.get("dbname", "postgres")), str(info.get("host", "localhost")),
                             str(info.get("port", "5432")), str(info.get("user", "postgres")),
                             str(info.get("password", "")), schema=schema, pool_size=5)


class _OnPostgres:
    """Gives each library case `self.datastore` on a fresh schema of the suite's PostgreSQL (closed after)."""

    recorder_class: ClassVar[type[PostgresApplicationRecorder]]
    datastore: PostgresDatastore

    @pytest.fixture(autouse=True)
    def _datastore(self, postgres_schema: tuple[str, str]) -> Iterator[None]:
        self.datastore = postgres_datastore(*postgres_schema)
        with threads_joined():
            yield
        self.datastore.close()

    def create_recorder(self) -> PostgresApplicationRecorder:
        recorder = self.recorder_class(self.datastore, events_table_name=TABLE)
        recorder.create_table()
        return recorder


class _Subscribes:
    def test_insert_subscribe(self) -> None:
        """The library's subscription case (LISTEN/NOTIFY after each insert), which it ships as optional."""
        self.optional_test_insert_subscribe()  # type: ignore[attr-defined]


class _OursAsTheStoreSetsItUp(_OnPostgres):
    recorder_class = FastPostgresApplicationRecorder

    def create_recorder(self) -> PostgresApplicationRecorder:
        """Our recorder with its table as LedgerStore leaves it: state compressed with lz4 where the server can."""
        recorder = super().create_recorder()
        recorder.compress_with_lz4(TABLE)  # type: ignore[attr-defined]
        return recorder


class TestOurPostgresRecorder(_OursAsTheStoreSetsItUp, _Subscribes, contract.ApplicationRecorderTestCase):
    """The application recorder contract on FastPostgresApplicationRecorder."""


class TestOurPostgresRecorderDoesNotInterleave(_OursAsTheStoreSetsItUp, contract.NonInterleavingNotificationIDsBaseCase):
    """Two concurrent saves' notification ids do not interleave (the table lock serialises the unnest inserts)."""


class TestLibraryPostgresRecorder(_OnPostgres, _Subscribes, contract.ApplicationRecorderTestCase):
    """Control: the same contract on the library's own PostgreSQL recorder, same server, same datastore."""

    recorder_class = PostgresApplicationRecorder


class TestLibraryPostgresRecorderDoesNotInterleave(_OnPostgres, contract.NonInterleavingNotificationIDsBaseCase):
    recorder_class = PostgresApplicationRecorder


class _OnSqlite:
    """Gives each library case an SQLite datastore on a file of its own (threads share it, as the store's do)."""

    datastore: SQLiteDatastore

    @pytest.fixture(autouse=True)
    def _datastore(self, tmp_path: Path) -> Iterator[None]:
        self.datastore = SQLiteDatastore(str(tmp_path / "contract.sqlite"), lock_timeout=30)
        with threads_joined():
            yield
        self.datastore.close()

    def create_recorder(self) -> ApplicationRecorder:
        recorder = SQLiteApplicationRecorder(self.datastore, events_table_name=TABLE)
        recorder.create_table()
        return recorder


class TestLibrarySqliteRecorder(_OnSqlite, contract.ApplicationRecorderTestCase):
    """Control: the contract on the library's SQLite recorder (the ledger's embedded store)."""


class TestLibrarySqliteRecorderDoesNotInterleave(_OnSqlite, contract.NonInterleavingNotificationIDsBaseCase):
    pass
