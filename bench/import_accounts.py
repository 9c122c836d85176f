"""Onboarding benchmark: billing accounts imported from a generated file through the code path of `ledger import
accounts`, beside the same run's raw insert ceiling and, for scale, accounts opened one command at a time.

    python -m bench.import_accounts [--store postgres|sqlite] [--accounts 50000] [--batch 1000] [--format jsonl|csv]
                                    [--single 2000] [--profile [--profile-top 15]] [--json]

On PostgreSQL (a fresh schema of ``$LEDGER_BENCH_POSTGRES_URL``, or a throw-away server: bench/core.py's targets)
or SQLite (a temp file) it measures:

1. import: --accounts accounts written to a JSON lines (or CSV) file, read back by
   ``ledger.commands.bulk_import.import_lines`` (what the CLI runs: parse each line, validate it as an
   OpenBillingAccount, one OpenBillingAccounts batch command per --batch lines, each in one transaction);
   accounts/s over the whole import (reading the file included);
2. re-run: the same file again; every account unchanged, and the event count must not move;
3. one at a time: --single other accounts opened by one OpenBillingAccount command each (the way before);
4. ceiling, same run, same store: the raw driver inserting as many rows as accounts were imported, in the same
   transaction size, into a table shaped like the event store, each row the state of a real account-opened event
   (bench/core.py's raw insert: the faster of executemany and one binary INSERT ... SELECT FROM unnest() a batch).

The target (>= 5,000 accounts/s on PostgreSQL) is shown beside the figure, never asserted. The database server
shares the machine's CPUs: the load average at start and end is printed, and figures from a busy machine are low.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.core import (
    SPEC,
    TIME_ZONE,
    Clock,
    Profiles,
    Target,
    chunks,
    loadavg,
    machine,
    output,
    postgres_target,
    say,
    sqlite_target,
)
from ledger.bootstrap import bootstrap, tune_gc
from ledger.commands import DefineCycleSpecification, OpenBillingAccount
from ledger.commands.bulk_import import KINDS, import_lines
from ledger.service import Ledger

TARGET = 5_000  # accounts/s on PostgreSQL
OPENED_AT = datetime(2026, 10, 1, 8, tzinfo=UTC)


@dataclass
class Params:
    store: str = "postgres"
    accounts: int = 50_000
    batch: int = 1_000
    format: str = "jsonl"
    single: int = 2_000
    profile: bool = False


def record(i: int) -> dict[str, Any]:
    """One line of the file: the documented account columns (what an onboarding export would hold)."""
    ref = f"ONB-{i:07d}"
    return {"id": ref, "customer_id": f"CUST-{ref}", "currency": "EUR", "cycle_spec": SPEC, "time_zone": TIME_ZONE,
            "name": f"Onboarded customer {ref}", "payment_method": f"directDebit:MANDATE-{ref}"}


def write_file(path: Path, p: Params) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        if p.format == "csv":
            writer = csv.DictWriter(out, list(record(0)), lineterminator="\n")
            writer.writeheader()
            writer.writerows(record(i) for i in range(p.accounts))
        else:
            out.writelines(json.dumps(record(i)) + "\n" for i in range(p.accounts))


def run_import(ledger: Ledger, path: Path, p: Params) -> dict[str, Any]:
    started = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as stream:
        report = import_lines(KINDS["accounts"], ledger.execute, stream, p.format, p.batch)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "per_s": p.accounts / seconds, **report.to_dict(), "rejected": report.rejected[:3]}


def run_store(target: Target, p: Params, profiles: Profiles, workdir: Path) -> dict[str, Any]:
    r: dict[str, Any] = {"store": target.name, "info": target.info()}
    path = workdir / f"accounts.{p.format}"
    write_file(path, p)
    r["file_bytes"] = path.stat().st_size
    clock = Clock(OPENED_AT)
    ledger = bootstrap(target.settings(), clock=clock)
    ledger.execute(DefineCycleSpecification.parse({"name": SPEC}))

    say(f"{target.name}: importing {p.accounts:,} accounts from {path.name} ({r['file_bytes']:,} bytes), "
        f"batch {p.batch:,}")
    gc.collect()
    with profiles.section(f"{target.name}: import accounts"):
        r["import"] = run_import(ledger, path, p)
    if r["import"]["applied"] != p.accounts:
        raise RuntimeError(f"imported {r['import']['applied']} of {p.accounts}: {r['import']['rejected']}")
    say(f"{target.name}: import {r['import']['per_s']:,.0f} accounts/s")

    events = target.count(target.events_table)
    r["rerun"] = run_import(ledger, path, p)
    r["rerun"]["events_added"] = target.count(target.events_table) - events
    if r["rerun"]["unchanged"] != p.accounts or r["rerun"]["events_added"]:
        raise RuntimeError(f"the re-run changed something: {r['rerun']}")
    say(f"{target.name}: re-run {r['rerun']['per_s']:,.0f} accounts/s, all unchanged, no event added")

    if p.single:
        started = time.perf_counter()
        for i in range(p.accounts, p.accounts + p.single):
            data = KINDS["accounts"].to_input(record(i))
            ledger.execute(OpenBillingAccount.parse(data))
        seconds = time.perf_counter() - started
        r["single"] = {"accounts": p.single, "seconds": seconds, "per_s": p.single / seconds}
        say(f"{target.name}: one command per account {r['single']['per_s']:,.0f} accounts/s")
    ledger.close()

    topic, state, mean = target.sample_state("%BillingAccount.Opened")
    rows = [(uuid.uuid4(), 1, topic, state) for _ in range(p.accounts)]
    say(f"{target.name}: raw insert ceiling, {len(rows):,} rows of {len(state)} bytes state")
    raw_seconds = target.raw_insert(list(chunks(rows, p.batch)))
    methods = getattr(target, "insert_methods", {"executemany": raw_seconds})
    r["ceiling"] = {"rows": len(rows), "seconds": raw_seconds, "rows_per_s": len(rows) / raw_seconds,
                    "rows_per_s_by_method": {k: len(rows) / v for k, v in methods.items()},
                    "state_bytes": len(state), "mean_opened_state_bytes": mean}
    r["ratio"] = r["import"]["per_s"] / r["ceiling"]["rows_per_s"]
    say(f"{target.name}: raw insert {r['ceiling']['rows_per_s']:,.0f} rows/s; import at {r['ratio']:.0%} of it")
    return r


def print_table(doc: dict[str, Any]) -> None:
    m, p = doc["machine"], doc["params"]
    print(f"machine: nproc={m['nproc']}  cpu={m['cpu'] or '?'}  python={m['python']}  "
          f"loadavg start={m.get('loadavg_at_start')} end={m.get('loadavg_at_end')}")
    print(f"params:  accounts={p['accounts']:,}  batch={p['batch']:,}  format={p['format']}  single={p['single']:,}"
          + ("  [cProfile ON: figures inflated]" if p["profile"] else ""))
    for r in doc["stores"]:
        print(f"{r['store']}: " + "  ".join(f"{k}={v}" for k, v in r["info"].items()))
        i, c = r["import"], r["ceiling"]
        target = ""
        if r["store"] == "postgres":
            target = f"  target >= {TARGET:,}/s: {'met' if i['per_s'] >= TARGET else 'MISSED'}"
        print(f"  import          {i['per_s']:>10,.0f} accounts/s  ({p['accounts']:,} in {i['seconds']:.1f}s, "
              f"{i['batches']} batches){target}")
        print(f"  raw insert      {c['rows_per_s']:>10,.0f} rows/s      (same run, {c['state_bytes']} B state; "
              + ", ".join(f"{k} {v:,.0f}" for k, v in c["rows_per_s_by_method"].items()) + ")")
        print(f"  ratio           {r['ratio']:>10.0%}")
        print(f"  re-run          {r['rerun']['per_s']:>10,.0f} accounts/s  (all {r['rerun']['unchanged']:,} "
              f"unchanged, {r['rerun']['events_added']} events added)")
        if "single" in r:
            print(f"  one at a time   {r['single']['per_s']:>10,.0f} accounts/s  ({r['single']['accounts']:,} "
                  f"OpenBillingAccount commands)")


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, Params]:
    ap = argparse.ArgumentParser(prog="python -m bench.import_accounts", description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", choices=("sqlite", "postgres"), default="postgres")
    ap.add_argument("--accounts", type=int, default=50_000)
    ap.add_argument("--batch", type=int, default=1_000, help="lines per transaction (the CLI's --batch)")
    ap.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    ap.add_argument("--single", type=int, default=2_000, help="accounts opened one command each, for scale (0: none)")
    ap.add_argument("--profile", action="store_true", help="cProfile the import; top entries to stderr")
    ap.add_argument("--profile-top", type=int, default=15)
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = ap.parse_args(argv)
    if args.accounts < 1 or args.batch < 1 or args.single < 0:
        ap.error("--accounts and --batch must be >= 1, --single >= 0")
    return args, Params(store=args.store, accounts=args.accounts, batch=args.batch, format=args.format,
                        single=args.single, profile=args.profile)


def main(argv: list[str] | None = None) -> int:
    args, p = parse_args(argv)
    tune_gc()  # what the CLI entry does
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    profiles = Profiles(enabled=p.profile, top=args.profile_top)
    doc: dict[str, Any] = {"machine": machine(), "params": asdict(p), "stores": []}
    make: Callable[[], contextlib.AbstractContextManager[Target]] = postgres_target if p.store == "postgres" \
        else sqlite_target
    with tempfile.TemporaryDirectory(prefix="ledger-onboarding-") as workdir, make() as target:
        doc["stores"].append(run_store(target, p, profiles, Path(workdir)))
    doc["machine"]["loadavg_at_end"] = loadavg()
    doc["profiles"] = profiles.reports
    for name, report in profiles.reports.items():
        print(f"\n===== cProfile: {name} (top {args.profile_top}) =====\n{report}", file=sys.stderr)
    return output(doc, args.json, print_table)


if __name__ == "__main__":
    sys.exit(main())
