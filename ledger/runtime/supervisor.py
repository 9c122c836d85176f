"""The supervision loop of a long-running process.

A process is a `Worker` doing one unit of work per `step()` (a polled batch, a page of the log) that either
completes (stored, acknowledged, committed) or fails having changed nothing that counts. The `Supervisor` runs
it until told to stop:
- a step that fails is retried after `reset(dependency)`, from the last committed position, after a capped
  exponential backoff with jitter; an outage is logged when it starts, once a period while it lasts, and when
  it ends ("postgresql is back; resumed"), and counted in the metrics;
- the worker is built by `open_worker`, retried the same way while a dependency is unreachable (a process may
  start before its database or broker), and rebuilt if `reset` itself fails;
- after `give_up_seconds` of failures without one success the process gives up: a clear last log line and
  `GaveUp` (exit code 3), so that whatever supervises the process (docker, systemd, Kubernetes) can act;
- a step waiting longer than `busy_seconds` (a client waiting out an outage by itself, as the database pool
  does) is logged once and makes the process not ready; a watchdog ends the process (exit code 3) when one step
  has run longer than `give_up_seconds` (a call hung on a dead socket): it never hangs silently;
- on `stop` (SIGTERM) the step in flight finishes, then the worker closes; if it has not within
  `stop_timeout_seconds`, the process exits 0 abandoning it (nothing of it was committed);
- /livez, /readyz and /metrics are served on `health_port` when set.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from ledger.errors import LedgerError
from ledger.runtime.backoff import Backoff
from ledger.runtime.health import HealthServer
from ledger.runtime.metrics import ProcessMetrics
from ledger.runtime.outages import UNEXPECTED, Dependencies, OutageLog, dependency_of

GAVE_UP_EXIT_CODE = 3


class GaveUp(LedgerError):
    """A dependency stayed unreachable longer than the give-up limit; the process exits to be restarted."""

    code = "dependency_lost"
    exit_code = GAVE_UP_EXIT_CODE


class Worker(Protocol):
    """What a long-running process plugs into the supervisor."""

    idle_pause: float
    """Seconds to wait after a step that found nothing to do (0 when `step` waits itself, as a poll does)."""

    def step(self) -> int:
        """One unit of work, done completely or not at all; how many messages or events it handled (0: none)."""
        ...

    def reset(self, dependency: str) -> None:
        """After a failed step: drop what `dependency`'s failure broke and rewind to the last committed position,
        so the next step starts from there. Reconnects lazily (in the next step); raising rebuilds the worker."""
        ...

    def report(self, metrics: ProcessMetrics) -> None:
        """After a successful step: set the metrics only the worker knows (lag, dead letters by reason)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RunPolicy:
    give_up_seconds: float = 300.0
    backoff_first_seconds: float = 0.25
    backoff_cap_seconds: float = 5.0
    outage_log_seconds: float = 30.0
    stop_timeout_seconds: float = 30.0
    busy_seconds: float = 5.0  # a step running longer (waiting on a dependency) makes the process not ready
    health_host: str = "0.0.0.0"
    health_port: int | None = None


def _exit_now(code: int) -> None:  # the watchdog's way out of a hung call; replaced in tests
    os._exit(code)


class Supervisor:
    def __init__(self, process: str, open_worker: Callable[[], Worker], dependencies: Dependencies,
                 policy: RunPolicy | None = None, stop: threading.Event | None = None,
                 metrics: ProcessMetrics | None = None, on_step: Callable[[int], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, exit_now: Callable[[int], None] = _exit_now) -> None:
        self.process = process
        self.open_worker = open_worker
        self.dependencies = dependencies
        self.policy = policy or RunPolicy()
        self.stop = stop or threading.Event()
        self.metrics = metrics or ProcessMetrics(process)
        self.on_step = on_step
        self.clock = clock
        self.exit_now = exit_now
        self.log = structlog.get_logger(f"ledger.{process}").bind(process=process)
        self.outages = OutageLog(self.log, self.policy.outage_log_seconds, clock)
        self.backoff = Backoff(self.policy.backoff_first_seconds, self.policy.backoff_cap_seconds)
        self.worker: Worker | None = None
        self.ready = False
        self.step_started: float | None = None
        self.health: HealthServer | None = None
        self._finished = threading.Event()

    # ------------------------------------------------------------ the loop

    def run(self) -> Worker | None:
        """Run until `stop`; returns the (closed) worker, or raises GaveUp."""
        if self.policy.health_port is not None:
            self.health = HealthServer(self.policy.health_host, self.policy.health_port, self.live, self.readiness,
                                       self.metrics.registry).start()
            self.log.info("health endpoints listening", port=self.health.port)
        threading.Thread(target=self._watch, name=f"ledger-{self.process}-watchdog", daemon=True).start()
        try:
            while not self.stop.is_set():
                self._turn()
            return self.worker
        finally:
            self._finished.set()
            self.ready = False
            self.metrics.ready.set(0)
            self._close_worker()
            if self.health is not None:
                self.health.close()

    def _turn(self) -> None:
        if self.worker is None:
            try:
                self.worker = self.open_worker()
            except Exception as error:
                dependency = dependency_of(error, self.dependencies)
                if dependency is None:
                    raise  # a setting or a bug, not an outage: retrying would not help
                self._failed(dependency, error)
                return
        worker = self.worker
        self.step_started = started = self.clock()
        try:
            count = worker.step()
        except Exception as error:
            dependency = dependency_of(error, self.dependencies) or UNEXPECTED
            self._reset(worker, dependency)
            self._failed(dependency, error)
            return
        finally:
            self.step_started = None
        self._succeeded(count, self.clock() - started)
        try:
            worker.report(self.metrics)
        except Exception as error:  # noqa: BLE001 - a metric not read this time (its dependency just went away)
            self.log.debug("metrics not reported", error=repr(error))
        if self.on_step is not None:
            self.on_step(count)
        if not count and worker.idle_pause:
            self.stop.wait(worker.idle_pause)

    def _reset(self, worker: Worker, dependency: str) -> None:
        try:
            worker.reset(dependency)
        except Exception as error:  # noqa: BLE001 - the worker could not rewind: build a new one
            self.log.warning("reset failed; rebuilding the worker", error=repr(error))
            self._close_worker()

    def _failed(self, dependency: str, error: BaseException) -> None:
        self.ready = False
        self.metrics.ready.set(0)
        self.metrics.failed(dependency)
        wait = self.backoff.next_wait()
        self.outages.failed(dependency, error, wait)
        first = self.outages.longest()
        down = self.clock() - first.since if first else 0.0
        if down >= self.policy.give_up_seconds:
            message = (f"giving up: {dependency} unavailable for {down:.0f} s (give-up limit "
                       f"{self.policy.give_up_seconds:g} s); last error: {first.last_error if first else error}")
            self.log.error(message, dependency=dependency, down_seconds=round(down, 1))
            raise GaveUp(message, dependency=dependency) from error
        self.stop.wait(wait)

    def _succeeded(self, count: int, seconds: float) -> None:
        for dependency, _ in self.outages.recovered():
            self.metrics.reconnected(dependency)
        for dependency in self.dependencies:
            self.metrics.dependency_up(dependency)
        self.backoff.reset()
        self.ready = True
        self.metrics.ready.set(1)
        self.metrics.last_success.set_to_current_time()
        self.metrics.batch_seconds.observe(seconds)
        if count:
            self.metrics.processed.inc(count)

    def _close_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            try:
                worker.close()
            except Exception as error:  # noqa: BLE001 - a broken connection may fail to close
                self.log.warning("close failed", error=repr(error))

    # ------------------------------------------------------------ watchdog and probes

    def _watch(self) -> None:
        """Say when a step waits long (a dependency slow or gone: once a step), end the process when one hangs past the
        give-up limit, and when a stop is not honoured in time."""
        stop_seen: float | None = None
        said: float | None = None  # the step whose long wait was logged
        while not self._finished.wait(1.0):
            now = self.clock()
            started = self.step_started
            if started is not None and now - started > self.policy.busy_seconds and said != started:
                said = started
                self.log.warning(f"one step has waited {now - started:.0f} s; a dependency is slow or gone",
                                 step_seconds=round(now - started, 1))
            if started is not None and now - started > self.policy.give_up_seconds:
                self.log.error(f"giving up: one step has run for {now - started:.0f} s (give-up limit "
                               f"{self.policy.give_up_seconds:g} s); exiting", step_seconds=round(now - started))
                self.exit_now(GAVE_UP_EXIT_CODE)
                return
            if self.stop.is_set():
                stop_seen = now if stop_seen is None else stop_seen
                if now - stop_seen > self.policy.stop_timeout_seconds:
                    self.log.warning(f"stop requested {now - stop_seen:.0f} s ago and the batch in flight is not "
                                     "done; abandoning it (nothing of it was committed) and exiting")
                    self.exit_now(0)
                    return

    def live(self) -> tuple[bool, str]:
        started = self.step_started
        if started is not None and self.clock() - started > self.policy.give_up_seconds:
            return False, f"one step has run for {self.clock() - started:.0f} s"
        return True, "alive"

    def readiness(self) -> tuple[bool, str]:
        started = self.step_started
        if started is not None and self.clock() - started > self.policy.busy_seconds:
            return False, f"one step has waited {self.clock() - started:.0f} s (a dependency is slow or gone)"
        if self.ready:
            return True, "ready"
        outage = self.outages.longest()
        if outage is not None:
            return False, f"{outage.dependency} unavailable for {self.clock() - outage.since:.0f} s: {outage.last_error}"
        return False, "starting"


def supervise(process: str, open_worker: Callable[[], Worker], dependencies: Dependencies, stop: threading.Event,
              policy: RunPolicy | None = None, **options: Any) -> Worker | None:
    """Build a Supervisor and run it (see the module's docstring)."""
    return Supervisor(process, open_worker, dependencies, policy, stop, **options).run()
