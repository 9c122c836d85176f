"""Benchmark of the auditors' as-of state: one account of about 10,000 events, its state at a moment in the middle
of its history, with the raw select of the same rows measured in the same run.

    python -m bench.as_of [--store postgres|sqlite] [--months 10] [--charges-per-month 998] [--loads 9] [--json]

The account (Paris, EUR) gets --charges-per-month rated charges a month, its month's bill (a cycle run on the 1st)
and a payment of it on the 5th, for --months months: 10 x (998 + 2) + 1 = 10,001 events with the defaults. The
moment is the middle of the 6th month. Measured, median of --loads, each on a fresh Ledger with no cache:

- `account_as_of` on the recorded and on the effective basis through its fast path: cold (the account has no book
  checkpoint: the query projects every event and writes one, ledger/queries/book_loading.py) and warm (it reads
  the checkpoint and the events after it: none), beside the from-events path (`from_events_for`: what the query
  did before checkpoints; the store does not read snapshots: the as-of state is built from events alone);
- the same query in the worst case the follower (`ledger follow-checkpoints`) leaves in production: the checkpoint
  CHECKPOINT_AFTER - 1 events behind the head, so the query projects 499 events past it (and writes none); and the
  follower's own catch-up over the whole store (it writes the account's checkpoint: the cold cost, paid off the
  query's path);
- the read of the checkpoint row alone (its select, the bytes not decoded);
- the ceiling: the raw select (binary rows, no decoding) of every row the query reads: the account's events and
  those of its bills, payments and cycles, one query per aggregate as the store does;
- for reference, the current state's replay from events (`load_account`, no snapshot).

Each measure also gives this process's CPU time (the query's own work, without PostgreSQL's or the wait for a core
on a shared machine). Target: under 100 ms on PostgreSQL (shown, never asserted). Progress on stderr; the table
(or --json) on stdout.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog

from bench.core import UTC, Clock, Target, loadavg, machine, ms_summary, output, postgres_target, say, sqlite_target
from ledger.aggregates import ids
from ledger.bootstrap import book_follower, bootstrap, tune_gc
from ledger.commands import DefineCycleSpecification, OpenBillingAccount, PostCharges, RecordPayment, TriggerBillingCycle
from ledger.commands.lookups import load_account
from ledger.queries import book_checkpoint, book_codec, book_loading
from ledger.queries.as_of import Figures, account_as_of, from_events_for, load, state, uncollected

ACCOUNT, SPEC = "AUDIT-1", "audit-monthly"
TARGET_MS = 100


def charge(month: datetime, n: int, j: int) -> dict[str, Any]:
    """The j-th of n charges of a month: 0.0001 .. 50.0000 EUR plus 20% VAT, spread over its first 28 days."""
    excluded = Decimal((j * 7919) % 500_000 + 1).scaleb(-4)
    return {"charge_id": f"{month:%Y-%m}-{j:05d}", "account_id": ACCOUNT, "currency": "EUR",
            "tax_excluded_amount": str(excluded),
            "applied_tax": [{"tax_category": "VAT", "tax_rate": "20", "tax_amount": str(excluded * Decimal("0.2"))}],
            "date": (month + timedelta(seconds=(j * 2_419_200) // n)).isoformat(), "description": "usage"}


def build(target: Target, months: int, per_month: int) -> datetime:
    """The account's history on `target`, snapshotted every 200 events as by default; returns its middle moment."""
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    ledger = bootstrap(target.settings(snapshot_interval=200), clock=clock)
    ledger.execute(DefineCycleSpecification.parse({"name": SPEC, "payment_due_date_offset": 14}))
    ledger.execute(OpenBillingAccount.parse({"account_id": ACCOUNT, "customer_id": "C", "currency": "EUR",
                                             "cycle_specification": SPEC, "time_zone": "Europe/Paris"}))
    middle = clock.now
    for m in range(months):
        start = datetime(2026 + m // 12, m % 12 + 1, 1, tzinfo=UTC)
        following = datetime(2026 + (m + 1) // 12, (m + 1) % 12 + 1, 1, tzinfo=UTC)
        clock.now = following - timedelta(hours=12)  # the month's usage is rated before it ends
        charges = [charge(start, per_month, j) for j in range(per_month)]
        for k in range(0, per_month, 2_000):
            ledger.execute(PostCharges.parse({"charges": charges[k : k + 2_000]}))
        clock.now = following + timedelta(hours=2)
        ledger.execute(TriggerBillingCycle.parse({"specification": SPEC, "period_start": start.date().isoformat(),
                                                  "trigger_type": "scheduler", "triggered_by": "bench"}))
        due = load_account(ledger.store, ACCOUNT).receivable
        clock.now = following + timedelta(days=4)
        ledger.execute(RecordPayment.parse({"account_id": ACCOUNT, "external_reference": f"PAY-{m}", "amount": str(due),
                                            "currency": "EUR", "method": "directDebit", "payer_ref": "C",
                                            "date": clock.now.isoformat()}))
        if m == months // 2:
            middle = start + timedelta(days=15)
    ledger.close()
    return middle


def timed(run: Callable[[], Any], loads: int, cpu: list[float] | None = None,
          before: Callable[[], Any] | None = None) -> list[float]:
    """Wall-clock ms of each of `loads` runs (`before` run first each time, not timed); this process's CPU ms of each
    appended to `cpu` when given (on a shared machine the wall clock also counts waiting for a core; the CPU time
    counts only the query's own work, not PostgreSQL's)."""
    samples = []
    for _ in range(loads):
        if before is not None:
            before()
        started, spent = time.perf_counter(), time.process_time()
        run()
        samples.append((time.perf_counter() - started) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - spent) * 1000)
    return samples


def summary(run: Callable[[], Any], loads: int, before: Callable[[], Any] | None = None) -> dict[str, Any]:
    cpu: list[float] = []
    found = ms_summary(timed(run, loads, cpu, before))
    found["cpu_median_ms"], found["cpu_min_ms"] = statistics.median(cpu), min(cpu)
    return found


@uncollected()
def from_events_as_of(store: Any, middle: datetime, basis: str) -> Any:
    """The as-of state the way `account_as_of` made it before book checkpoints (events alone, GC paused alike)."""
    loaded = from_events_for(store, ACCOUNT, middle, basis)
    return state(loaded, Figures(loaded.book, middle, basis))


def behind_by(store: Any, checkpoints: Any, account_id: UUID) -> None:
    """The worst case the follower leaves: the account's checkpoint CHECKPOINT_AFTER - 1 events behind its head."""
    checkpoints.drop(account_id)
    book_checkpoint.write(store, ACCOUNT, store.version(account_id) - book_loading.CHECKPOINT_AFTER + 1)


def measure(target: Target, middle: datetime, loads: int) -> dict[str, Any]:
    """The as-of state on both bases: from events, and through the fast path cold and warm (store without snapshots)."""
    ledger = bootstrap(target.settings(snapshot_interval=0, cache_size=0))
    store, account_id = ledger.store, ids.account_id(ACCOUNT)
    checkpoints = store.book_checkpoints
    assert checkpoints is not None
    try:
        found: dict[str, Any] = {}
        for basis in ("recorded", "effective"):
            found[f"from_events_{basis}"] = summary(lambda b=basis: from_events_as_of(store, middle, b), loads)
            found[f"cold_{basis}"] = summary(lambda b=basis: account_as_of(store, ledger.now, ACCOUNT, middle, b),
                                             loads, before=lambda: checkpoints.drop(account_id))
            found[f"warm_{basis}"] = summary(lambda b=basis: account_as_of(store, ledger.now, ACCOUNT, middle, b), loads)
            found[f"kept_{basis}"] = summary(lambda b=basis: account_as_of(store, ledger.now, ACCOUNT, middle, b),
                                             loads, before=lambda: behind_by(store, checkpoints, account_id))
            fast = account_as_of(store, ledger.now, ACCOUNT, middle, basis)
            assert fast.model_dump_json() == from_events_as_of(store, middle, basis).model_dump_json(), basis
        checkpoints.drop(account_id)
        follower = book_follower(ledger)
        found["follower_catch_up"] = summary(follower.catch_up, 1)  # from notification 0: writes the checkpoint
        follower.close()
        found["checkpoint_read"] = summary(lambda: checkpoints.latest(account_id, book_codec.CODE), loads)
        stored = checkpoints.latest(account_id, book_codec.CODE)
        found["checkpoint_bytes"] = len(stored[1]) if stored else 0
        state_then = account_as_of(store, ledger.now, ACCOUNT, middle, "effective")
        found["state"] = {"bills": len(state_then.bills), "payments": len(state_then.payments),
                          "unbilled_entries": len(state_then.unbilled_entries), "balance": str(state_then.balance)}
    finally:
        ledger.close()
    return found


def run_store(target: Target, p: argparse.Namespace) -> dict[str, Any]:
    r: dict[str, Any] = {"store": target.name, "info": target.info()}
    say(f"{target.name}: building the account ({p.months} months x {p.charges_per_month:,} charges)")
    middle = build(target, p.months, p.charges_per_month)
    ledger = bootstrap(target.settings(snapshot_interval=0, cache_size=0))
    loaded = load(ledger.store, ACCOUNT)
    bills = [UUID(b) for b in loaded.bills]
    whole = [ids.account_id(ACCOUNT), *(UUID(k) for kind in (loaded.payments, loaded.cycles) for k in kind)]
    aggregates = whole + bills
    r["events"] = {"account": len(list(ledger.store.history(whole[0]))), "aggregates": len(aggregates),
                   "all_read": sum(len(list(ledger.store.history(a))) for a in whole) + sum(map(len, loaded.bills.values()))}
    r["replay_ms"] = summary(lambda: load_account(ledger.store, ACCOUNT), p.loads)
    ledger.close()
    r["middle"] = middle.isoformat()
    r["snapshots_stored"] = target.count(target.snapshots_table)
    say(f"{target.name}: as-of at {middle:%Y-%m-%d %H:%M}Z, {r['events']['all_read']:,} rows of "
        f"{len(aggregates)} aggregates ({r['snapshots_stored']} snapshots stored)")
    # the same rows, one query per aggregate (a bill's from version 2: its creation event is not read)
    r["raw_select_ms"] = ms_summary([(target.raw_read(target.events_table, whole)[0]
                                      + target.raw_read(target.events_table, bills, gt=1)[0]) * 1000 for _ in range(p.loads)])
    r["as_of"] = measure(target, middle, p.loads)
    return r


def print_table(doc: dict[str, Any]) -> None:
    m = doc["machine"]
    print(f"machine: nproc={m['nproc']}  cpu={m['cpu'] or '?'}  python={m['python']}  "
          f"loadavg start={m.get('loadavg_at_start')} end={m.get('loadavg_at_end')}")
    for r in doc["stores"]:
        e = r["events"]
        print(f"\n{r['store']}: account of {e['account']:,} events; the query reads {e['all_read']:,} rows of "
              f"{e['aggregates']} aggregates; moment {r['middle']}; state then: {r['as_of']['state']}")
        a = r["as_of"]
        raw, replay = r["raw_select_ms"]["median_ms"], r["replay_ms"]["median_ms"]
        print(f"{'measure':<56} {'median':>10} {'min':>10} {'x raw select':>13} {'x replay':>9} {'x from events':>14} "
              f"{'cpu median':>11}  target")
        for basis in ("recorded", "effective"):
            old = a[f"from_events_{basis}"]["median_ms"]
            for label, key in [(f"as-of, {basis} basis, from events (before)", f"from_events_{basis}"),
                               (f"as-of, {basis} basis, cold (no checkpoint: writes one)", f"cold_{basis}"),
                               (f"as-of, {basis} basis, warm (checkpoint)", f"warm_{basis}"),
                               (f"as-of, {basis} basis, follower-kept worst case", f"kept_{basis}")]:
                s = a[key]
                verdict = "met" if s["median_ms"] < TARGET_MS else "MISSED"
                print(f"{label:<56} {s['median_ms']:>8.1f}ms {s['min_ms']:>8.1f}ms {s['median_ms'] / raw:>12.2f}x "
                      f"{s['median_ms'] / replay:>8.2f}x {s['median_ms'] / old:>13.2f}x {s['cpu_median_ms']:>9.1f}ms"
                      f"  < {TARGET_MS} ms: {verdict}")
        f = a["follower_catch_up"]
        print(f"{'follower catch-up from notification 0 (writes it)':<56} {f['median_ms']:>8.1f}ms")
        c = a["checkpoint_read"]
        label = f"checkpoint row read (select only, {a['checkpoint_bytes'] / 1e6:.2f} MB)"
        print(f"{label:<56} {c['median_ms']:>8.1f}ms {c['min_ms']:>8.1f}ms {c['median_ms'] / raw:>12.2f}x")
        print(f"{'raw select of the same rows (ceiling)':<56} {raw:>8.1f}ms {r['raw_select_ms']['min_ms']:>8.1f}ms")
        print(f"{'current state replayed from events (reference)':<56} {r['replay_ms']['median_ms']:>8.1f}ms "
              f"{r['replay_ms']['min_ms']:>8.1f}ms {'':>13} {'':>9} {r['replay_ms']['cpu_median_ms']:>9.1f}ms")
        print(f"({r['snapshots_stored']} snapshots stored, not read by these stores)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.as_of", description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", choices=("postgres", "sqlite"), default="postgres")
    ap.add_argument("--months", type=int, default=10)
    ap.add_argument("--charges-per-month", type=int, default=998)
    ap.add_argument("--loads", type=int, default=9)
    ap.add_argument("--json", action="store_true")
    p = ap.parse_args(argv)
    tune_gc()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    doc: dict[str, Any] = {"machine": machine(), "params": vars(p), "stores": []}
    with (postgres_target() if p.store == "postgres" else sqlite_target()) as target:
        doc["stores"].append(run_store(target, p))
    doc["machine"]["loadavg_at_end"] = loadavg()
    return output(doc, p.json, print_table)


if __name__ == "__main__":
    sys.exit(main())
