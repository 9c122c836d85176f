"""Benchmark of writers under contention: N `ledger charge import` processes posting to the same few accounts
on PostgreSQL, for each retry strategy (LEDGER_RETRY_STRATEGY: plain, backoff, locks), beside the same run
without contention (each process on accounts of its own).

    python -m bench.contention [--writers 8] [--charges 1500] [--accounts 10] [--batch 100]
                               [--strategies plain,backoff,locks] [--retries 10] [--json]

Reports, per strategy and layout: processes that exited 0, charges applied, whether every balance equals the
independent sum, and charges/s over the wall time from the moment the processes (started and connected first) are
released together to the end of the last one. Service: $LEDGER_TEST_POSTGRES_URL, else the test suite's throw-away server.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ledger.bootstrap import bootstrap  # noqa: E402
from ledger.commands import DefineCycleSpecification, OpenBillingAccount  # noqa: E402
from ledger.logging_setup import configure_logging  # noqa: E402
from ledger.settings import Settings  # noqa: E402
from tests.support.pipeline import process_env  # noqa: E402


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def fresh_settings(url: str, **overrides: Any) -> Settings:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return Settings(store="postgres", postgres_url=url, postgres_schema=schema, log_level="WARNING", **overrides)


def open_accounts(settings: Settings, refs: list[str]) -> None:
    ledger = bootstrap(settings)
    ledger.execute(DefineCycleSpecification.parse({"name": "monthly"}))
    for ref in refs:
        ledger.execute(OpenBillingAccount.parse({"account_id": ref, "customer_id": ref, "currency": "EUR",
                                                 "cycle_specification": "monthly"}))
    ledger.close()


def write_files(folder: Path, writers: int, charges: int, accounts_of: list[list[str]], seed: int) -> dict[str, Decimal]:
    rng = random.Random(seed)
    expected: dict[str, Decimal] = {}
    for w in range(writers):
        with open(folder / f"w{w}.jsonl", "w") as out:
            for n in range(charges):
                account = rng.choice(accounts_of[w])
                amount = Decimal(rng.randint(1, 99_999)) / 100
                expected[account] = expected.get(account, Decimal(0)) + amount
                out.write(json.dumps({"charge_id": f"w{w}-{n}", "account_id": account, "currency": "EUR",
                                      "tax_excluded_amount": str(amount), "date": "2026-10-05T10:00:00Z"}) + "\n")
    return expected


IMPORTER = """
import json, sys, time
from ledger.bootstrap import bootstrap
from ledger.commands.charge_import import import_charges
from ledger.errors import LedgerError
from ledger.logging_setup import configure_logging
configure_logging("ERROR", True)
ledger = bootstrap()
ledger.store.recorder.max_notification_id()  # connected and warm before the start
print("ready", flush=True)
sys.stdin.readline()  # every importer starts at once
started = time.perf_counter()
try:
    report = import_charges(ledger.execute, open(sys.argv[1]), int(sys.argv[2]))
    result = {"code": 0, "applied": report.applied, "error": ""}
except LedgerError as error:
    result = {"code": 2, "applied": 0, "error": error.code}
result["seconds"] = time.perf_counter() - started
print(json.dumps(result), flush=True)
"""


def run_importers(settings: Settings, files: list[Path], batch: int, cwd: Path) -> tuple[float, list[dict[str, Any]]]:
    """The `ledger charge import` code (import_charges through Ledger.execute) in one process per file, started and
    connected first, then released together; the wall time runs from the release to the last one's end."""
    env = process_env(settings) | {"PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", IMPORTER, str(f), str(batch)], env=env, cwd=cwd, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for f in files]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [json.loads(proc.communicate(timeout=600)[0]) for proc in procs]
    return time.perf_counter() - started, results


def balances(settings: Settings, refs: list[str]) -> dict[str, Decimal]:
    from ledger.aggregates import ids
    from ledger.aggregates.billing_account import BillingAccount
    from ledger.errors import AccountNotFound

    ledger = bootstrap(settings)
    try:
        return {ref: ledger.store.load(BillingAccount, ids.account_id(ref), AccountNotFound, "account").balance
                for ref in refs}
    finally:
        ledger.close()


def one_run(url: str, strategy: str, contended: bool, a: argparse.Namespace) -> dict[str, Any]:
    settings = fresh_settings(url, retry_strategy=strategy, retries=a.retries)
    if contended:
        refs = [f"S-{n}" for n in range(a.accounts)]
        accounts_of = [refs] * a.writers
    else:
        accounts_of = [[f"W{w}-{n}" for n in range(a.accounts)] for w in range(a.writers)]
        refs = [ref for own in accounts_of for ref in own]
    open_accounts(settings, refs)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        expected = write_files(folder, a.writers, a.charges, accounts_of, seed=7)
        wall, results = run_importers(settings, sorted(folder.glob("w*.jsonl")), a.batch, folder)
    got = balances(settings, refs)
    applied = sum(r["applied"] for r in results)
    row = {"strategy": strategy, "layout": "shared" if contended else "own accounts",
           "succeeded": sum(r["code"] == 0 for r in results), "writers": a.writers, "applied": applied,
           "balances_exact": got == {ref: expected.get(ref, Decimal(0)) for ref in refs},
           "wall_seconds": round(wall, 2), "charges_per_second": round(applied / wall),
           "errors": sorted({r["error"] for r in results if r["code"] != 0})}
    say(json.dumps(row))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--charges", type=int, default=1500, help="charges per writer")
    parser.add_argument("--accounts", type=int, default=10, help="accounts shared (or per writer, uncontended)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--strategies", default="plain,backoff,locks")
    parser.add_argument("--retries", type=int, default=10, help="LEDGER_RETRIES of the importers")
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args(argv)
    from tests.support.postgres_server import postgres_server

    configure_logging("WARNING", True)

    with postgres_server() as url:
        rows = [one_run(url, strategy, contended, a)
                for strategy in a.strategies.split(",") for contended in (True, False)]
    if a.json:
        print(json.dumps({"runs": rows}, indent=2))
    else:
        print(f"{a.writers} writers x {a.charges} charges, batches of {a.batch}, {a.retries} attempts; processes "
              "started before the clock")
        print(f"{'strategy':8} {'layout':13} {'ok':>5} {'applied':>8} {'exact':>6} {'wall s':>7} {'charges/s':>10}  errors")
        for r in rows:
            print(f"{r['strategy']:8} {r['layout']:13} {r['succeeded']:>2}/{r['writers']:<2} {r['applied']:>8} "
                  f"{str(r['balances_exact']):>6} {r['wall_seconds']:>7} {r['charges_per_second']:>10}  "
                  f"{'; '.join(r['errors'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
