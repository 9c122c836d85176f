"""The worker processes of a cycle run (`ledger/commands/cycle_workers.py` says what they do and guarantee).

A process entry point, like the CLI and the API: each worker builds its own Ledger with `bootstrap`, which the
command layer may not import. `bootstrap` gives `bill_in_workers` to the Ledger as its `cycle_processes`, and the
trigger's handler calls it when a run has more than one worker.
"""

from __future__ import annotations

import contextlib
import gc
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from datetime import datetime, timedelta
from multiprocessing import get_context
from uuid import UUID

from ledger.aggregates.library_bypasses import project
from ledger.commands.cycle_run import load_cycle
from ledger.commands.cycle_workers import WorkerFailed, bill_part, partitions
from ledger.errors import LedgerError
from ledger.ports import HandlerContext, system_clock
from ledger.settings import Settings

PROGRESS_EVERY = 0.5
"""Seconds between the trigger process's looks at the cycle's progress while the workers bill."""


def _worker(settings: Settings, clock_offset: timedelta, cycle_id: UUID, accounts: list[UUID], send: bool,
            gc_thresholds: tuple[int, ...]) -> int:
    """A worker process: its own Ledger (own connections, cold cache) on the same store, its clock the trigger
    process's (the system clock moved by the trigger's offset: a test's fixed clock still rules), and the garbage
    collector tuned as the CLI and the API tune theirs (a process entry point: `gc_thresholds`, the parent's)."""
    from ledger.bootstrap import bootstrap  # bootstrap gives this module to the Ledgers it builds

    gc.set_threshold(*gc_thresholds)

    def clock() -> datetime:
        return system_clock() + clock_offset

    ledger = bootstrap(settings, clock=clock)
    try:
        return bill_part(ledger, cycle_id, accounts, send)
    finally:
        ledger.close()


def bill_in_workers(ctx: HandlerContext, cycle_id: UUID, accounts: list[UUID], send: bool, workers: int) -> None:
    """Bill `accounts` for the cycle in `workers` processes (parts by `partition_of`), reporting the cycle's progress
    meanwhile; returns when every part is billed, or raises WorkerFailed (after the other workers ended)."""
    cycle = load_cycle(ctx.store, cycle_id)
    reported = len(cycle.billed) + len(cycle.skipped)
    offset = ctx.now() - system_clock()
    parts = [part for part in partitions(accounts, workers) if part]
    failures: list[BaseException] = []
    with ProcessPoolExecutor(max_workers=len(parts) or 1, mp_context=get_context("spawn")) as pool:
        running: set[Future[int]] = {pool.submit(_worker, ctx.settings, offset, cycle_id, part, send, gc.get_threshold())
                                     for part in parts}
        while running:
            done, running = wait(running, timeout=PROGRESS_EVERY, return_when=FIRST_EXCEPTION)
            failures += [f.exception() for f in done if f.exception() is not None]  # type: ignore[misc]
            with contextlib.suppress(Exception):  # progress is only reported: a failed look is not the run's failure
                project(cycle, ctx.store.histories([cycle_id], {cycle_id: cycle.version})[cycle_id])
                now_done = len(cycle.billed) + len(cycle.skipped)
                if now_done > reported:
                    ctx.progress.advance(now_done - reported)
                    reported = now_done
    if failures:
        first = failures[0]
        if isinstance(first, LedgerError):
            raise first
        raise WorkerFailed(f"a worker of the cycle run failed ({type(first).__name__}: {first}); trigger the cycle "
                           "again to resume it", cycle_id=str(cycle_id)) from first
