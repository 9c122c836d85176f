"""`ledger charge ...`: post one rated charge, import many from JSON lines, adjust an earlier one."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ledger.cli.bills import account_currency
from ledger.cli.context import App, Outcome
from ledger.cli.imports import input_lines, report_outcome
from ledger.cli.options import CHARGE_TYPE_ALIASES, given, name_flags, taxes
from ledger.cli.output import money
from ledger.commands import AdjustCharge, PostCharge
from ledger.commands.charge_import import check_batch_size, import_charges


def _charge_input(a: argparse.Namespace) -> dict[str, Any]:
    data = given(a, charge_id="charge_id", account_id="account", currency="currency", tax_excluded_amount="amount",
                 tax_included_amount="tax_included", date="date", product_ref="product", period_start="period_start",
                 period_end="period_end", description="description")
    name_flags(a, type="type", applied_tax="tax")
    if a.type is not None:
        data["type"] = CHARGE_TYPE_ALIASES.get(a.type, a.type)
    if a.tax:
        data["applied_tax"] = taxes(a.tax)
    return data


def do_charge_post(app: App, a: argparse.Namespace) -> Outcome:
    data = _charge_input(a)
    if "currency" not in data and "account_id" in data:
        data["currency"] = account_currency(app, data["account_id"])
    cmd = PostCharge.parse(data)
    r = app.ledger.execute(cmd)
    what = "applied to" if r.applied else "was already applied to (duplicate: nothing changed)"
    return Outcome(r, f"charge {r.charge_id} {what} account {r.account_id}; "
                      f"balance {money(r.balance, cmd.currency)} {cmd.currency}")


def do_charge_import(app: App, a: argparse.Namespace) -> Outcome:
    size = check_batch_size(a.batch_size)
    ledger = app.ledger
    with input_lines(a.file, ledger.progress, "importing charges") as stream:
        report = import_charges(ledger.execute, stream, size, ledger.progress)
    return report_outcome(report, "charges")


def do_charge_adjust(app: App, a: argparse.Namespace) -> Outcome:
    data = given(a, adjustment_id="adjustment_id", account_id="account", charge_id="charge_id",
                 tax_excluded_amount="amount", date="date", reason="reason")
    name_flags(a, applied_tax="tax")
    if a.tax:
        data["applied_tax"] = taxes(a.tax)
    r = app.ledger.execute(AdjustCharge.parse(data))
    code = account_currency(app, r.account_id) or ""
    what = "applied to" if r.applied else "was already applied to (duplicate: nothing changed)"
    return Outcome(r, f"adjustment {r.adjustment_id} {what} account {r.account_id}; balance {money(r.balance, code)} {code}")


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    g = group("charge", "rated charges (TMF678 AppliedCustomerBillingRate)")
    s = leaf(g, "post", do_charge_post, "post one charge, credit or penalty")

    def charge_amounts(s: argparse.ArgumentParser) -> None:
        s.add_argument("--amount", help="tax-excluded amount, exact decimal (up to 6 places)")
        s.add_argument("--tax", action="append", metavar="CATEGORY:RATE:AMOUNT",
                       help="an applied tax, e.g. VAT:20:2.0008 (repeatable)")
        s.add_argument("--date", help="effective moment with offset, e.g. 2026-10-05T10:00:00Z")

    s.add_argument("--charge-id", help="the rating system's id of this charge (idempotency key)")
    s.add_argument("--account")
    s.add_argument("--currency", help="default: the account's currency")
    s.add_argument("--type", help="charge (default), penalty, credit, or a TMF678 type name")
    charge_amounts(s)
    s.add_argument("--tax-included", help="tax-included amount, checked against amount + taxes")
    s.add_argument("--product", help="product reference")
    s.add_argument("--period-start", help="service period start date")
    s.add_argument("--period-end", help="service period end date")
    s.add_argument("--description")
    s = leaf(g, "import", do_charge_import, "post charges from a JSON lines file (one PostCharge object per line)")
    s.add_argument("file", help="JSON lines file, or - for stdin")
    s.add_argument("--batch-size", type=int, default=1000, help="charges per PostCharges batch (default 1000)")
    s = leaf(g, "adjust", do_charge_adjust, "adjust an earlier charge (negative amount lowers what is owed)")
    s.add_argument("--adjustment-id", help="idempotency key of this adjustment")
    s.add_argument("--account")
    s.add_argument("--charge-id", help="the charge this adjustment corrects")
    charge_amounts(s)
    s.add_argument("--reason")
