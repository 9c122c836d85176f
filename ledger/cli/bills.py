"""`ledger bill ...`: off-cycle bills, a bill's detail, and its state changes (TMF678 CustomerBill)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ledger.cli.context import App, Outcome
from ledger.cli.options import given, name_flags
from ledger.cli.output import money, plain, stamp, table
from ledger.commands import ChangeBillState, IssueOffCycleBill
from ledger.commands.lookups import load_account
from ledger.queries.bills import bill_view


def account_currency(app: App, account_ref: Any) -> str | None:
    """The account's currency, to default `--currency` (None without an account id; AccountNotFound when unknown)."""
    if not isinstance(account_ref, str) or not account_ref.strip():
        return None
    return load_account(app.ledger.store, account_ref.strip()).currency


def render_bill_summary(s: dict[str, Any], code: str | None = None) -> str:
    m = (lambda v: money(v, code)) if code else str  # noqa: E731
    return f"bill {s['bill_number']}: {s['state']}, amount due {m(s['amount_due'])}, remaining {m(s['remaining_amount'])}"


def render_bill(view: dict[str, Any]) -> str:
    cur = view["currency"]
    m = lambda v: money(v, cur)  # noqa: E731
    origin = view["run_type"] + (f" ({view['off_cycle_reason']})" if view["off_cycle_reason"] else "")
    period = (f"{view['billing_period_start']} .. {view['billing_period_end']}" if view["billing_period_start"] else "-")
    lines = [
        f"bill {view['bill_number']} of account {view['account_id']}: {view['state']}"
        + ("  OVERDUE" if view["overdue"] else ""),
        f"  run              {origin}",
        f"  billing period   {period}",
        f"  bill date        {view['bill_date']}   mailing {view['mailing_date'] or '-'}   due {view['payment_due_date']}",
        "",
        table(["ENTRY", "KIND", "EFFECTIVE", "DESCRIPTION", "EXCL. TAX", "INCL. TAX"],
              [[i["entry_id"], i["kind"], stamp(i["effective_at"]), i["description"], i["tax_excluded"], i["tax_included"]]
               for i in view["items"]], right=[4, 5]),
        "",
        table(["TAX", "RATE %", "TAXABLE", "TAX", "EXACT TAX"],
              [[t["tax_category"], plain(t["tax_rate"]), m(t["taxable_amount"]), m(t["tax_amount"]), t["exact_tax_amount"]]
               for t in view["tax_items"]], right=[1, 2, 3, 4]),
        "",
        f"  tax excluded     {m(view['tax_excluded_amount'])} {cur}",
        f"  tax included     {m(view['tax_included_amount'])} {cur}   (rounding difference {m(view['rounding_difference'])})",
        f"  amount due       {m(view['amount_due'])} {cur}",
        f"  remaining        {m(view['remaining_amount'])} {cur}",
    ]
    if view["applied_payments"]:
        lines.append("  applied:")
        for p in view["applied_payments"]:
            lines.append(f"    {p['source']:<16} {m(p['amount']):>12} {cur}  {p['payment_id'] or ''}".rstrip())
    return "\n".join(lines)


def do_bill_issue(app: App, a: argparse.Namespace) -> Outcome:
    data = given(a, account_id="account", request_id="request_id", up_to="up_to")
    name_flags(a, send="no_send")
    if a.no_send:
        data["send"] = False
    r = app.ledger.execute(IssueOffCycleBill.parse(data))
    code = account_currency(app, a.account)
    prefix = "off-cycle " if r.created else "off-cycle bill for this request already issued (nothing changed): "
    return Outcome(r, prefix + render_bill_summary(r.to_dict(), code))


def do_bill_show(app: App, a: argparse.Namespace) -> Outcome:
    view = bill_view(app.ledger.store, app.ledger.now, a.account, a.bill_number).to_dict()
    return Outcome(view, render_bill(view))


def _bill_action(action: str) -> Callable[[App, argparse.Namespace], Outcome]:
    def run(app: App, a: argparse.Namespace) -> Outcome:
        r = app.ledger.execute(ChangeBillState.parse({
            **given(a, account_id="account", bill_number="bill_number", reason="reason"), "action": action}))
        return Outcome(r, render_bill_summary(r.to_dict(), account_currency(app, a.account)))

    return run


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    g = group("bill", "customer bills (TMF678 CustomerBill)")
    s = leaf(g, "issue", do_bill_issue, "issue an off-cycle bill of the unbilled entries (customer request)")
    s.add_argument("account")
    s.add_argument("--request-id", help="idempotency key of this request")
    s.add_argument("--up-to", help="bill entries effective before this moment (default: all)")
    s.add_argument("--no-send", action="store_true", help="leave the bill new (not validated and sent)")
    s = leaf(g, "show", do_bill_show, "a bill: items, tax items, totals and payments")
    s.add_argument("account")
    s.add_argument("bill_number")
    for action, text in [("validate", "validate a new or held bill"), ("hold", "put a bill on hold"),
                         ("release", "release a held bill (back to new)"), ("send", "send a validated bill")]:
        s = leaf(g, action, _bill_action(action), text)
        s.add_argument("account")
        s.add_argument("bill_number")
        s.add_argument("--reason")
