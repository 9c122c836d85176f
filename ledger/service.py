"""The service layer: runs a validated command against the store with retries, and logs one line per command."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, TypeVar

import structlog

from ledger.commands.base import Command
from ledger.commands.handlers import handler_for
from ledger.commands.results import Result
from ledger.errors import LedgerError, PersonalDataUnavailable
from ledger.ports import BatchStore, Clock, CycleProcesses, NoProgress, PersonalData, Progress
from ledger.settings import Settings

R = TypeVar("R", bound=Result)


class Ledger:
    """What the CLI, the stream processes, the tests and (later) the API talk to; handlers see it as their
    HandlerContext (store port, clock, progress, settings)."""

    def __init__(self, store: BatchStore, settings: Settings, clock: Clock, progress: Progress | None = None,
                 personal: PersonalData | None = None, cycle_processes: CycleProcesses | None = None) -> None:
        self.store = store
        self.cycle_processes = cycle_processes
        self.personal: PersonalData = personal or _NoVault()
        self.settings = settings
        self.clock = clock
        self.progress: Progress = progress or NoProgress()
        self.log = structlog.get_logger("ledger")
        # Commands mutate cached aggregates in place (no deep copy per load), so one instance runs one command at a
        # time; concurrent writers (other threads' or processes' Ledgers) are handled by optimistic concurrency.
        self._lock = threading.RLock()

    def now(self) -> datetime:
        return self.clock()

    def execute(self, command: Command[R]) -> R:
        """Run one command: validate rules, save every touched aggregate atomically, retry on version conflicts."""
        handler = handler_for(command)
        log = self.log.bind(command=type(command).__name__, **command.log_ids())
        try:
            with self._lock:
                try:
                    result = self.store.retrying(lambda: handler(self, command), self.settings.retries)
                except BaseException:
                    self.store.forget()  # before the next command can load a half-changed cached aggregate
                    raise
        except LedgerError as error:
            log.warning("command refused", error=error.code, reason=error.message)
            raise
        log.info("command done", **_logged(result))
        return result  # type: ignore[return-value]  # the handler table maps each command type to its result type

    def close(self) -> None:
        self.store.close()  # type: ignore[attr-defined]
        close = getattr(self.personal, "close", None)
        if close is not None:
            close()


class _NoVault:
    """A Ledger built without a vault: any use of personal data is refused."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise PersonalDataUnavailable("this ledger has no personal-data vault")

    seal = open = erase = index = search = _refuse


_LOGGED = {"account_id", "bill_id", "bill_number", "payment_id", "cycle_id", "applied", "status", "state",
           "accounts_billed", "accounts_skipped", "duplicates", "rejected"}


def _logged(result: Result) -> dict[str, Any]:
    """The fields of a result that go on its log line (ids, counts, states; each rejection's code and reason)."""
    found: dict[str, Any] = {}
    for name in _LOGGED.intersection(type(result).model_fields):
        value = getattr(result, name)
        found[name] = [item.to_dict() for item in value] if name == "rejected" else value
    return found
