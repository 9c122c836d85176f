"""`ledger payment ...` and `ledger refund`: payments received (TMF676), their reversal, refunds of credit."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledger.cli.bills import account_currency, render_bill_summary
from ledger.cli.context import App, Outcome
from ledger.cli.options import allocations, given, name_flags
from ledger.cli.output import money
from ledger.commands import RecordPayment, RefundCredit, ReversePayment
from ledger.commands.lookups import load_account, load_bill
from ledger.commands.results import BillSummary


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


def do_payment_record(app: App, a: argparse.Namespace) -> Outcome:
    data = given(a, account_id="account", external_reference="reference", amount="amount", currency="currency",
                 method="method", payer_ref="payer", date="date")
    store = app.ledger.store
    if "account_id" in data and ("currency" not in data or "payer_ref" not in data):
        account = load_account(store, data["account_id"].strip())
        data.setdefault("currency", account.currency)
        data.setdefault("payer_ref", account.customer_id)
    name_flags(a, allocations="allocate")
    allocs = allocations(a.allocate)
    if allocs is not None:
        data["allocations"] = allocs
    cmd = RecordPayment.parse(data)
    r = app.ledger.execute(cmd).to_dict()
    account = load_account(store, r["account_id"])
    numbers = {bill_id: number for number, bill_id in account.bills.items()}
    r["allocations"] = [{**x, "bill_number": numbers.get(x["id"])} if x["target"] == "bill" else x for x in r["allocations"]]
    r["bills"] = [BillSummary.of(load_bill(store, account, x["bill_number"])).to_dict()
                  for x in r["allocations"] if x.get("bill_number")]
    return Outcome(r, render_payment(r, cmd.currency))


def do_payment_reverse(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(ReversePayment.parse(given(a, external_reference="reference", kind="kind", reason="reason",
                                                      date="date")))
    code = account_currency(app, r.account_id)
    lines = [f"payment {r.external_reference} of {money(r.amount, code or '')} {code} reversed "
             f"({a.kind}): now {r.status}"]
    for bill in r.reopened:
        lines.append("  reopened " + render_bill_summary(bill.to_dict(), code))
    return Outcome(r, "\n".join(lines))


def do_refund(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(RefundCredit.parse(given(a, account_id="account", refund_id="refund_id", amount="amount",
                                                    method="method", reference="reference", date="date")))
    code = account_currency(app, r.account_id) or ""
    what = "paid out" if r.applied else "was already paid out (duplicate: nothing changed)"
    return Outcome(r, f"refund {r.refund_id} {what}; credit balance of {r.account_id} now "
                      f"{money(r.credit_balance, code)} {code}")


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
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
    s.add_argument("--date", help="when the reversal takes effect, with offset (e.g. the bank's return date)")

    s = leaf(top, "refund", do_refund, "refund part of an account's credit balance")
    s.add_argument("--account")
    s.add_argument("--refund-id", help="idempotency key of this refund")
    s.add_argument("--amount")
    s.add_argument("--method")
    s.add_argument("--reference", help="e.g. the bank transfer reference")
    s.add_argument("--date", help="refund moment with offset")
