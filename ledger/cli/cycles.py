"""`ledger cycle run`: trigger (or resume) a billing cycle occurrence, recording who triggered it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ledger.cli.context import App, Outcome
from ledger.cli.options import given, name_flags
from ledger.cli.output import money, stamp
from ledger.commands import TriggerBillingCycle


def render_cycle(data: dict[str, Any]) -> str:
    lines = [f"billing cycle {data['specification']} {data['period_start']} .. {data['period_end']}: {data['status']}"
             + (" (already completed earlier: nothing billed again)" if data.get("already_completed") else "")]
    lines.append(f"  bill date        {data['bill_date']}")
    for trigger in data["triggers"]:
        reason = f": {trigger['reason']}" if trigger.get("reason") else ""
        early = ", EARLY RUN before the period's cut-offs" if trigger.get("early_run") == "true" else ""
        lines.append(f"  triggered by     {trigger['by']} ({trigger['type']}) at {stamp(trigger['at'])}{early}{reason}")
    lines.append(f"  accounts billed  {data['accounts_billed']}, skipped {data['accounts_skipped']} (nothing to bill or prepaid)")
    totals = ", ".join(f"{money(v, k)} {k}" for k, v in sorted(data["totals"].items())) or "none"
    lines.append(f"  totals           {totals}")
    return "\n".join(lines)


def do_cycle_run(app: App, a: argparse.Namespace) -> Outcome:
    data = given(a, specification="spec", period_start="period_start", trigger_type="trigger_type",
                 triggered_by="by", reason="reason")
    name_flags(a, send="no_send", early_run="early_run")
    if a.no_send:
        data["send"] = False
    if a.early_run:
        data["early_run"] = True
    if a.workers is not None:
        data["workers"] = a.workers
    r = app.ledger.execute(TriggerBillingCycle.parse(data))
    return Outcome(r, render_cycle(r.to_dict()))


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    g = group("cycle", "billing cycle runs")
    s = leaf(g, "run", do_cycle_run, "trigger (or resume) a billing cycle occurrence and bill its accounts")
    s.add_argument("--spec", help="billing cycle specification name")
    s.add_argument("--period-start", help="first day of the period, e.g. 2026-10-01")
    s.add_argument("--trigger-type", help="person, scheduler or system")
    s.add_argument("--by", help="who or what triggered the run")
    s.add_argument("--reason")
    s.add_argument("--no-send", action="store_true", help="leave the bills new (not validated and sent)")
    s.add_argument("--early-run", action="store_true",
                   help="bill before the period's cut-offs passed (refused otherwise); needs --reason, recorded on the "
                        "cycle's trigger")
    s.add_argument("--workers", type=int, metavar="N",
                   help="bill the accounts in N processes (PostgreSQL; default: LEDGER_CYCLE_WORKERS, else 1)")
