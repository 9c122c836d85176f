"""Aggregates' stored versions for an asyncio server, without blocking its event loop.

`PostgresVersions` keeps one asynchronous connection (autocommit) per event loop and coalesces the look-ups that
wait at the same moment into one statement: while a select is in flight, the ids asked for meanwhile queue up
and go together in the next one (`unnest` of an id array, one index probe each). Every look-up is answered by a
statement sent after it was asked, so it sees every transaction committed before the request arrived, by this
process or any other (read your writes). `BlockingVersions` is the same interface over the store's own select
(SQLite: a local file, no round trip worth hiding).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol
from uuid import UUID

import psycopg
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

_ATTEMPTS = 5


class Versions(Protocol):
    async def version(self, aggregate_id: UUID) -> int | None:
        """The version of the aggregate's last stored event (None: none), as committed when it was asked."""
        ...

    def close(self) -> None: ...


class BlockingVersions:
    """The store's own select, called on the event loop."""

    def __init__(self, select: Callable[[UUID], int | None]) -> None:
        self._select = select

    async def version(self, aggregate_id: UUID) -> int | None:
        return self._select(aggregate_id)

    def close(self) -> None:
        pass


class PostgresVersions:
    """Coalescing asynchronous version look-ups on PostgreSQL: up to `connections` statements in flight, each
    carrying every id asked for since the previous one was sent."""

    def __init__(self, connect_kwargs: dict[str, Any], schema: str, table: str, id_type: str = "uuid",
                 connections: int = 4) -> None:
        self._kwargs = {k: v for k, v in connect_kwargs.items() if k != "row_factory"}
        self.statement: Composed = SQL(
            "SELECT a.i, (SELECT max(e.originator_version) FROM {schema}.{table} e WHERE e.originator_id = a.i) "
            "FROM unnest(%b::{id_type}[]) AS a(i)"
        ).format(schema=Identifier(schema), table=Identifier(table), id_type=SQL(id_type))
        self.connections = connections
        self._text: str | None = None  # the statement rendered once (psycopg re-composes a Composed on every call)
        self._pending: dict[UUID, list[asyncio.Future[int | None]]] = {}
        self._drainers = 0
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.statements = 0  # how many selects were sent (coalescing: fewer than look-ups under load)

    async def version(self, aggregate_id: UUID) -> int | None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (an in-process test client runs one per call)
            self.close()
            self._pending, self._drainers, self._loop, self._tasks = {}, 0, loop, set()
        future: asyncio.Future[int | None] = loop.create_future()
        self._pending.setdefault(aggregate_id, []).append(future)
        if self._drainers < self.connections:
            self._drainers += 1
            task = loop.create_task(self._drain())
            self._tasks.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        conn = self._idle.pop() if self._idle else None
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                try:
                    conn, found = await self._select(conn, list(batch))
                except Exception as error:  # noqa: BLE001 - every waiting request gets the failure
                    conn = None
                    for futures in batch.values():
                        for f in futures:
                            if not f.done():
                                f.set_exception(error)
                    continue
                for aggregate_id, futures in batch.items():
                    for f in futures:
                        if not f.done():
                            f.set_result(found.get(aggregate_id))
        finally:
            self._drainers -= 1
            if conn is not None and not conn.closed:
                self._idle.append(conn)

    async def _select(self, conn: psycopg.AsyncConnection[Any] | None,
                      ids: list[UUID]) -> tuple[psycopg.AsyncConnection[Any], dict[UUID, int | None]]:
        for attempt in range(_ATTEMPTS):
            try:
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(autocommit=True, **self._kwargs)
                    # the statement's plan does not depend on the ids: planned once, not again for each array
                    await conn.execute("SET plan_cache_mode = force_generic_plan")
                    if self._text is None:
                        self._text = self.statement.as_string(conn)
                async with conn.cursor(row_factory=tuple_row, binary=True) as curs:
                    await curs.execute(self._text or self.statement, (ids,), prepare=True)
                    rows = await curs.fetchall()
                self.statements += 1
                return conn, dict(rows)
            except (psycopg.OperationalError, psycopg.InterfaceError):
                _finish(conn)
                conn = None
                if attempt == _ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            _finish(conn)


def _finish(conn: psycopg.AsyncConnection[Any] | None) -> None:
    if conn is not None and not conn.closed:
        conn.pgconn.finish()  # synchronous: the connection's loop may be gone
