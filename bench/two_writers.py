"""Two writers posting batches of charges to the same accounts, in-process: conflicts met and charges/s.

    python -m bench.two_writers [--accounts 500] [--batches 12] [--batch 1000]

Sets up accounts as bench.api does (PostgreSQL: $LEDGER_BENCH_POSTGRES_URL or a throw-away server), then two
Ledgers on two threads each post --batches batches of --batch charges to accounts drawn at random from all of
them (as `ledger serve --workers 2` does under bench.api's batch POST), twice: the ledger's way (after a conflict
the accounts are caught up, and a lately contended batch takes its accounts' locks before deciding) and the old
way (after a conflict the cache is dropped and every account reloaded; nothing taken before deciding). Prints
both, with the conflicts each writer met. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from datetime import timedelta
from typing import Any

from bench.api import OCTOBER, Clock, charge_input, set_up
from bench.core import postgres_target, say
from ledger.bootstrap import bootstrap, tune_gc
from ledger.commands import PostCharges
from ledger.logging_setup import configure_logging


def run(settings: Any, refs: list[str], batches: int, batch: int, old_way: bool, tag: str) -> dict[str, Any]:
    clock = Clock(OCTOBER.post_at + timedelta(days=20))
    ledgers = [bootstrap(settings, clock=clock) for _ in range(2)]
    conflicts, applied = [0, 0], [0, 0]
    try:
        for n, ledger in enumerate(ledgers):
            store: Any = ledger.store
            caught_up = store.after_conflict

            def counted(n: int = n, store: Any = store, caught_up: Any = caught_up) -> None:
                conflicts[n] += 1
                store.forget() if old_way else caught_up()

            store.after_conflict = counted
            warm = [{**charge_input(random.Random(n), OCTOBER, ref, 0), "charge_id": f"{tag}-warm{n}-{ref}",
                     "date": "2026-11-04T10:00:00Z"} for ref in refs]
            ledger.execute(PostCharges.parse({"charges": warm}))  # every account cached, as a busy worker has them

        def work(n: int) -> None:
            rng = random.Random(100 + n)
            for b in range(batches):
                items = [{**charge_input(rng, OCTOBER, refs[rng.randrange(len(refs))], j),
                          "charge_id": f"{tag}-{n}-{b}-{j}", "date": "2026-11-04T10:00:00Z"} for j in range(batch)]
                applied[n] += ledgers[n].execute(PostCharges.parse({"charges": items})).applied

        started = time.perf_counter()
        threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        for ledger in ledgers:
            ledger.close()
    return {"charges": sum(applied), "seconds": seconds, "charges_per_s": sum(applied) / seconds,
            "conflicts": conflicts, "batches": 2 * batches}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.two_writers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--batches", type=int, default=12, help="batches per writer")
    parser.add_argument("--batch", type=int, default=1000, help="charges per batch")
    a = parser.parse_args(argv)
    tune_gc()
    configure_logging("WARNING", True)
    with postgres_target() as target:
        settings = target.settings(read_model_schema=f"{target.schema}_read", log_level="WARNING")
        say(f"set-up: {a.accounts} accounts")
        refs = set_up(settings, a.accounts, 10)
        for name, old_way in (("caught up, locks taken when contended", False), ("old way: cache dropped", True)):
            r = run(settings, refs, a.batches, a.batch, old_way, "old" if old_way else "new")
            print(f"{name}: {r['charges']:,} charges in {r['seconds']:.1f} s, {r['charges_per_s']:,.0f}/s; "
                  f"conflicts per writer {r['conflicts']} of {r['batches']} batches")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
