"""Recovery times of the stream processes: how long each takes to resume its work after an outage of PostgreSQL
(stopped cleanly, or crashed), of the broker (SIGTERM, SIGKILL), and after a kill -9 of the process itself, over
several runs of each, against its own throw-away PostgreSQL and Kafka (both restartable on the same port and data).

    python -m bench.resilience [--runs 3] [--outage 5] [--json]

A process has resumed when its progress (the event store's last notification for the ingestion, the relay's
recorded position, the projection's stored offsets) passes where it was when the dependency came back (or when the
killed process was started again), with charges flowing all along. Prints the median and the worst per process.
The ingestion runs with static group membership (LEDGER_INGEST_INSTANCE_ID) as in docker-compose, and once more
without it, to show the session timeout (LEDGER_INGEST_SESSION_TIMEOUT_MS) a killed member's partitions wait.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ledger.bootstrap import ensure_ledger_topics  # noqa: E402
from ledger.contracts.codec import SchemaRegistry  # noqa: E402
from ledger.logging_setup import configure_logging  # noqa: E402
from tests.support.kafka_server import KafkaServer  # noqa: E402
from tests.support.outages import PROCESSES, ChargeFeeder, Rig  # noqa: E402
from tests.support.pipeline import Processes, RatingSystem, ledger_with_accounts, stream_settings  # noqa: E402
from tests.support.postgres_server import PostgresServer, fresh_schema  # noqa: E402

ACCOUNTS = [f"R-{n}" for n in range(50)]


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def measure(a: argparse.Namespace, postgres: PostgresServer, broker: KafkaServer, static: bool) -> dict[str, list[Any]]:
    settings = stream_settings(postgres.url, fresh_schema(postgres.url), broker.bootstrap, reconnect_max_seconds=1.0,
                               log_level="WARNING")
    ensure_ledger_topics(settings)
    with ledger_with_accounts(settings, dict.fromkeys(ACCOUNTS, "EUR")):
        pass
    registry = SchemaRegistry.load()
    feeder = ChargeFeeder(RatingSystem(settings, registry), ACCOUNTS, per_tick=50, tick=0.1)
    env = {"LEDGER_INGEST_INSTANCE_ID": "ingest-bench"} if static else {}
    times: dict[str, list[Any]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as logs, Rig(settings, Processes(settings, Path(logs)), feeder.start(),
                                                    postgres, broker, env) as rig:
        if not static:
            for _ in range(a.runs):
                times["kill -9 (dynamic membership)/ingest"].append(rig.kill("ingest"))
            return times
        for run in range(a.runs):
            for name, seconds in rig.restart_postgres(a.outage, "fast").items():
                times[f"PostgreSQL restart/{name}"].append(seconds)
            for name, seconds in rig.restart_postgres(a.outage, "immediate").items():
                times[f"PostgreSQL crash/{name}"].append(seconds)
            for name, seconds in rig.restart_broker(a.outage).items():
                times[f"broker stop (SIGTERM)/{name}"].append(seconds)
            for name, seconds in rig.restart_broker(a.outage, kill=True).items():
                times[f"broker kill (SIGKILL)/{name}"].append(seconds)
            for name in PROCESSES:
                times[f"kill -9 of the process/{name}"].append(rig.kill(name))
            say(f"run {run + 1}: {json.dumps({k: v[-1] for k, v in times.items()})}")
        assert rig.exited() == [], rig.procs.log_tail()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--outage", type=float, default=5.0, help="seconds each dependency stays away")
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args(argv)
    configure_logging("WARNING", True)
    with PostgresServer(synchronous_commit="on") as postgres, KafkaServer() as broker:
        times = measure(a, postgres, broker, static=True)
        times.update(measure(a, postgres, broker, static=False))
    rows = []
    for key, values in times.items():
        outage, process = key.split("/")
        known = [v for v in values if v is not None]
        rows.append({"outage": outage, "process": process, "runs": len(values), "resumed": len(known),
                     "median_seconds": round(statistics.median(known), 2) if known else None,
                     "worst_seconds": round(max(known), 2) if known else None})
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"recovery after each outage ({a.outage:g} s away; resumed = progress past where it was at the return)")
    print(f"{'outage':32} {'process':8} {'resumed':>8} {'median s':>9} {'worst s':>8}")
    for r in rows:
        print(f"{r['outage']:32} {r['process']:8} {r['resumed']:>3}/{r['runs']:<4} {r['median_seconds']!s:>9} "
              f"{r['worst_seconds']!s:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
