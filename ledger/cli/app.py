"""The `ledger` command line: one subcommand per ledger command, human output by default, `--json` for machines.

Every value typed on the command line goes, as text, into the same pydantic command model the API uses,
so a bad value gives the same `InvalidInput` message. Exit codes: 0 done, 1 done but something needs a look
(verify found differences, an import rejected lines), 2 refused (a `LedgerError` or a usage error: nothing changed).
Logs go to stderr, command output to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, TextIO
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ledger.bootstrap import bootstrap, tune_gc
from ledger.cli.streams import add_stream_commands
from ledger.commands import (AdjustCharge, ChangeBillState, CloseAccount, DefineCycleSpecification, IssueOffCycleBill,
                             OpenBillingAccount, PostCharge, PostCharges, RecordPayment, RefundCredit, ResumeAccount,
                             ReversePayment, SuspendAccount, TriggerBillingCycle)
from ledger.commands.accounts import load_account
from ledger.commands.base import Command, Id, Instant
from ledger.commands.bills import load_bill
from ledger.errors import InvalidInput, LedgerError
from ledger.logging_setup import LEVELS, configure_logging
from ledger.aggregates.money import currency, fmt
from ledger.cli.progress import ProgressBar
from ledger.service import Ledger
from ledger.settings import Settings

CHARGE_TYPE_ALIASES = {"charge": "appliedBillingCharge", "penalty": "appliedPenaltyCharge", "credit": "appliedBillingCredit"}


# --------------------------------------------------------------------------- plumbing


@dataclass
class Outcome:
    """What a subcommand produced: a JSON-ready document, its human text, and the exit code."""

    data: Any
    text: str
    code: int = 0


class App:
    """Per-invocation context: settings built once, the ledger built on first use."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        self.settings = settings
        self.args = args
        self._ledger: Ledger | None = None

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = bootstrap(self.settings, progress=ProgressBar())
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None


def to_jsonable(value: Any) -> Any:
    """Decimals become strings (never floats); dates ISO-8601; UUIDs strings."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return value


def dump_json(value: Any) -> str:
    return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)


def given(args: argparse.Namespace, **fields: str) -> dict[str, Any]:
    """Command input from the options the user actually gave ({model field: namespace attribute})."""
    return {field: getattr(args, attr) for field, attr in fields.items() if getattr(args, attr, None) is not None}


def split_spec(text: str, parts: int, option: str, example: str) -> list[str]:
    """Split a colon-separated option value into `parts` pieces (the middle piece may itself hold colons)."""
    head, sep, rest = text.partition(":")
    if parts == 2:
        pieces = [head, rest] if sep else []
    else:
        middle, sep2, last = rest.rpartition(":")
        pieces = [head, middle, last] if sep and sep2 else []
    if len(pieces) != parts or any(not p.strip() for p in pieces):
        raise InvalidInput(f"{option} expects {example}, got {text!r}", option=option, value=text)
    return [p.strip() for p in pieces]


def taxes(values: list[str] | None, option: str = "--tax") -> list[dict[str, str]]:
    out = []
    for value in values or []:
        category, rate, amount = split_spec(value, 3, option, "CATEGORY:RATE:AMOUNT, e.g. VAT:20:2.0008")
        out.append({"tax_category": category, "tax_rate": rate, "tax_amount": amount})
    return out


def allocations(values: list[str] | None) -> list[dict[str, str]] | None:
    if not values:
        return None
    out = []
    for value in values:
        target, target_id, amount = split_spec(value, 3, "--allocate", "bill:NUMBER:AMOUNT or charge:CHARGE_ID:AMOUNT")
        out.append({"target": target, "id": target_id, "amount": amount})
    return out


def money(amount: Any, code: str) -> str:
    """An amount as text in its currency's canonical form (never a float)."""
    try:
        return fmt(Decimal(str(amount)), currency(code))
    except LedgerError:
        return str(amount)


def table(headers: list[str], rows: Iterable[list[Any]], right: Iterable[int] = ()) -> str:
    """A plain text table; columns listed in `right` are right-aligned (amounts)."""
    rows = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    right = set(right)

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def stamp(moment: datetime | str | None) -> str:
    """A moment as `YYYY-MM-DD HH:MMZ` (UTC)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%MZ")


# --------------------------------------------------------------------------- reads


class HistoryQuery(Command):
    """The input of `ledger history` (validated like a command, so errors read the same)."""

    account_id: Id
    as_of: Instant | None = None
    basis: Literal["recorded", "effective"] = "recorded"


def account_view(ledger: Ledger, account_ref: str) -> dict[str, Any]:
    """An account's current state, with its bills and which open bills are overdue (in the account's time zone)."""
    account = load_account(ledger, account_ref)
    today = ledger.now().astimezone(ZoneInfo(account.time_zone)).date()
    open_bills = [
        {"bill_number": b["bill_number"], "bill_date": b["bill_date"], "payment_due_date": b["payment_due_date"],
         "remaining": b["remaining"], "overdue": today > date.fromisoformat(b["payment_due_date"])}
        for b in sorted(account.open_bills.values(), key=lambda b: (b["payment_due_date"], b["bill_number"]))
    ]
    bills = []
    for number in account.bills:
        bill = load_bill(ledger, account, number)
        bills.append({"bill_number": number, "state": bill.state, "run_type": bill.run_type, "bill_date": bill.bill_date,
                      "payment_due_date": bill.payment_due_date, "amount_due": bill.amount_due,
                      "remaining_amount": bill.remaining_amount, "overdue": bill.is_overdue(today)})
    return {
        "account_id": account.account_ref, "customer_id": account.customer_id, "name": account.name,
        "currency": account.currency, "rating_type": account.rating_type,
        "cycle_specification": account.cycle_specification, "time_zone": account.time_zone,
        "payment_terms_days": account.payment_terms_days, "credit_limit": account.credit_limit,
        "default_payment_method": account.default_payment_method,
        "status": account.status, "status_since": account.status_since, "as_of": today,
        "balance": account.balance, "unbilled": account.unbilled_total, "unbilled_entries": len(account.unbilled),
        "unbilled_prepaid": getattr(account, "unbilled_prepaid", Decimal(0)),
        "receivable": account.receivable, "credit_balance": account.credit_balance,
        "prepaid_balance": account.prepaid_balance, "identity_holds": account.identity_holds(),
        "open_bills": open_bills, "bills": bills,
    }


def render_account(view: dict[str, Any]) -> str:
    cur = view["currency"]
    m = lambda v: f"{money(v, cur)} {cur}"  # noqa: E731
    name = f' "{view["name"]}"' if view["name"] else ""
    lines = [
        f"account {view['account_id']}{name} (customer {view['customer_id']})",
        f"  status           {view['status']} since {stamp(view['status_since'])}",
        f"  terms            {view['rating_type']}, {cur}, cycle {view['cycle_specification']}, time zone {view['time_zone']}"
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


def bill_view(ledger: Ledger, account_ref: str, bill_number: str) -> dict[str, Any]:
    account = load_account(ledger, account_ref)
    bill = load_bill(ledger, account, bill_number)
    today = ledger.now().astimezone(ZoneInfo(account.time_zone)).date()
    return {
        "bill_id": bill.id, "bill_number": bill.bill_number, "account_id": bill.account_ref, "state": bill.state,
        "run_type": bill.run_type, "off_cycle_reason": bill.off_cycle_reason, "cycle_id": bill.cycle_id,
        "currency": bill.currency, "billing_period_start": bill.billing_period_start,
        "billing_period_end": bill.billing_period_end, "bill_date": bill.bill_date, "mailing_date": bill.mailing_date,
        "payment_due_date": bill.payment_due_date, "overdue": bill.is_overdue(today),
        "tax_excluded_amount": bill.tax_excluded_amount, "tax_included_amount": bill.tax_included_amount,
        "rounding_difference": bill.rounding_difference, "amount_due": bill.amount_due,
        "remaining_amount": bill.remaining_amount, "items": bill.items, "tax_items": bill.tax_items,
        "applied_payments": bill.applied_payments,
    }


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
              [[t["tax_category"], _plain(t["tax_rate"]), m(t["taxable_amount"]), m(t["tax_amount"]), t["exact_tax_amount"]]
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


def _plain(number: str) -> str:
    """A decimal string without exponent notation ('2E+1' -> '20')."""
    try:
        return format(Decimal(number), "f")
    except ArithmeticError:
        return number


def render_history(data: dict[str, Any]) -> str:
    cur = data["currency"]
    when = f"as of {data['as_of']}" if data["as_of"] else "up to now"
    lines = [f"history of account {data['account_id']} ({cur}), basis {data['basis']}, {when}",
             table(["RECORDED", "EFFECTIVE", "KIND", "AMOUNT", "BALANCE", "DESCRIPTION"],
                   [[stamp(r["recorded_at"]), stamp(r["effective_at"]), r["kind"], money(r["amount"], cur),
                     money(r["balance"], cur), r["description"]] for r in data["lines"]], right=[3, 4]),
             f"balance {money(data['balance'], cur)} {cur}"]
    state = {k: v for k, v in data["state"].items() if k != "balance"}
    if state:
        lines.append("figures: " + ", ".join(f"{k.replace('_', ' ')} {money(v, cur) if _is_amount(v) else v}"
                                             for k, v in state.items()))
    return "\n".join(lines)


def _is_amount(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        Decimal(value)
    except ArithmeticError:
        return False
    return True


def render_cycle(data: dict[str, Any]) -> str:
    lines = [f"billing cycle {data['specification']} {data['period_start']} .. {data['period_end']}: {data['status']}"
             + (" (already completed earlier: nothing billed again)" if data.get("already_completed") else "")]
    lines.append(f"  bill date        {data['bill_date']}")
    for trigger in data["triggers"]:
        reason = f": {trigger['reason']}" if trigger.get("reason") else ""
        lines.append(f"  triggered by     {trigger['by']} ({trigger['type']}) at {stamp(trigger['at'])}{reason}")
    lines.append(f"  accounts billed  {data['accounts_billed']}, skipped {data['accounts_skipped']} (nothing to bill or prepaid)")
    totals = ", ".join(f"{money(v, k)} {k}" for k, v in sorted(data["totals"].items())) or "none"
    lines.append(f"  totals           {totals}")
    return "\n".join(lines)


def render_bill_summary(s: dict[str, Any], code: str | None = None) -> str:
    m = (lambda v: money(v, code)) if code else str  # noqa: E731
    return f"bill {s['bill_number']}: {s['state']}, amount due {m(s['amount_due'])}, remaining {m(s['remaining_amount'])}"


def render_payment(data: dict[str, Any], code: str | None) -> str:
    m = (lambda v: money(v, code)) if code else str  # noqa: E731
    verb = "recorded" if data["created"] else "was already recorded (nothing changed)"
    amount = f"{m(data['amount'])} {code}" if code else m(data["amount"])
    lines = [f"payment {data['external_reference']} of {amount} on account {data['account_id']} {verb}: {data['status']}"]
    bills = {b["bill_number"]: b for b in data.get("bills", [])}
    for alloc in data["allocations"]:
        bill = bills.get(alloc.get("bill_number") or "")
        if bill:
            lines.append(f"  {m(alloc['amount']):>12} to bill {bill['bill_number']}: now {bill['state']}, "
                         f"remaining {m(bill['remaining_amount'])}")
        else:
            lines.append(f"  {m(alloc['amount']):>12} to {alloc['target']} {alloc.get('bill_number') or alloc['id']}")
    if Decimal(data["to_balance"]):
        lines.append(f"  {m(data['to_balance']):>12} to the account's balance (credit, or prepaid funds)")
    return "\n".join(lines)


# --------------------------------------------------------------------------- subcommands


def do_spec_define(app: App, a: argparse.Namespace) -> Outcome:
    cmd = DefineCycleSpecification.parse({"name": a.name, **given(
        a, frequency="frequency", billing_day="billing_day", anchor_month="anchor_month",
        charge_date_offset="charge_date_offset", credit_date_offset="credit_date_offset",
        bill_date_offset="bill_date_offset", mailing_date_offset="mailing_date_offset",
        payment_due_date_offset="payment_due_date_offset")})
    r = app.ledger.execute(cmd)
    s = cmd.specification()
    what = "defined" if r["created"] else "already defined with the same values (nothing changed)"
    return Outcome(r, f"billing cycle specification {s.name} {what}: {s.frequency}, billing day {s.billing_day}, "
                      f"bill date +{s.bill_date_offset}, payment due +{s.payment_due_date_offset} days")


def do_account_open(app: App, a: argparse.Namespace) -> Outcome:
    data = {"account_id": a.account, **given(
        a, customer_id="customer", currency="currency", rating_type="rating_type", cycle_specification="cycle_spec",
        payment_terms_days="payment_terms_days", credit_limit="credit_limit", time_zone="time_zone", name="name")}
    if a.payment_method:
        kind, method_id = split_spec(a.payment_method, 2, "--payment-method", "TYPE:ID, e.g. directDebit:MANDATE-1")
        data["default_payment_method"] = {"type": kind, "id": method_id}
    r = app.ledger.execute(OpenBillingAccount.parse(data))
    what = "opened" if r["created"] else "already open with the same values (nothing changed)"
    return Outcome(r, f"billing account {r['account_id']} {what}")


def _status_change(model: type[Command]) -> Callable[[App, argparse.Namespace], Outcome]:
    def run(app: App, a: argparse.Namespace) -> Outcome:
        r = app.ledger.execute(model.parse({"account_id": a.account, **given(a, reason="reason")}))
        text = f"billing account {r['account_id']} is {r['status']}"
        if "final_bill" in r:
            text += "\nfinal " + render_bill_summary(r["final_bill"])
        return Outcome(r, text)

    return run


def do_account_show(app: App, a: argparse.Namespace) -> Outcome:
    view = account_view(app.ledger, a.account)
    return Outcome(view, render_account(view))


def _account_currency(app: App, account_ref: Any) -> str | None:
    """The account's currency, to default `--currency` (None without an account id; AccountNotFound when unknown)."""
    if not isinstance(account_ref, str) or not account_ref.strip():
        return None
    return load_account(app.ledger, account_ref.strip()).currency


def _charge_input(a: argparse.Namespace) -> dict[str, Any]:
    data = given(a, charge_id="charge_id", account_id="account", currency="currency", tax_excluded_amount="amount",
                 tax_included_amount="tax_included", date="date", product_ref="product", period_start="period_start",
                 period_end="period_end", description="description")
    if a.type is not None:
        data["type"] = CHARGE_TYPE_ALIASES.get(a.type, a.type)
    if a.tax:
        data["applied_tax"] = taxes(a.tax)
    return data


def do_charge_post(app: App, a: argparse.Namespace) -> Outcome:
    data = _charge_input(a)
    if "currency" not in data and "account_id" in data:
        data["currency"] = _account_currency(app, data["account_id"])
    cmd = PostCharge.parse(data)
    r = app.ledger.execute(cmd)
    what = "applied to" if r["applied"] else "was already applied to (duplicate: nothing changed)"
    return Outcome(r, f"charge {r['charge_id']} {what} account {r['account_id']}; "
                      f"balance {money(r['balance'], cmd.currency)} {cmd.currency}")


def do_charge_import(app: App, a: argparse.Namespace) -> Outcome:
    size = a.batch_size
    if size < 1 or size > 100_000:
        raise InvalidInput(f"--batch-size must be between 1 and 100000, got {size}", batch_size=size)
    ledger = app.ledger
    totals: dict[str, Any] = {"lines": 0, "applied": 0, "duplicates": 0, "rejected": [], "batches": 0}
    batch: list[tuple[int, PostCharge]] = []

    def flush() -> None:
        if not batch:
            return
        lines_of: dict[str, list[int]] = {}
        for number, charge in batch:
            lines_of.setdefault(charge.charge_id, []).append(number)
        try:
            r = ledger.execute(PostCharges.parse({"charges": [c for _, c in batch]}))
        except LedgerError as error:
            if totals["batches"]:
                raise type(error)(f"{error.message} (after {totals['applied']} charges applied in {totals['batches']} "
                                  "earlier batches; re-running the import is safe: charges are idempotent)",
                                  **error.context) from None
            raise
        totals["applied"] += r["applied"]
        totals["duplicates"] += r["duplicates"]
        for rejected in r["rejected"]:
            numbers = lines_of.get(rejected["charge_id"]) or [None]
            totals["rejected"].append({"line": numbers.pop(0), **rejected})
        totals["batches"] += 1
        ledger.progress.advance(len(batch))
        batch.clear()

    try:
        stream = sys.stdin if a.file == "-" else open(a.file, encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"cannot read {a.file}: {error.strerror}", file=a.file) from None
    ledger.progress.start(0, f"importing charges from {'stdin' if a.file == '-' else a.file}")
    try:
        for number, raw in enumerate(stream, 1):
            line = raw.strip()
            if not line:
                continue
            totals["lines"] += 1
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise InvalidInput("each line must be a JSON object (one PostCharge)")
                batch.append((number, PostCharge.parse(data)))
            except json.JSONDecodeError as error:
                totals["rejected"].append({"line": number, "charge_id": None, "error": InvalidInput.code,
                                           "message": f"not valid JSON: {error.msg} at column {error.colno}"})
            except LedgerError as error:
                charge_id = data.get("charge_id") if isinstance(data, dict) else None
                totals["rejected"].append({"line": number, "charge_id": charge_id, "error": error.code,
                                           "message": error.message})
            if len(batch) >= size:
                flush()
        flush()
    finally:
        ledger.progress.finish()
        if stream is not sys.stdin:
            stream.close()
    totals["rejected"].sort(key=lambda r: (r["line"] is None, r["line"] or 0))
    text = [f"charges read {totals['lines']}: applied {totals['applied']}, duplicates {totals['duplicates']}, "
            f"rejected {len(totals['rejected'])} ({totals['batches']} batches)"]
    for r in totals["rejected"]:
        text.append(f"  line {r['line']}: {r['charge_id'] or '-'}: {r['message']} [{r['error']}]")
    return Outcome(totals, "\n".join(text), 1 if totals["rejected"] else 0)


def do_charge_adjust(app: App, a: argparse.Namespace) -> Outcome:
    data = given(a, adjustment_id="adjustment_id", account_id="account", charge_id="charge_id",
                 tax_excluded_amount="amount", date="date", reason="reason")
    if a.tax:
        data["applied_tax"] = taxes(a.tax)
    r = app.ledger.execute(AdjustCharge.parse(data))
    code = _account_currency(app, r["account_id"]) or ""
    what = "applied to" if r["applied"] else "was already applied to (duplicate: nothing changed)"
    return Outcome(r, f"adjustment {r['adjustment_id']} {what} account {r['account_id']}; balance {money(r['balance'], code)} {code}")


def do_cycle_run(app: App, a: argparse.Namespace) -> Outcome:
    data = given(a, specification="spec", period_start="period_start", trigger_type="trigger_type",
                 triggered_by="by", reason="reason")
    if a.no_send:
        data["send"] = False
    r = app.ledger.execute(TriggerBillingCycle.parse(data))
    return Outcome(r, render_cycle(r))


def do_bill_issue(app: App, a: argparse.Namespace) -> Outcome:
    data = {"account_id": a.account, **given(a, request_id="request_id", up_to="up_to")}
    if a.no_send:
        data["send"] = False
    r = app.ledger.execute(IssueOffCycleBill.parse(data))
    code = _account_currency(app, a.account)
    prefix = "off-cycle " if r["created"] else "off-cycle bill for this request already issued (nothing changed): "
    return Outcome(r, prefix + render_bill_summary(r, code))


def do_bill_show(app: App, a: argparse.Namespace) -> Outcome:
    view = bill_view(app.ledger, a.account, a.bill_number)
    return Outcome(view, render_bill(view))


def _bill_action(action: str) -> Callable[[App, argparse.Namespace], Outcome]:
    def run(app: App, a: argparse.Namespace) -> Outcome:
        r = app.ledger.execute(ChangeBillState.parse({"account_id": a.account, "bill_number": a.bill_number,
                                                      "action": action, **given(a, reason="reason")}))
        return Outcome(r, render_bill_summary(r, _account_currency(app, a.account)))

    return run


def _bill_numbers(app: App, account_ref: str) -> dict[str, str]:
    account = load_account(app.ledger, account_ref)
    return {bill_id: number for number, bill_id in account.bills.items()}


def do_payment_record(app: App, a: argparse.Namespace) -> Outcome:
    data = given(a, account_id="account", external_reference="reference", amount="amount", currency="currency",
                 method="method", payer_ref="payer", date="date")
    if "account_id" in data and ("currency" not in data or "payer_ref" not in data):
        account = load_account(app.ledger, data["account_id"].strip())
        data.setdefault("currency", account.currency)
        data.setdefault("payer_ref", account.customer_id)
    allocs = allocations(a.allocate)
    if allocs is not None:
        data["allocations"] = allocs
    cmd = RecordPayment.parse(data)
    r = app.ledger.execute(cmd)
    numbers = _bill_numbers(app, r["account_id"])
    r["allocations"] = [{**x, "bill_number": numbers.get(x["id"])} if x["target"] == "bill" else x for x in r["allocations"]]
    account = load_account(app.ledger, r["account_id"])
    r["bills"] = [load_bill(app.ledger, account, x["bill_number"]).summary() for x in r["allocations"] if x.get("bill_number")]
    return Outcome(r, render_payment(r, cmd.currency))


def do_payment_reverse(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(ReversePayment.parse({"external_reference": a.reference, **given(a, kind="kind", reason="reason")}))
    code = _account_currency(app, r["account_id"])
    lines = [f"payment {r['external_reference']} of {money(r['amount'], code or '')} {code} reversed "
             f"({a.kind}): now {r['status']}"]
    for bill in r["reopened"]:
        lines.append("  reopened " + render_bill_summary(bill, code))
    return Outcome(r, "\n".join(lines))


def do_refund(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(RefundCredit.parse(given(a, account_id="account", refund_id="refund_id", amount="amount",
                                                    method="method", reference="reference", date="date")))
    code = _account_currency(app, r["account_id"]) or ""
    what = "paid out" if r["applied"] else "was already paid out (duplicate: nothing changed)"
    return Outcome(r, f"refund {r['refund_id']} {what}; credit balance of {r['account_id']} now "
                      f"{money(r['credit_balance'], code)} {code}")


def do_history(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.queries.history import account_history

    query = HistoryQuery.parse({"account_id": a.account, **given(a, as_of="as_of", basis="basis")})
    history = account_history(app.ledger, query.account_id, query.as_of, query.basis)
    data = history.to_dict()
    return Outcome(data, render_history(data))


def do_verify(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.queries.verify import verify

    report = verify(app.ledger)
    data = report.to_dict()
    checked = ", ".join(f"{n} {kind}" for kind, n in report.checked.items())
    lines = [f"verified {checked}"]
    if report.ok:
        lines.append("OK: every aggregate replays to its current state and the books balance")
    else:
        lines.append(f"{len(report.differences)} difference(s):")
        lines += [f"  {d}" for d in report.differences]
    return Outcome(data, "\n".join(lines), 0 if report.ok else 1)


def do_demo(app: App, a: argparse.Namespace) -> Outcome:
    import io
    import tempfile

    from ledger.cli.demo import DemoClock, run_demo

    if a.store_path:
        path = Path(a.store_path)
        if path.exists() and path.stat().st_size > 0:
            raise InvalidInput(f"the demo needs a fresh store, and {path} already exists: remove it or pick another path",
                               store_path=path)
    else:
        path = Path(tempfile.mkdtemp(prefix="ledger-demo-")) / "demo.sqlite"
    settings = app.settings.model_copy(update={"store": "sqlite", "sqlite_path": path})
    clock = DemoClock()
    ledger = bootstrap(settings, clock=clock, progress=ProgressBar())
    out = io.StringIO() if app.args.json else sys.stdout
    from ledger.projections.database import ReadModelDatabase

    read_models = ReadModelDatabase.sqlite(path.with_name(path.stem + ".read_models.sqlite")).create()
    try:
        summary = run_demo(ledger, out, clock=clock, read_models=read_models)
    finally:
        read_models.close()
        ledger.close()
    summary = {"store_path": str(path), **summary}
    if app.args.json:
        summary["transcript"] = out.getvalue()  # type: ignore[union-attr]
    ok = summary.get("verify", {}).get("ok", True)
    return Outcome(summary, f"\n(demo store: {path})", 0 if ok else 1)


# --------------------------------------------------------------------------- parser


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 2 like a refused command (argparse's own convention)."""


def build_parser() -> argparse.ArgumentParser:
    def global_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
        # The same global flags work before or after the subcommand; only the top level sets defaults.
        kw: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
        parser.add_argument("--json", action="store_true", help="machine output: one JSON document on stdout", **kw)
        parser.add_argument("--log-level", type=str.upper, choices=LEVELS,
                            help="log level (default: LEDGER_LOG_LEVEL or INFO)", **kw)
        parser.add_argument("--log-format", choices=["auto", "json", "console"],
                            help="logs on stderr: JSON lines, or a console view (auto, the default: console on a "
                                 "terminal, JSON otherwise and with --json)", **({"default": "auto"} if defaults else kw))

    p = _Parser(prog="ledger", description="Event-sourced billing ledger: accounts, charges, billing cycles, bills, payments.")
    global_options(p, defaults=True)
    top = p.add_subparsers(dest="command", metavar="COMMAND")

    def leaf(parent: Any, name: str, func: Callable[[App, argparse.Namespace], Outcome], help: str) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help, description=help)
        global_options(sub, defaults=False)
        sub.set_defaults(func=func)
        return sub

    def group(name: str, help: str) -> Any:
        g = top.add_parser(name, help=help, description=help)
        return g.add_subparsers(dest="action", metavar="ACTION", required=True)

    # cycle-spec
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

    # account
    g = group("account", "billing accounts")
    s = leaf(g, "open", do_account_open, "open a billing account")
    s.add_argument("account", help="account id (your reference)")
    s.add_argument("--customer", help="customer id")
    s.add_argument("--currency", help="ISO 4217 code, e.g. EUR")
    s.add_argument("--cycle-spec", help="billing cycle specification name")
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
    s = leaf(g, "show", do_account_show, "an account's current state, open bills and bills")
    s.add_argument("account")

    # charge
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

    # cycle
    g = group("cycle", "billing cycle runs")
    s = leaf(g, "run", do_cycle_run, "trigger (or resume) a billing cycle occurrence and bill its accounts")
    s.add_argument("--spec", help="billing cycle specification name")
    s.add_argument("--period-start", help="first day of the period, e.g. 2026-10-01")
    s.add_argument("--trigger-type", help="person, scheduler or system")
    s.add_argument("--by", help="who or what triggered the run")
    s.add_argument("--reason")
    s.add_argument("--no-send", action="store_true", help="leave the bills new (not validated and sent)")

    # bill
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

    # payment
    g = group("payment", "customer payments (TMF676)")
    s = leaf(g, "record", do_payment_record, "record a received payment (default: oldest due bill first)")
    s.add_argument("--account")
    s.add_argument("--reference", help="external reference (idempotency key)")
    s.add_argument("--amount")
    s.add_argument("--currency", help="default: the account's currency")
    s.add_argument("--method", help="cash, check, bankCard, thirdParty, accountBalance, loyaltyBurn, digitalWallet, directDebit")
    s.add_argument("--payer", help="payer reference (default: the account's customer)")
    s.add_argument("--date", help="payment moment with offset")
    s.add_argument("--allocate", action="append", metavar="bill:NUMBER:AMOUNT|charge:ID:AMOUNT",
                   help="pay this much of a bill or an unbilled charge (repeatable); the rest goes to credit balance")
    s = leaf(g, "reverse", do_payment_reverse, "reverse a payment (bounced check, chargeback): its bills reopen")
    s.add_argument("reference", help="the payment's external reference")
    s.add_argument("--kind", help="bouncedCheck, chargeback or other")
    s.add_argument("--reason")

    s = leaf(top, "refund", do_refund, "refund part of an account's credit balance")
    s.add_argument("--account")
    s.add_argument("--refund-id", help="idempotency key of this refund")
    s.add_argument("--amount")
    s.add_argument("--method")
    s.add_argument("--reference", help="e.g. the bank transfer reference")
    s.add_argument("--date", help="refund moment with offset")

    s = leaf(top, "history", do_history, "an account's history replayed from its events, with a running balance")
    s.add_argument("account")
    s.add_argument("--as-of", help="stop at this moment (with offset)")
    s.add_argument("--basis", help="recorded (default: what the ledger knew then) or effective (what was in force then)")

    leaf(top, "verify", do_verify, "rebuild every aggregate from its events and check the books (exit 1 on differences)")

    add_stream_commands(top, leaf, group)

    s = leaf(top, "demo", do_demo, "run a guided demo on a fresh SQLite store")
    s.add_argument("--store-path", help="SQLite file for the demo (must not exist yet; default: a fresh temp file)")
    return p


# --------------------------------------------------------------------------- entry point


def _report(error: LedgerError, as_json: bool, out: TextIO, err: TextIO) -> None:
    if as_json:
        out.write(dump_json(error.to_dict()) + "\n")
    err.write(f"error: {error.message} [{error.code}]\n")


def main(argv: list[str] | None = None) -> int:
    """Run one ledger command; returns the exit code (0 ok, 1 needs a look, 2 refused or bad usage)."""
    tune_gc()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    out, err = sys.stdout, sys.stderr
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join((f"LEDGER_{str(e['loc'][0]).upper()}: " if e["loc"] else "") + e["msg"].removeprefix("Value error, ")
                             for e in error.errors())
        _report(InvalidInput(f"invalid LEDGER_* settings: {problems}"), args.json, out, err)
        return 2
    level = args.log_level or settings.log_level
    if args.log_level is None and "log_level" not in settings.model_fields_set and args.command == "demo":
        level = "WARNING"  # the demo narrates on stdout; one log line per command would drown it on a terminal
    try:
        configure_logging(level, {"auto": True if args.json else None, "json": True, "console": False}[args.log_format])
    except ValueError as error:
        _report(InvalidInput(f"invalid LEDGER_LOG_LEVEL: {error}"), args.json, out, err)
        return 2
    app = App(settings, args)
    try:
        outcome = args.func(app, args)
    except LedgerError as error:
        _report(error, args.json, out, err)
        return 2
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    finally:
        app.close()
    out.write((dump_json(outcome.data) if args.json else outcome.text) + "\n")
    out.flush()
    return outcome.code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
