"""What the routes use: the write side, the read store, the API's tables, the authenticator, background runs."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

import structlog

from ledger.bootstrap import ApiParts
from ledger.commands.base import Command
from ledger.commands.charges import PostCharges
from ledger.commands.results import ChargesPosted, Result
from ledger.errors import InvalidInput, LedgerError
from ledger.http.auth import Authenticator
from ledger.http.view_cache import ViewCache

R = TypeVar("R", bound=Result)


class ApiServices:
    """Commands go to the write Ledger (one at a time, as in the CLI; other processes' writes are version
    conflicts, retried; a refusal is confirmed on fresh state, see `execute`); reads go to the read store (no cache,
    its own connections): they never wait behind a command, and a GET after a POST sees what the POST wrote. Cycle runs
    go to a second Ledger on a background thread, so charges and payments are not held behind a long run."""

    def __init__(self, parts: ApiParts) -> None:
        self.parts = parts
        self.settings = parts.settings
        self.reads = parts.reads
        self.records = parts.records
        self.personal = parts.ledger.personal  # the vault (thread-safe): read and written by the same process
        self.auth = Authenticator(parts.records, parts.settings)
        self.views = ViewCache(parts.settings.cache_size)  # built bodies per (aggregate, version): view_cache.py
        self.versions = parts.reads.versions()  # stored versions without blocking the event loop (coalesced)
        self.log = structlog.get_logger("ledger.http")
        self._runs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-cycle-run")
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._purged = 0.0

    def purge_idempotency_keys(self, now: float, keep_seconds: float) -> None:
        """Forget the idempotency keys older than they are kept, at most once an hour per process."""
        with self._lock:
            due = now - self._purged >= 3600
            if due:
                self._purged = now
        if due:
            self.records.purge(now - keep_seconds)

    def now(self) -> datetime:
        return self.parts.clock()

    def epoch(self) -> float:
        return time.time()

    def execute(self, command: Command, expected: type[R] = Result) -> R:  # type: ignore[assignment]
        """Run a command on the write Ledger; its typed result (`expected`: the result type the handler returns).

        The Ledger decides on its cached aggregates, which another worker (or the background run) may have changed:
        a stale decision that saves is a version conflict, reloaded and retried by the Ledger, but a refusal saves
        nothing. So a refusal is confirmed on fresh state: the Ledger drops its cache when it refuses, and the
        command runs once more; a batch's refused charges run once more after the cache is dropped."""
        ledger = self.parts.ledger
        try:
            result = ledger.execute(command)
        except InvalidInput:
            raise
        except LedgerError:
            result = ledger.execute(command)  # the refusal emptied the cache: this run reads what is stored
        if isinstance(result, ChargesPosted) and result.rejected and isinstance(command, PostCharges):
            result = self._confirm_rejections(command, result)
        if not isinstance(result, expected):
            raise TypeError(f"{type(command).__name__} answered a {type(result).__name__}, not a {expected.__name__}")
        return result

    def _confirm_rejections(self, command: PostCharges, first: ChargesPosted) -> ChargesPosted:
        refused = {r.charge_id for r in first.rejected}
        again = [c for c in command.charges if c.charge_id in refused]
        self.parts.ledger.store.forget()
        second = self.parts.ledger.execute(PostCharges(charges=again))
        assert isinstance(second, ChargesPosted)
        return ChargesPosted(applied=first.applied + second.applied, duplicates=first.duplicates + second.duplicates,
                             rejected=second.rejected, accounts=first.accounts + second.accounts)

    def start_run(self, key: str, command: Command) -> Future[Any] | None:
        """Run a long command (a cycle run) on the background Ledger; None when the same run is already going.
        The future raises what the command raised (a refusal), and is logged either way."""
        with self._lock:
            if key in self._running:
                return None
            self._running.add(key)

        def run() -> Any:
            try:
                return self.parts.batch_ledger.execute(command)
            except LedgerError:
                raise  # logged by the service; a new trigger resumes the run
            except Exception as error:
                self.log.error("background run failed", run=key, error=type(error).__name__, exc_info=error)
                raise
            finally:
                with self._lock:
                    self._running.discard(key)

        return self._runs.submit(run)

    def running(self, key: str) -> bool:
        with self._lock:
            return key in self._running

    def close(self) -> None:
        self._runs.shutdown(wait=True, cancel_futures=False)
        self.versions.close()
        self.parts.close()
