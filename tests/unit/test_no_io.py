"""The unit tests' I/O guard (tests/unit/conftest.py): each kind of I/O fails the test; reading files does not."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from ledger.bootstrap import bootstrap
from tests.support.ledger_factory import memory_settings, sqlite_settings

REFUSED = pytest.fail.Exception


def test_a_socket_connection_is_refused() -> None:
    """Connecting a socket fails the test before anything is sent."""
    with socket.socket() as sock, pytest.raises(REFUSED, match="network"):
        sock.connect(("127.0.0.1", 9))


def test_a_postgres_connection_is_refused() -> None:
    """psycopg.connect fails the test (libpq's sockets are not Python's, so it is guarded on its own)."""
    with pytest.raises(REFUSED, match="PostgreSQL"):
        psycopg.connect("postgresql://127.0.0.1:1/none")


def test_an_sqlite_database_is_refused() -> None:
    """An SQLite database, even one in memory, fails the test."""
    with pytest.raises(REFUSED, match="SQLite"):
        sqlite3.connect(":memory:")


def test_a_ledger_on_sqlite_is_refused() -> None:
    """The SQLite store cannot be built in a unit test: its folder is not made and its file not opened."""
    with pytest.raises(REFUSED):
        bootstrap(sqlite_settings(Path(tempfile.gettempdir()) / "never" / "ledger.sqlite"))


def test_a_process_is_refused() -> None:
    """Starting a process fails the test."""
    with pytest.raises(REFUSED, match="process"):
        subprocess.run(["true"], check=False)


@pytest.mark.parametrize("mode", ["w", "a", "x", "r+", "wb"])
def test_opening_a_file_for_writing_is_refused(mode: str) -> None:
    """open() for writing, appending, creating or updating fails the test."""
    with pytest.raises(REFUSED, match="writing"):
        open(os.devnull, mode)


def test_writing_through_pathlib_and_tempfile_is_refused() -> None:
    """Path.write_text and tempfile's files go through the same guard."""
    with pytest.raises(REFUSED):
        Path(os.devnull).write_text("x")
    with pytest.raises(REFUSED):
        tempfile.TemporaryFile()
    with pytest.raises(REFUSED, match="folder"):
        Path(tempfile.gettempdir(), "ledger-no-io").mkdir()


def test_reading_a_file_is_allowed() -> None:
    """Reading (the Avro schemas, time zones, this file) is not I/O the guard refuses."""
    with open(__file__, encoding="utf-8") as source:
        assert source.readline().startswith('"""The unit tests')


def test_a_ledger_on_the_memory_store_runs() -> None:
    """The in-memory store does no I/O: a ledger on it is built and closed under the guard."""
    ledger = bootstrap(memory_settings())
    assert ledger.store.recorder.max_notification_id() is None
    ledger.close()
