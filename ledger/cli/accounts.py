"""`ledger cycle-spec ...` and `ledger account ...`: billing cycle specifications and billing accounts."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ledger.cli.bills import render_bill_summary
from ledger.cli.context import App, Outcome
from ledger.cli.imports import file_format, input_lines, report_outcome
from ledger.cli.options import given, name_flags, split_spec
from ledger.cli.output import money, stamp, table
from ledger.commands import (
    ChangeAccountTerms,
    CloseAccount,
    DefineCycleSpecification,
    OpenBillingAccount,
    ResumeAccount,
    SuspendAccount,
)
from ledger.commands.base import Command
from ledger.commands.customer_links import LINK_COLUMNS, LinkAccountToCustomer, import_links
from ledger.commands.line_import import FORMATS, check_batch_size
from ledger.projections.listing import account_customers
from ledger.queries.accounts import account_view
from ledger.queries.customers import accounts_without_customer


def do_spec_define(app: App, a: argparse.Namespace) -> Outcome:
    cmd = DefineCycleSpecification.parse(given(
        a, name="name", frequency="frequency", billing_day="billing_day", anchor_month="anchor_month",
        charge_date_offset="charge_date_offset", credit_date_offset="credit_date_offset",
        bill_date_offset="bill_date_offset", mailing_date_offset="mailing_date_offset",
        payment_due_date_offset="payment_due_date_offset"))
    r = app.ledger.execute(cmd)
    s = cmd.specification()
    what = "defined" if r.created else "already defined with the same values (nothing changed)"
    return Outcome(r, f"billing cycle specification {s.name} {what}: {s.frequency}, billing day {s.billing_day}, "
                      f"bill date +{s.bill_date_offset}, payment due +{s.payment_due_date_offset} days")


def do_account_open(app: App, a: argparse.Namespace) -> Outcome:
    data = given(
        a, account_id="account", customer_id="customer", currency="currency", rating_type="rating_type",
        cycle_specification="cycle_spec",
        payment_terms_days="payment_terms_days", credit_limit="credit_limit", time_zone="time_zone", name="name")
    name_flags(a, default_payment_method="payment_method")
    if a.payment_method:
        kind, method_id = split_spec(a.payment_method, 2, "--payment-method", "TYPE:ID, e.g. directDebit:MANDATE-1")
        data["default_payment_method"] = {"type": kind, "id": method_id}
    r = app.ledger.execute(OpenBillingAccount.parse(data))
    what = "opened" if r.created else "already open with the same values (nothing changed)"
    return Outcome(r, f"billing account {r.account_id} {what}")


def _status_change(model: type[Command]) -> Callable[[App, argparse.Namespace], Outcome]:
    def run(app: App, a: argparse.Namespace) -> Outcome:
        r = app.ledger.execute(model.parse(given(a, account_id="account", reason="reason")))
        text = f"billing account {r.account_id} is {r.status}"
        if r.final_bill is not None:
            text += "\nfinal " + render_bill_summary(r.final_bill.to_dict())
        return Outcome(r, text)

    return run


def do_account_terms(app: App, a: argparse.Namespace) -> Outcome:
    data: dict[str, Any] = {"account_id": a.account, **given(a, credit_limit="credit_limit",
                                                             payment_terms_days="payment_terms_days", reason="reason")}
    if a.payment_method:
        kind, method_id = split_spec(a.payment_method, 2, "--payment-method", "TYPE:ID, e.g. directDebit:MANDATE-1")
        data["default_payment_method"] = {"type": kind, "id": method_id}
    r = app.ledger.execute(ChangeAccountTerms.parse(data))
    what = "changed" if r.changed else "already these (nothing changed)"
    terms = r.payment_terms_days if r.payment_terms_days is not None else "the specification's offset"
    return Outcome(r, f"billing account {r.account_id} terms {what}: credit limit {r.credit_limit}, pays in {terms} days")


def do_link_customer(app: App, a: argparse.Namespace) -> Outcome:
    data = {"account_id": a.account, "relink": a.relink,
            **given(a, customer_id="customer", reason="reason")}
    r = app.ledger.execute(LinkAccountToCustomer.parse(data))
    if not r.changed:
        return Outcome(r, f"billing account {r.account_id} already belongs to customer {r.customer_id} (nothing changed)")
    return Outcome(r, f"billing account {r.account_id} linked to customer {r.customer_id} "
                      f"(it named {r.previous_customer_id} before)")


def do_link_customers(app: App, a: argparse.Namespace) -> Outcome:
    size = check_batch_size(a.batch, "--batch")
    fmt = file_format(a.file, a.format)
    ledger = app.ledger
    with input_lines(a.file, ledger.progress, "linking accounts to customers", header=fmt == "csv") as stream:
        report = import_links(ledger.execute, stream, fmt, size, ledger.progress, relink=a.relink,
                              reason=a.reason or "")
    return report_outcome(report, "links")


def do_account_unlinked(app: App, a: argparse.Namespace) -> Outcome:
    with app.read_models() as db:
        accounts = account_customers(db)
    missing = accounts_without_customer(app.ledger.store, accounts)
    doc = {"accounts": len(accounts), "unlinked": [{"account_id": acc, "customer_id": cust} for acc, cust in missing]}
    if not missing:
        return Outcome(doc, f"all {len(accounts)} account(s) name an existing customer")
    head = (f"{len(missing)} of {len(accounts)} account(s) name a customer the ledger does not have: link them "
            "(account link-customers FILE) before turning on LEDGER_ACCOUNTS_NEED_CUSTOMER")
    return Outcome(doc, head + "\n" + table(["ACCOUNT", "NAMES CUSTOMER"], [list(pair) for pair in missing]))


def do_account_show(app: App, a: argparse.Namespace) -> Outcome:
    view = account_view(app.ledger.store, app.ledger.now, a.account).to_dict()
    return Outcome(view, render_account(view))


def render_account(view: dict[str, Any]) -> str:
    cur = view["currency"]
    m = lambda v: f"{money(v, cur)} {cur}"  # noqa: E731
    name = f' "{view["name"]}"' if view["name"] else ""
    lines = [
        f"account {view['account_id']}{name} (customer {view['customer_id']})",
        f"  status           {view['status']} since {stamp(view['status_since'])}",
        f"  terms            {view['rating_type']}, {cur}, "
        + (f"cycle {view['cycle_specification']}" if view["cycle_specification"] else "no billing cycle")
        + f", time zone {view['time_zone']}"
        + (f", pays in {view['payment_terms_days']} days" if view["payment_terms_days"] is not None else ""),
        f"  credit limit     {m(view['credit_limit'])}",
        f"  balance          {m(view['balance'])}   (what the customer owes; negative: in credit)",
        f"  unbilled         {m(view['unbilled'])}   ({view['unbilled_entries']} entries"
        + (f", {m(view['unbilled_prepaid'])} of it already paid)" if view["unbilled_prepaid"] else ")"),
        f"  receivable       {m(view['receivable'])}   (open bills)",
        f"  credit balance   {m(view['credit_balance'])}",
        f"  prepaid balance  {m(view['prepaid_balance'])}",
    ]
    if not view["identity_holds"]:
        lines.append("  WARNING: balance != unbilled + receivable - credit balance - prepaid balance")
    lines.append("")
    if view["open_bills"]:
        lines.append(f"open bills (overdue as of {view['as_of']}):")
        lines.append(table(["BILL", "BILL DATE", "DUE DATE", "REMAINING", "OVERDUE"],
                           [[b["bill_number"], b["bill_date"], b["payment_due_date"], money(b["remaining"], cur),
                             "OVERDUE" if b["overdue"] else "no"] for b in view["open_bills"]], right=[3]))
    else:
        lines.append("open bills: none")
    lines.append("")
    if view["bills"]:
        lines.append("bills:")
        lines.append(table(["BILL", "STATE", "RUN", "BILL DATE", "DUE DATE", "AMOUNT DUE", "REMAINING"],
                           [[b["bill_number"], b["state"], b["run_type"], b["bill_date"], b["payment_due_date"],
                             money(b["amount_due"], cur), money(b["remaining_amount"], cur)] for b in view["bills"]],
                           right=[5, 6]))
    else:
        lines.append("bills: none")
    return "\n".join(lines)


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    g = group("cycle-spec", "billing cycle specifications (TMF666)")
    s = leaf(g, "define", do_spec_define, "define a billing cycle specification (immutable once defined)")
    s.add_argument("name")
    s.add_argument("--frequency", help="monthly, bimonthly, quarterly, semiannual or annual (default monthly)")
    for opt, text in [("billing-day", "day of month a period starts (1-31, default 1)"),
                      ("anchor-month", "month the first period of a year starts (1-12, default 1)"),
                      ("charge-date-offset", "days from period end to the charge cut-off (default 0)"),
                      ("credit-date-offset", "days from period end to the credit cut-off (default 0)"),
                      ("bill-date-offset", "days after the period end + 1 to the bill date (default 0)"),
                      ("mailing-date-offset", "days from bill date to mailing date (default 2)"),
                      ("payment-due-date-offset", "days from bill date to payment due date (default 14)")]:
        s.add_argument(f"--{opt}", help=text)

    g = group("account", "billing accounts")
    s = leaf(g, "open", do_account_open, "open a billing account")
    s.add_argument("account", help="account id (your reference)")
    s.add_argument("--customer", help="customer id")
    s.add_argument("--currency", help="ISO 4217 code, e.g. EUR")
    s.add_argument("--cycle-spec", help="billing cycle specification name (postpaid accounts; prepaid need none)")
    s.add_argument("--rating-type", help="postpaid (default) or prepaid")
    s.add_argument("--credit-limit", help="prepaid: how far the balance may go below zero (default 0)")
    s.add_argument("--payment-terms-days", help="days to pay a bill (default: the cycle specification's offset)")
    s.add_argument("--time-zone", help="IANA time zone of the account's billing days (default UTC)")
    s.add_argument("--name", help="display name")
    s.add_argument("--payment-method", help="default payment method TYPE:ID, e.g. directDebit:MANDATE-1")
    for name, model, text in [("suspend", SuspendAccount, "suspend an active account (no new charges)"),
                              ("resume", ResumeAccount, "resume a suspended account"),
                              ("close", CloseAccount, "close an account (a postpaid account gets its final bill)")]:
        s = leaf(g, name, _status_change(model), text)
        s.add_argument("account")
        s.add_argument("--reason")
    s = leaf(g, "terms", do_account_terms, "change an account's credit limit, payment terms or default payment method")
    s.add_argument("account")
    s.add_argument("--credit-limit", help="prepaid: how far the balance may go below zero")
    s.add_argument("--payment-terms-days", help="days to pay a bill")
    s.add_argument("--payment-method", help="default payment method TYPE:ID")
    s.add_argument("--reason")
    s = leaf(g, "link-customer", do_link_customer,
             "link an account to its customer (the customer must exist and be open; the same one again: no change)")
    s.add_argument("account")
    s.add_argument("--customer", required=True, help="the customer's id")
    s.add_argument("--relink", action="store_true",
                   help="move an account that belongs to another existing customer (needs --reason)")
    s.add_argument("--reason", help="why (recorded with the link)")
    s = leaf(g, "link-customers", do_link_customers,
             "link many accounts to their customers from a file (accounts opened before customers existed); "
             "idempotent: a re-run changes nothing")
    s.description = (f"{s.description}. columns: " + "; ".join(f"{c}: {m}" for c, m in LINK_COLUMNS.items())
                     + ". Exit 1 when any line was rejected (the good lines are applied).")
    s.add_argument("file", help="JSON lines or CSV file (a header row: account,customer[,reason]), or - for stdin")
    s.add_argument("--format", choices=FORMATS, help="jsonl or csv (default: csv for a *.csv file, else jsonl)")
    s.add_argument("--batch", type=int, default=1000, help="links per transaction (default 1000)")
    s.add_argument("--relink", action="store_true",
                   help="let lines move accounts that belong to another existing customer (each needs a reason)")
    s.add_argument("--reason", help="the reason of the lines that give none")
    leaf(g, "unlinked", do_account_unlinked,
         "accounts naming a customer the ledger does not have (the migration's last check before "
         "LEDGER_ACCOUNTS_NEED_CUSTOMER=true)")
    s = leaf(g, "show", do_account_show, "an account's current state, open bills and bills")
    s.add_argument("account")
