"""The HTTP API's own tables, in the event store's database: API keys (hashes only), idempotency keys, hub listeners.

Created like the store's tables (on PostgreSQL under the set-up lock, in the store's schema); every method is one
short statement on a pooled connection (PostgreSQL) or on one connection behind a lock (SQLite), so the API's
request threads can share one instance. Moments are epoch seconds (the same on both databases).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ledger.eventstore.setup_lock import setting_up
from ledger.ports import ApiKeyRecord, IdempotentResponse, ListenerRecord

_KEYS, _IDEMPOTENCY, _LISTENERS = "ledger_api_keys", "ledger_idempotency_keys", "ledger_hub_listeners"

_DDL = [
    f"CREATE TABLE IF NOT EXISTS {{{_KEYS}}} (key_id text PRIMARY KEY, key_hash text NOT NULL UNIQUE, role text NOT NULL,"
    " accounts text, label text NOT NULL, created_at {time} NOT NULL, revoked_at {time}, last_used_at {time})",
    f"CREATE TABLE IF NOT EXISTS {{{_IDEMPOTENCY}}} (scope text NOT NULL, key text NOT NULL, fingerprint text NOT NULL,"
    " status integer NOT NULL, body {blob}, headers text NOT NULL, created_at {time} NOT NULL, PRIMARY KEY (scope, key))",
    f"CREATE TABLE IF NOT EXISTS {{{_LISTENERS}}} (id text PRIMARY KEY, callback text NOT NULL, query text NOT NULL,"
    " secret text NOT NULL, position bigint NOT NULL, state text NOT NULL, failing_since {time}, last_error text,"
    " last_delivered_at {time}, delivered bigint NOT NULL, created_at {time} NOT NULL)",
]
_TYPES = {"postgres": {"time": "double precision", "blob": "bytea"}, "sqlite": {"time": "REAL", "blob": "BLOB"}}
_PENDING = 0  # status of an idempotency key whose first request is still running


class ApiTables:
    """The API keys, idempotency keys and hub listeners (see ledger.ports for what each method promises)."""

    def __init__(self, dialect: str, connect: Any, names: dict[str, str]) -> None:
        self.dialect = dialect
        self._connect = connect
        self._names = names

    # ------------------------------------------------------------ opening

    @classmethod
    def postgres(cls, url: str, schema: str | None, pool_size: int = 4) -> ApiTables:
        from psycopg_pool import ConnectionPool

        names = {t: f'"{schema}"."{t}"' if schema else t for t in (_KEYS, _IDEMPOTENCY, _LISTENERS)}
        pool = ConnectionPool(url, min_size=1, max_size=pool_size, kwargs={"autocommit": True}, open=True)
        tables = cls("postgres", pool, names)
        with setting_up(url), pool.connection() as conn:
            if schema:
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            for statement in _DDL:
                conn.execute(statement.format(**names, **_TYPES["postgres"]))
        return tables

    @classmethod
    def sqlite(cls, path: Path) -> ApiTables:
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        lock = threading.Lock()
        names = {t: t for t in (_KEYS, _IDEMPOTENCY, _LISTENERS)}
        tables = cls("sqlite", (conn, lock), names)
        for statement in _DDL:
            conn.execute(statement.format(**names, **_TYPES["sqlite"]))
        return tables

    def close(self) -> None:
        if self.dialect == "postgres":
            self._connect.close()
        else:
            self._connect[0].close()

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        if self.dialect == "postgres":
            with self._connect.connection() as conn, conn.cursor() as cur:
                yield cur
            return
        conn, lock = self._connect
        with lock:
            yield conn.cursor()

    def _run(self, statement: str, params: tuple[Any, ...] = ()) -> tuple[list[tuple[Any, ...]], int]:
        """(rows, rows affected) of one statement; `{table}` names and `%s` placeholders on both databases."""
        text = statement.format(**self._names)
        if self.dialect == "sqlite":
            text = text.replace("%s", "?")
        with self._cursor() as cur:
            cur.execute(text, params)
            rows = cur.fetchall() if cur.description else []
            return [tuple(r) for r in rows], cur.rowcount

    # ------------------------------------------------------------ API keys

    def add_key(self, record: ApiKeyRecord, key_hash: str) -> None:
        self._run(f"INSERT INTO {{{_KEYS}}} (key_id, key_hash, role, accounts, label, created_at)"
                  " VALUES (%s, %s, %s, %s, %s, %s)",
                  (record.key_id, key_hash, record.role, _accounts_text(record.accounts), record.label, record.created_at))

    def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        rows, _ = self._run(f"SELECT {_KEY_COLUMNS} FROM {{{_KEYS}}} WHERE key_hash = %s", (key_hash,))
        return _key(rows[0]) if rows else None

    def keys(self) -> list[ApiKeyRecord]:
        rows, _ = self._run(f"SELECT {_KEY_COLUMNS} FROM {{{_KEYS}}} ORDER BY created_at, key_id")
        return [_key(row) for row in rows]

    def revoke_key(self, key_id: str, at: float) -> bool:
        _, count = self._run(f"UPDATE {{{_KEYS}}} SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL", (at, key_id))
        return count > 0

    def touch_key(self, key_id: str, at: float) -> None:
        self._run(f"UPDATE {{{_KEYS}}} SET last_used_at = %s WHERE key_id = %s", (at, key_id))

    # ------------------------------------------------------------ idempotency keys

    def claim(self, scope: str, key: str, fingerprint: str, now: float, keep_seconds: float) -> IdempotentResponse | None:
        """None when this request may run (the key is now held as pending); else what is stored under the key (its
        first response, or status 0 while the first request still runs). An expired key is claimed afresh."""
        self._run(f"DELETE FROM {{{_IDEMPOTENCY}}} WHERE scope = %s AND key = %s AND created_at < %s AND status <> %s",
                  (scope, key, now - keep_seconds, _PENDING))
        conflict = " ON CONFLICT (scope, key) DO NOTHING"
        _, count = self._run(f"INSERT INTO {{{_IDEMPOTENCY}}} (scope, key, fingerprint, status, body, headers, created_at)"
                             f" VALUES (%s, %s, %s, %s, %s, %s, %s){conflict}",
                             (scope, key, fingerprint, _PENDING, b"", "{}", now))
        if count == 1:
            return None
        rows, _ = self._run(f"SELECT fingerprint, status, body, headers FROM {{{_IDEMPOTENCY}}} WHERE scope = %s AND key = %s",
                            (scope, key))
        if not rows:  # released meanwhile: try once more
            return self.claim(scope, key, fingerprint, now, keep_seconds)
        found, status, body, headers = rows[0]
        return IdempotentResponse(found, int(status), bytes(body or b""), json.loads(headers))

    def complete(self, scope: str, key: str, response: IdempotentResponse) -> None:
        self._run(f"UPDATE {{{_IDEMPOTENCY}}} SET status = %s, body = %s, headers = %s WHERE scope = %s AND key = %s",
                  (response.status, response.body, json.dumps(response.headers), scope, key))

    def release(self, scope: str, key: str) -> None:
        self._run(f"DELETE FROM {{{_IDEMPOTENCY}}} WHERE scope = %s AND key = %s AND status = %s", (scope, key, _PENDING))

    def purge(self, before: float) -> int:
        _, count = self._run(f"DELETE FROM {{{_IDEMPOTENCY}}} WHERE created_at < %s", (before,))
        return count

    # ------------------------------------------------------------ hub listeners

    def add_listener(self, record: ListenerRecord, secret: str) -> None:
        self._run(f"INSERT INTO {{{_LISTENERS}}} (id, callback, query, secret, position, state, delivered, created_at)"
                  " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                  (record.id, record.callback, record.query, secret, record.position, record.state, 0, record.created_at))

    def listener(self, listener_id: str) -> ListenerRecord | None:
        rows, _ = self._run(f"SELECT {_LISTENER_COLUMNS} FROM {{{_LISTENERS}}} WHERE id = %s", (listener_id,))
        return _listener(rows[0]) if rows else None

    def listeners(self) -> list[ListenerRecord]:
        rows, _ = self._run(f"SELECT {_LISTENER_COLUMNS} FROM {{{_LISTENERS}}} ORDER BY created_at, id")
        return [_listener(row) for row in rows]

    def listener_secret(self, listener_id: str) -> str | None:
        rows, _ = self._run(f"SELECT secret FROM {{{_LISTENERS}}} WHERE id = %s", (listener_id,))
        return str(rows[0][0]) if rows else None

    def remove_listener(self, listener_id: str) -> bool:
        _, count = self._run(f"DELETE FROM {{{_LISTENERS}}} WHERE id = %s", (listener_id,))
        return count > 0

    def delivered(self, listener_id: str, position: int, count: int, at: float) -> None:
        """Record a listener's position after a delivery (it is active again)."""
        self._run(f"UPDATE {{{_LISTENERS}}} SET position = %s, delivered = delivered + %s, last_delivered_at = %s,"
                  " state = 'active', failing_since = NULL, last_error = NULL WHERE id = %s", (position, count, at, listener_id))

    def failed(self, listener_id: str, since: float, error: str, failing: bool) -> None:
        self._run(f"UPDATE {{{_LISTENERS}}} SET failing_since = %s, last_error = %s, state = %s WHERE id = %s",
                  (since, error[:500], "failing" if failing else "retrying", listener_id))


_KEY_COLUMNS = "key_id, role, accounts, label, created_at, revoked_at, last_used_at"
_LISTENER_COLUMNS = "id, callback, query, position, state, failing_since, last_error, last_delivered_at, delivered, created_at"


def _accounts_text(accounts: frozenset[str] | None) -> str | None:
    return None if accounts is None else json.dumps(sorted(accounts))


def _key(row: tuple[Any, ...]) -> ApiKeyRecord:
    key_id, role, accounts, label, created, revoked, used = row
    return ApiKeyRecord(key_id, role, None if accounts is None else frozenset(json.loads(accounts)), label, float(created),
                        None if revoked is None else float(revoked), None if used is None else float(used))


def _listener(row: tuple[Any, ...]) -> ListenerRecord:
    listener_id, callback, query, position, state, failing_since, error, delivered_at, delivered, created = row
    return ListenerRecord(listener_id, callback, query, int(position), state,
                          None if failing_since is None else float(failing_since), error,
                          None if delivered_at is None else float(delivered_at), int(delivered), float(created))
