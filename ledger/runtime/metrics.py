"""The Prometheus metrics every long-running process exposes (prometheus-client), on a registry of its own.

The supervisor counts steps, their durations, failures, reconnects and whether each dependency is up; a worker
adds what only it knows (`Worker.report`): dead letters by reason, consumer lag per partition, relay lag."""

from __future__ import annotations

from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, CollectorRegistry, Counter, Gauge, Histogram

BATCH_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ProcessMetrics:
    def __init__(self, process: str) -> None:
        self.process = process
        self.registry = CollectorRegistry()
        for standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):  # CPU, memory, file descriptors, GC
            self.registry.register(standard)
        labels = ["process"]
        self.processed = Counter("ledger_messages_processed", "Messages (or events) a process handled",
                                 labels, registry=self.registry).labels(process)
        self.batch_seconds = Histogram("ledger_batch_duration_seconds", "Time of one unit of work (a batch or page)",
                                       labels, buckets=BATCH_SECONDS, registry=self.registry).labels(process)
        self._failures = Counter("ledger_step_failures", "Units of work that failed, by dependency",
                                 [*labels, "dependency"], registry=self.registry)
        self._reconnects = Counter("ledger_reconnects", "Recoveries after a dependency was unavailable",
                                   [*labels, "dependency"], registry=self.registry)
        self._up = Gauge("ledger_dependency_up", "1 while a dependency answers, 0 during an outage",
                         [*labels, "dependency"], registry=self.registry)
        self.last_success = Gauge("ledger_last_success_timestamp_seconds", "When a unit of work last succeeded",
                                  labels, registry=self.registry).labels(process)
        self.ready = Gauge("ledger_ready", "1 when the process is doing its work", labels,
                           registry=self.registry).labels(process)
        self._dead_letters = Counter("ledger_dead_letters", "Refused messages sent to the dead-letter topic, by error code",
                                     [*labels, "reason"], registry=self.registry)
        self._outcomes = Counter("ledger_charges", "Ingested charges by outcome (applied, duplicate, dead_lettered)",
                                 [*labels, "outcome"], registry=self.registry)
        self._lag = Gauge("ledger_consumer_lag", "Messages on a partition not yet processed",
                          [*labels, "topic", "partition"], registry=self.registry)
        self.relay_lag = Gauge("ledger_relay_lag_events", "Stored events the relay has not published yet",
                               labels, registry=self.registry).labels(process)

    def failed(self, dependency: str) -> None:
        self._failures.labels(self.process, dependency).inc()
        self._up.labels(self.process, dependency).set(0)

    def reconnected(self, dependency: str) -> None:
        self._reconnects.labels(self.process, dependency).inc()
        self._up.labels(self.process, dependency).set(1)

    def dependency_up(self, dependency: str) -> None:
        self._up.labels(self.process, dependency).set(1)

    def dead_lettered(self, reason: str, count: int = 1) -> None:
        self._dead_letters.labels(self.process, reason).inc(count)

    def charges(self, outcome: str, count: int) -> None:
        if count:
            self._outcomes.labels(self.process, outcome).inc(count)

    def lag(self, topic: str, partition: int, messages: int) -> None:
        self._lag.labels(self.process, topic, str(partition)).set(max(messages, 0))
