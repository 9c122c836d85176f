"""One ledger process at a time creates or alters tables on a PostgreSQL database (a session advisory lock).

PostgreSQL's `CREATE ... IF NOT EXISTS` and `ALTER TABLE` are not safe to run at the same moment from two
sessions: the loser fails with a unique violation on the catalog or "tuple concurrently updated". The ledger's
processes (two ingestion workers, or relay, ingestion and projection started together by docker compose) all
set up their tables when they start, so each does it holding this lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg

_KEY = 0x6C6564676572  # "ledger": one key per database, held only while a process sets up its tables
WAIT = "60s"  # setting up takes well under a second; a lock held longer than this is a stuck process


@contextlib.contextmanager
def setting_up(url: str) -> Iterator[None]:
    """Hold the database's set-up lock for the block (waiting at most WAIT for another process's set-up)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET lock_timeout = '{WAIT}'")
        conn.execute("SELECT pg_advisory_lock(%s)", (_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_KEY,))
