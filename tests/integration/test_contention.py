"""Writers that make progress under contention, on PostgreSQL: eight `ledger charge import` processes on the same
ten accounts all succeed, and a billing cycle run over accounts receiving charges from `ledger ingest` at full
speed completes, billing every account once with no charge both billed and unbilled."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from datetime import datetime
from decimal import Decimal
from uuid import uuid4

import psycopg

from ledger.aggregates import ids
from ledger.aggregates.customer_bill import CustomerBill
from ledger.errors import BillNotFound
from ledger.eventstore.contention import buckets
from ledger.ports import NoProgress
from ledger.queries.verify import verify
from tests.support.ledger_factory import UTC, FakeClock, account_of, make_ledger, post_charge, postgres_settings, run_cycle
from tests.support.outages import ChargeFeeder, ProgressWatch
from tests.support.pipeline import Processes, RatingSystem, ledger_with_accounts, rating_moment, wait_for

SHARED = [f"H-{n}" for n in range(10)]


def test_eight_importers_on_ten_shared_accounts_all_succeed(postgres_schema, tmp_path):
    """8 processes x 600 charges in batches of 100 on the same 10 accounts of one PostgreSQL database: every import
    exits 0 having applied all its charges, and each balance is the independent sum."""
    settings = postgres_settings(*postgres_schema)
    rng, expected, files = random.Random(10), {ref: Decimal(0) for ref in SHARED}, []
    with ledger_with_accounts(settings, dict.fromkeys(SHARED, "EUR")):
        pass
    for w in range(8):
        lines = []
        for n in range(600):
            ref, amount = rng.choice(SHARED), Decimal(rng.randint(1, 99_999)) / 100
            expected[ref] += amount
            lines.append(json.dumps({"charge_id": f"w{w}-{n}", "account_id": ref, "currency": "EUR",
                                     "tax_excluded_amount": str(amount), "date": "2026-10-05T10:00:00Z"}))
        files.append(tmp_path / f"w{w}.jsonl")
        files[-1].write_text("\n".join(lines) + "\n")
    env = Processes(settings, tmp_path).env
    importers = [subprocess.Popen([sys.executable, "-m", "ledger", "--json", "--log-level", "ERROR", "charge", "import",
                                   str(f), "--batch-size", "100"], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for f in files]
    outcomes = [(p.wait(300), *p.communicate()) for p in importers]
    assert [(code, json.loads(out).get("applied")) for code, out, _ in outcomes] == [(0, 600)] * 8, \
        [err[-500:] for _, _, err in outcomes]
    checker = make_ledger(settings)
    try:
        assert {ref: account_of(checker, ref).balance for ref in SHARED} == expected
    finally:
        checker.close()


def test_a_cycle_run_during_full_speed_ingestion_bills_every_account_once(make_stream_settings, kafka_bootstrap,
                                                                        registry, tmp_path):
    """`ledger ingest` applies a stream of charges to 150 accounts while their cycle runs in batches of 25: the run
    completes with every account billed once, each charge is on the bill or unbilled (never both), balances are the
    independent sum, and verify is clean."""
    settings = make_stream_settings(kafka_bootstrap, batch_size=25)
    refs = [f"B-{n}" for n in range(150)]
    rating = RatingSystem(settings, registry)
    with ledger_with_accounts(settings, dict.fromkeys(refs, "EUR")) as ledger:
        for ref in refs:  # something to bill on every account before the stream starts
            post_charge(ledger, ref, f"{ref}-first", "5.00", "EUR", "2026-10-05T10:00:00Z")
    first = {ref: Decimal("5.00") for ref in refs}
    feeder = ChargeFeeder(rating, refs, per_tick=100, tick=0.02).start()
    procs = Processes(settings, tmp_path)
    watch = ProgressWatch(settings).start()
    procs.start("ingest")
    try:
        assert wait_for(lambda: watch.latest("ingest") > 2_000, timeout=60), procs.log_tail()
        biller = make_ledger(settings, FakeClock(datetime(2026, 11, 1, 6, tzinfo=UTC)))
        try:
            report = run_cycle(biller, "2026-10-01")
        finally:
            biller.close()
        assert (report.status, report.accounts_billed, report.accounts_skipped) == ("completed", len(refs), 0)
        assert watch.resumed_after("ingest", watch.samples["ingest"][-1][0], timeout=10) is not None  # still ingesting
        feeder.stop()
        expected = {ref: first[ref] + rating.expected_balances().get(ref, Decimal(0)) for ref in refs}
        checker = make_ledger(settings)

        def balances() -> dict[str, Decimal]:
            checker.store.forget()
            return {ref: account_of(checker, ref).balance for ref in refs}

        assert wait_for(lambda: balances() == expected, timeout=120, every=1), procs.log_tail()
        cycle_id = ids.cycle_id("monthly", datetime(2026, 10, 1).date())
        for ref in refs:
            account = account_of(checker, ref)
            bill = checker.store.load(CustomerBill, ids.on_cycle_bill_id(account.id, cycle_id), BillNotFound, "bill")
            billed = {item["entry_id"] for item in bill.items}
            assert billed and not billed & set(account.unbilled), ref
            assert bill.amount_due + account.unbilled_total == account.balance == expected[ref], ref
        assert verify(checker.store, NoProgress()).ok
        checker.close()
    finally:
        feeder.stop()
        watch.stop()
        procs.stop_all()


def _advisory_locks(settings, space: int) -> int:
    """Exclusive writer locks held now in the key space of one schema."""
    with psycopg.connect(settings.postgres_url, autocommit=True) as conn:
        return int(conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND mode = 'ExclusiveLock' "
                                "AND objsubid = 2 AND classid::bigint = %s", (space,)).fetchone()[0])


def test_a_save_waits_while_a_retrier_holds_the_accounts_it_writes(postgres_schema):
    """While one store holds an account's lock (retrying after a conflict), another store's save of that account
    waits, and goes through once the lock is released."""
    settings = postgres_settings(*postgres_schema)
    with ledger_with_accounts(settings, {"L-1": "EUR"}):
        pass
    writer, retrier = make_ledger(settings, FakeClock(rating_moment())), make_ledger(settings)
    try:
        saved = threading.Event()
        with retrier.store.writer_locks.holding() as take:
            take([ids.account_id("L-1")])
            thread = threading.Thread(target=lambda: (post_charge(writer, "L-1", "c1", "1.00", "EUR",
                                                                  "2026-10-05T10:00:00Z"), saved.set()))
            thread.start()
            assert not saved.wait(1.5)
        assert saved.wait(15)
        thread.join()
        assert account_of(writer, "L-1").balance == Decimal("1.00")
    finally:
        writer.close()
        retrier.close()


def test_a_retry_inside_a_retry_keeps_the_outer_locks(postgres_schema):
    """A batch retried inside its command's retry takes no locks of its own and, ending, leaves the command's held."""
    settings = postgres_settings(*postgres_schema)
    ledger = make_ledger(settings)
    try:
        locks, outer_ids = ledger.store.writer_locks, [uuid4() for _ in range(3)]
        with locks.holding() as outer:
            outer(outer_ids)
            with locks.holding() as inner:
                inner([uuid4()])
            assert locks.held == buckets(outer_ids) and _advisory_locks(settings, locks.space) == len(buckets(outer_ids))
        assert locks.held == [] and _advisory_locks(settings, locks.space) == 0
    finally:
        ledger.close()
