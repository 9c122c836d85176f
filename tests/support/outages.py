"""Outages for tests and the resilience bench: charges fed to the rating topic while things break, and a watch on
each stream process's progress (read from the databases, so it needs no cooperation from the processes) that says
how long a process took to resume after a moment."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import psycopg

from ledger.settings import Settings
from tests.support.pipeline import Processes, RatingSystem

PROCESSES = ("ingest", "relay", "project")
WITH_NOTIFY = (*PROCESSES, "notify")  # the hub's notifier too (needs only the database)


class ChargeFeeder:
    """A background thread sending `per_tick` charges every `tick` seconds to random accounts, until `stop()`;
    `pause()` while the broker is down (sends then would be lost to the producer, not to the ledger). Each
    charge is kept in the rating system's independent sum once the broker acknowledged it."""

    def __init__(self, rating: RatingSystem, accounts: Sequence[str], per_tick: int = 20, tick: float = 0.1,
                 prefix: str = "f", seed: int = 1) -> None:
        self.rating, self.accounts, self.per_tick, self.tick, self.prefix = rating, accounts, per_tick, tick, prefix
        self.rng = random.Random(seed)
        self.sent = 0
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._feed, name="charge-feeder", daemon=True)

    def start(self) -> ChargeFeeder:
        self._thread.start()
        return self

    def _feed(self) -> None:
        while not self._stop.is_set():
            if not self._running.wait(0.1):
                continue
            for _ in range(self.per_tick):
                self.rating.charge(f"{self.prefix}{self.sent}", self.rng.choice(self.accounts),
                                   Decimal(self.rng.randint(1, 99_999)) / 100)
                self.sent += 1
            self.rating.flush()
            self._stop.wait(self.tick)

    def pause(self) -> None:
        """Stop sending, once what was sent is acknowledged."""
        self._running.clear()
        time.sleep(self.tick + 0.2)
        self.rating.flush()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        self.rating.flush()


class ProgressWatch:
    """Samples, every `every` seconds, how far each process got: the ingestion by the event store's last
    notification id, the relay by its recorded position, the projection by the sum of its stored offsets."""

    def __init__(self, settings: Settings, every: float = 0.1) -> None:
        self.url = settings.postgres_url or ""
        self.queries = {
            "ingest": f"SELECT MAX(notification_id) FROM {settings.postgres_schema}.ledger_events",
            "relay": f"SELECT MAX(position) FROM {settings.postgres_schema}.ledger_follower_positions",
            "project": f"SELECT SUM(next_offset) FROM {settings.read_model_schema}.projection_offsets",
            "notify": f"SELECT SUM(delivered) FROM {settings.postgres_schema}.ledger_hub_listeners",
        }
        self.every = every
        self.samples: dict[str, list[tuple[float, int]]] = {name: [] for name in self.queries}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="progress-watch", daemon=True)

    def start(self) -> ProgressWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _watch(self) -> None:
        conn = None
        while not self._stop.wait(self.every):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
                now = time.monotonic()
                for name, query in self.queries.items():
                    try:
                        row = conn.execute(query).fetchone()
                    except psycopg.errors.UndefinedTable:
                        continue  # not created yet
                    if row and row[0] is not None:
                        with self._lock:
                            self.samples[name].append((now, int(row[0])))
            except psycopg.Error:
                conn = None  # the server is down: try again next time

    def value_at(self, name: str, moment: float) -> int:
        with self._lock:
            return max((v for t, v in self.samples[name] if t <= moment), default=0)

    def latest(self, name: str) -> int:
        return self.value_at(name, float("inf"))

    def resumed_after(self, name: str, moment: float, timeout: float = 60.0) -> float | None:
        """Seconds from `moment` until `name` went past where it was at that moment (None: not within `timeout`)."""
        before = self.value_at(name, moment)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                later = [t for t, v in self.samples[name] if t > moment and v > before]
            if later:
                return later[0] - moment
            time.sleep(self.every)
        return None


class Rig:
    """The three stream processes on `settings` with a charge feeder and a progress watch, and the outages a
    test or the resilience bench puts them through; each outage returns how long each process took to resume
    (seconds from the dependency's return, or from the restart of the killed process; None: not within 60 s)."""

    def __init__(self, settings: Settings, processes: Processes, feeder: ChargeFeeder, postgres: Any = None,
                 broker: Any = None, env: dict[str, str] | None = None) -> None:
        self.settings, self.procs, self.feeder = settings, processes, feeder
        self.postgres, self.broker, self.env = postgres, broker, env or {}
        self.watch = ProgressWatch(settings)

    def __enter__(self) -> Rig:
        self.watch.start()
        for name in PROCESSES:
            self.start(name)
        deadline = time.monotonic() + 90
        while not all(self.watch.latest(n) for n in PROCESSES):
            if time.monotonic() > deadline:
                raise AssertionError(f"the processes did not start working:\n{self.procs.log_tail()}")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        self.feeder.stop()
        self.watch.stop()
        self.procs.stop_all()

    def start(self, name: str) -> None:
        self.procs.start(name, env=self.env)

    def kill(self, name: str) -> float | None:
        """kill -9 `name` and start it again at once."""
        self.procs.kill(name)
        self.start(name)
        return self.watch.resumed_after(name, time.monotonic())

    def restart_postgres(self, seconds: float, mode: str = "fast") -> dict[str, float | None]:
        self.postgres.halt(mode)
        time.sleep(seconds)
        self.postgres.resume()
        return self._resumed(time.monotonic())

    def restart_broker(self, seconds: float, kill: bool = False) -> dict[str, float | None]:
        self.feeder.pause()
        self.broker.kill() if kill else self.broker.stop()
        time.sleep(seconds)
        self.broker.start()
        back = time.monotonic()
        self.feeder.resume()
        return self._resumed(back)

    def _resumed(self, back: float) -> dict[str, float | None]:
        return {name: self.watch.resumed_after(name, back) for name in PROCESSES}

    def exited(self) -> list[str]:
        return [name for name, p in self.procs.running.items() if p.poll() is not None]
