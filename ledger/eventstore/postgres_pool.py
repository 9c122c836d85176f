"""The PostgreSQL connection pool handing out the connection returned last (LIFO) instead of the oldest idle one."""

from __future__ import annotations

from collections import deque
from typing import Any

from eventsourcing.postgres import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff

RECONNECT_EVERY = 1.0  # seconds at most between two attempts to replace a lost connection


class _CappedAttempt(AttemptWithBackoff):
    """psycopg_pool's reconnection backoff (1 s, doubling until its 5-minute timeout) capped at RECONNECT_EVERY:
    uncapped, a pool whose server was down for 30 s waited up to 30 s more after the server came back."""

    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_EVERY)


class LastUsedFirstPool(ConnectionPool):
    """The eventsourcing library's psycopg pool, giving the most recently returned idle connection first (as pgbouncer
    does by default).

    The library's pool is FIFO: a process working alone (the CLI, the relay, a bill run) rotates through every
    pooled connection, so each server backend is cold in turn (catalog caches, prepared statements, the memory a
    megabyte snapshot needs); last used first keeps one backend warm, and the others idle until work overlaps.
    Only the order changes: the pool's own accounting and waiting clients are untouched. And a lost connection is
    replaced by attempts at most RECONNECT_EVERY apart (a database restart is over within a second of its end).
    """

    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        super()._add_connection(attempt or _CappedAttempt(timeout=self.reconnect_timeout), growing)

    def _get_ready_connection(self, timeout: float | None) -> Any:
        if self._pool:
            self._pool.rotate(1)  # the connection returned last (the deque's right end) to where the pool takes from
        return super()._get_ready_connection(timeout)


def hand_out_last_used_first(pool: Any) -> bool:
    """Make the library's ConnectionPool LIFO (before it is used); False, leaving it alone, if it is anything else."""
    if type(pool) is not ConnectionPool or not isinstance(getattr(pool, "_pool", None), deque):
        return False
    pool.__class__ = LastUsedFirstPool
    return True
