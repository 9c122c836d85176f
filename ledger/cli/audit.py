"""`ledger history` and `ledger verify`: an account replayed from its events, and every aggregate checked."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ledger.cli.as_of import render_as_of, render_explanation
from ledger.cli.context import App, Outcome
from ledger.cli.options import given
from ledger.cli.output import is_amount, money, stamp, table
from ledger.queries import book_checkpoint, book_loading
from ledger.queries.as_of import AsOfQuery, history_as_of
from ledger.queries.explain import explain_figure
from ledger.queries.history import account_history
from ledger.queries.verify import all_ids, verify


def render_history(data: dict[str, Any], with_figures: bool = True) -> str:
    cur = data["currency"]
    when = f"as of {data['as_of']}" if data["as_of"] else "up to now"
    lines = [f"history of account {data['account_id']} ({cur}), basis {data['basis']}, {when}",
             table(["RECORDED", "EFFECTIVE", "KIND", "AMOUNT", "BALANCE", "DESCRIPTION"],
                   [[stamp(r["recorded_at"]), stamp(r["effective_at"]), r["kind"], money(r["amount"], cur),
                     money(r["balance"], cur), r["description"]] for r in data["lines"]], right=[3, 4]),
             f"balance {money(data['balance'], cur)} {cur}"]
    state = {k: v for k, v in data["state"].items() if k != "balance"}
    if state and with_figures:
        lines.append("figures: " + ", ".join(f"{k.replace('_', ' ')} {money(v, cur) if is_amount(v) else v}"
                                             for k, v in state.items()))
    return "\n".join(lines)


def do_history(app: App, a: argparse.Namespace) -> Outcome:
    """The history's lines; with --as-of also the account's whole state then; with --explain one figure's events."""
    query = AsOfQuery.parse(given(a, account_id="account", as_of="as_of", basis="basis", explain="explain"))
    store, clock = app.ledger.store, app.ledger.now
    if query.explain is not None:
        explained = explain_figure(store, clock, query.account_id, query.explain, query.as_of, query.basis).to_dict()
        return Outcome(explained, render_explanation(explained))
    if query.as_of is None:
        data = account_history(store, query.account_id, None, query.basis).to_dict()
        return Outcome(data, render_history(data))
    at, lines = history_as_of(store, clock, query.account_id, query.as_of, query.basis)
    state = at.to_dict()
    data = lines.to_dict() | {"balance": state["balance"], "state": state}
    return Outcome(data, render_as_of(state) + "\n\n" + render_history(data, with_figures=False))


def do_verify(app: App, a: argparse.Namespace) -> Outcome:
    report = verify(app.ledger.store, app.ledger.progress)
    checked = ", ".join(f"{n} {kind}" for kind, n in report.checked.items())
    lines = [f"verified {checked}"]
    if report.ok:
        lines.append("OK: every aggregate replays to its current state and the books balance")
    else:
        lines.append(f"{len(report.differences)} difference(s):")
        lines += [f"  {d}" for d in report.differences]
    return Outcome(report.to_dict(), "\n".join(lines), 0 if report.ok else 1)


def do_rebuild_checkpoints(app: App, a: argparse.Namespace) -> Outcome:
    store = app.ledger.store
    written = book_checkpoint.rebuild(store, all_ids(store)["accounts"])
    return Outcome({"written": written}, f"book checkpoints rebuilt: {written} written (accounts of "
                                         f"{book_loading.CHECKPOINT_AFTER} events or more)")


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    s = leaf(top, "history", do_history, "an account's history replayed from its events, with a running balance; "
                                         "its whole state as of a moment; a figure explained")
    s.add_argument("account")
    s.add_argument("--as-of", help="the account's whole state at this moment (with offset), and its history up to it")
    s.add_argument("--basis", help="recorded (default: what the ledger knew then) or effective (what was in force then)")
    s.add_argument("--explain", metavar="FIGURE",
                   help="the events that make up one figure (as of --as-of, default now): balance, unbilled, "
                        "paid-ahead, receivable, overdue, credit-balance, prepaid-balance, or a bill number")

    leaf(top, "rebuild-checkpoints", do_rebuild_checkpoints,
         "drop the as-of queries' book checkpoints and write one per account of 500 events or more")
    leaf(top, "verify", do_verify, "rebuild every aggregate from its events and check the books (exit 1 on differences)")
