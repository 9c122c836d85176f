"""The frame of the long-running processes (ledger/runtime): backoff, outage logging, the supervision loop's
retries, give-up, rebuilds, watchdog and stop timeout, with scripted workers and a hand-moved clock."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from ledger.runtime.backoff import Backoff
from ledger.runtime.metrics import ProcessMetrics
from ledger.runtime.outages import UNEXPECTED, OutageLog, dependency_of
from ledger.runtime.supervisor import GaveUp, RunPolicy, Supervisor

FAST = RunPolicy(give_up_seconds=60, backoff_first_seconds=0.0001, backoff_cap_seconds=0.0001)


class DatabaseDown(Exception):
    pass


class BrokerDown(Exception):
    pass


DEPENDENCIES = {"postgresql": (DatabaseDown,), "kafka": (BrokerDown,)}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ScriptedWorker:
    """Each step runs the next action of its script: an int is a count returned, an exception is raised; when the
    script ends, the supervisor is told to stop."""

    idle_pause = 0.0

    def __init__(self, script: list[object], stop: threading.Event, clock: Clock | None = None, tick: float = 0.0) -> None:
        self.script, self.stop, self.clock, self.tick = list(script), stop, clock, tick
        self.resets: list[str] = []
        self.closed = 0

    def step(self) -> int:
        if self.clock is not None:
            self.clock.now += self.tick
        action = self.script.pop(0)
        if not self.script:
            self.stop.set()
        if isinstance(action, BaseException):
            raise action
        return int(action)  # type: ignore[call-overload]

    def reset(self, dependency: str) -> None:
        self.resets.append(dependency)

    def report(self, metrics: ProcessMetrics) -> None:
        pass

    def close(self) -> None:
        self.closed += 1


def supervisor(open_worker: Callable[[], object], stop: threading.Event, policy: RunPolicy = FAST,
               **kw: object) -> Supervisor:
    return Supervisor("test", open_worker, DEPENDENCIES, policy, stop, **kw)  # type: ignore[arg-type]


@given(st.floats(0.001, 1.0), st.floats(1.0, 60.0), st.integers(0, 40))
def test_backoff_doubles_up_to_its_cap_with_jitter_of_at_most_half(first, cap, failures):
    """The n-th wait lies between half and all of min(cap, first * 2^n)."""
    backoff = Backoff(first, cap)
    waits = [backoff.next_wait() for _ in range(failures + 1)]
    ceiling = min(cap, first * 2 ** failures)
    assert ceiling / 2 <= waits[-1] <= ceiling


def test_backoff_starts_again_after_a_reset():
    """After a success the next wait is the first one again."""
    backoff = Backoff(0.25, 5.0)
    for _ in range(10):
        backoff.next_wait()
    backoff.reset()
    assert 0.125 <= backoff.next_wait() <= 0.25


def test_a_dependency_is_found_through_the_causes_of_an_error():
    """An error raised from a database error belongs to the database; an unknown one to none."""
    try:
        try:
            raise DatabaseDown("connection refused")
        except DatabaseDown as cause:
            raise RuntimeError("page failed") from cause
    except RuntimeError as error:
        assert dependency_of(error, DEPENDENCIES) == "postgresql"
    assert dependency_of(ValueError("bug"), DEPENDENCIES) is None


def test_an_outage_is_logged_when_it_starts_once_a_period_and_when_it_ends():
    """Failures every second for 95 s with a 30 s period: one start line, three 'still' lines, one end line."""
    clock = Clock()
    with capture_logs() as logs:
        import structlog

        outages = OutageLog(structlog.get_logger("t"), 30.0, clock)
        for second in range(96):
            clock.now = float(second)
            outages.failed("postgresql", DatabaseDown("refused"), retry_in=1.0)
        clock.now = 100.0
        ended = outages.recovered()
    assert [line["event"] for line in logs] == ["postgresql unavailable; retrying"] + \
        ["postgresql still unavailable"] * 3 + ["postgresql is back; resumed"]
    assert ended == [("postgresql", 100.0)] and logs[-1]["down_seconds"] == 100.0


def test_a_failed_step_is_reset_and_retried_until_it_succeeds():
    """Two database failures then work: the worker is reset for the database twice and the work is counted."""
    stop = threading.Event()
    worker = ScriptedWorker([DatabaseDown("down"), DatabaseDown("down"), 5, 0], stop)
    counted: list[int] = []
    sup = supervisor(lambda: worker, stop, on_step=counted.append)
    with capture_logs() as logs:
        sup.run()
    assert worker.resets == ["postgresql", "postgresql"] and counted == [5, 0] and worker.closed == 1
    assert [line["event"] for line in logs if "postgresql" in line["event"]] == [
        "postgresql unavailable; retrying", "postgresql is back; resumed"]
    assert sup.metrics.registry.get_sample_value("ledger_reconnects_total",
                                                 {"process": "test", "dependency": "postgresql"}) == 1.0


def test_an_unknown_failure_of_a_step_is_retried_too():
    """A step failing with an error no dependency explains is reset as 'unexpected' and retried."""
    stop = threading.Event()
    worker = ScriptedWorker([KeyError("odd"), 1], stop)
    with capture_logs():
        supervisor(lambda: worker, stop).run()
    assert worker.resets == [UNEXPECTED]


def test_the_process_gives_up_after_failing_for_its_give_up_limit():
    """Failing steps 1 s apart with a 10 s limit: GaveUp (exit code 3) naming the dependency, after a last error line."""
    stop, clock = threading.Event(), Clock()
    worker = ScriptedWorker([BrokerDown("no broker")] * 100, stop, clock, tick=1.0)
    sup = supervisor(lambda: worker, stop, RunPolicy(give_up_seconds=10, backoff_first_seconds=0.0001,
                                                     backoff_cap_seconds=0.0001), clock=clock)
    with capture_logs() as logs, pytest.raises(GaveUp) as raised:
        sup.run()
    assert raised.value.exit_code == 3 and "kafka unavailable for 10 s" in raised.value.message
    assert logs[-1]["log_level"] == "error" and logs[-1]["event"].startswith("giving up: kafka unavailable")
    assert len(worker.resets) == 11 and worker.closed == 1


def test_a_worker_that_cannot_be_built_for_a_setting_fails_at_once():
    """An error no dependency explains while building the worker (a bad setting) is raised, not retried."""
    calls: list[int] = []

    def open_worker() -> object:
        calls.append(1)
        raise ValueError("no such topic setting")

    with pytest.raises(ValueError):
        supervisor(open_worker, threading.Event()).run()
    assert calls == [1]


def test_a_worker_is_built_again_while_its_dependency_is_down():
    """Building fails twice on the database, then the worker is built and runs."""
    stop = threading.Event()
    attempts: list[int] = []
    worker = ScriptedWorker([3], stop)

    def open_worker() -> ScriptedWorker:
        attempts.append(1)
        if len(attempts) < 3:
            raise DatabaseDown("starting up")
        return worker

    with capture_logs():
        supervisor(open_worker, stop).run()
    assert len(attempts) == 3 and worker.script == []


def test_a_worker_whose_reset_fails_is_closed_and_built_again():
    """If rewinding fails, the worker is closed and a new one built."""
    stop = threading.Event()

    class Stubborn(ScriptedWorker):
        def reset(self, dependency: str) -> None:
            raise DatabaseDown("still down")

    first, second = Stubborn([DatabaseDown("down"), 0], stop), ScriptedWorker([1], stop)
    workers = [first, second]
    with capture_logs():
        supervisor(lambda: workers.pop(0), stop).run()
    assert first.closed == 1 and second.closed == 1 and second.script == []


def test_readiness_says_which_dependency_is_down_and_for_how_long():
    """Not ready (with the reason) during an outage, ready after the next success."""
    stop, clock = threading.Event(), Clock()
    seen: list[tuple[bool, str]] = []

    class Watching(ScriptedWorker):
        def step(self) -> int:
            clock.now += 2.0
            seen.append(sup.readiness())
            return super().step()

    worker = Watching([DatabaseDown("refused"), 1, 0], stop)
    sup = supervisor(lambda: worker, stop, clock=clock)
    with capture_logs():
        sup.run()
    assert seen[0] == (False, "starting")
    assert seen[1][0] is False and seen[1][1].startswith("postgresql unavailable for 2 s: DatabaseDown: refused")
    assert seen[2] == (True, "ready")


def test_the_watchdog_ends_a_process_whose_step_hangs():
    """A step that never returns is ended by the watchdog with exit code 3 once it passed the give-up limit."""
    stop, exited = threading.Event(), threading.Event()
    codes: list[int] = []

    class Hanging(ScriptedWorker):
        def step(self) -> int:
            exited.wait(10)
            stop.set()
            return 0

    def exit_now(code: int) -> None:
        codes.append(code)
        exited.set()

    with capture_logs() as logs:
        supervisor(lambda: Hanging([], stop), stop, RunPolicy(give_up_seconds=0.5), exit_now=exit_now).run()
    assert codes == [3] and any(line["event"].startswith("giving up: one step has run for") for line in logs)


def test_a_stop_not_honoured_within_the_stop_timeout_exits_0():
    """SIGTERM during a step that does not end: after the stop timeout the process exits 0, abandoning it."""
    stop, exited = threading.Event(), threading.Event()
    codes: list[int] = []

    class Stuck(ScriptedWorker):
        def step(self) -> int:
            stop.set()
            exited.wait(10)
            return 0

    def exit_now(code: int) -> None:
        codes.append(code)
        exited.set()

    with capture_logs():
        supervisor(lambda: Stuck([], stop), stop, RunPolicy(stop_timeout_seconds=0.5), exit_now=exit_now).run()
    assert codes == [0]


def test_a_worker_failing_to_report_its_metrics_goes_on_working():
    """A report that raises (its dependency just went away) is skipped; the loop goes on."""
    stop = threading.Event()

    class Unreported(ScriptedWorker):
        def report(self, metrics: ProcessMetrics) -> None:
            raise DatabaseDown("lag query failed")

    worker = Unreported([1, 2, 0], stop)
    counted: list[int] = []
    with capture_logs():
        supervisor(lambda: worker, stop, on_step=counted.append).run()
    assert counted == [1, 2, 0]
