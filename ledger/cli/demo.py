"""`ledger demo`: a guided October-November 2026 on a fresh store, narrated on a text stream.

The demo drives the ledger only through its commands (the same ones the CLI and API use) and reads back
through the same views as `ledger account show`, `ledger bill show` and `ledger history`. A controllable
clock walks through the two months so recorded dates, due dates and overdue flags mean something.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr

from ledger.bootstrap import bootstrap, demo_read_models, local_projection
from ledger.cli.accounts import render_account
from ledger.cli.audit import render_history
from ledger.cli.bills import render_bill
from ledger.cli.context import App, Outcome
from ledger.cli.cycles import render_cycle
from ledger.cli.output import money as fmt_money
from ledger.cli.output import stamp
from ledger.cli.progress import ProgressBar
from ledger.commands import (
    AdjustCharge,
    ChangeSubscription,
    CreateCustomer,
    CreateProductOffering,
    CreateSubscription,
    DefineCycleSpecification,
    LinkAccountToCustomer,
    OpenBillingAccount,
    PostCharge,
    RecordPayment,
    RefundCredit,
    ReversePayment,
    TriggerBillingCycle,
)
from ledger.commands.base import Command
from ledger.commands.lookups import load_account
from ledger.errors import InvalidInput, LedgerError
from ledger.projections.reader import account_overview
from ledger.projections.verify import verify_read_models
from ledger.queries.accounts import account_view
from ledger.queries.bills import bill_view
from ledger.queries.customers import accounts_without_customer
from ledger.queries.history import account_history
from ledger.queries.verify import verify
from ledger.service import Ledger

START = datetime(2026, 10, 1, 7, 0, tzinfo=UTC)
SPEC = "monthly"
PLANS_SPEC = "monthly-plans"  # the subscriber's own bill run, so the usage run's figures stay as they were

# The subscriber: a customer with personal data, an account in Paris time, Basic from 15 October, Plus from 15 November.
CUSTOMER = {
    "customer_id": "CUST-CLAIRE", "party_type": "individual", "name": "Claire Dubois-Lefèvre",
    "contact_medium": [
        {"medium_type": "email", "preferred": True, "email_address": "claire.dubois@example.fr"},
        {"medium_type": "phone", "phone_number": "+33 4 72 00 00 00"},
    ],
    "billing_address": {"street1": "12 rue de la République", "post_code": "69002", "city": "Lyon", "country": "FR"},
    "preferences": {"bill_presentation_media": "email", "language": "fr"},
}
SUBSCRIBER = {"account_id": "CLAIRE-LYON", "customer_id": "CUST-CLAIRE", "name": "Claire Dubois-Lefèvre",
              "currency": "EUR", "time_zone": "Europe/Paris"}
OFFERINGS = [("BASIC", "Basic", "20.00"), ("PLUS", "Plus", "35.00")]
SUBSCRIPTION = "SUB-CLAIRE-1"

# The four usage accounts are opened as a ledger started before its customer registry has them: each names its
# customer's number in the old billing system, a customer the ledger does not have. In November the operator
# migrates them (MIGRATION): creates their customers, then links each account to its customer (LinkAccountToCustomer).
ACCOUNTS = [
    {"account_id": "ACME-PARIS", "customer_id": "LEGACY-ACME", "name": "Acme SARL", "currency": "EUR",
     "time_zone": "Europe/Paris"},
    {"account_id": "GLOBEX-NYC", "customer_id": "LEGACY-GLOBEX", "name": "Globex Inc.", "currency": "USD",
     "time_zone": "America/New_York"},
    {"account_id": "INITECH-TOKYO", "customer_id": "LEGACY-INITECH", "name": "Initech KK", "currency": "JPY",
     "time_zone": "Asia/Tokyo"},
    {"account_id": "ANNA-PREPAID", "customer_id": "LEGACY-ANNA", "name": "Anna Schmidt", "currency": "EUR",
     "time_zone": "Europe/Berlin", "rating_type": "prepaid", "credit_limit": "5.00"},
]
# account -> (its customer in the registry, party type, email): the migration's customers and its links file
MIGRATION = {
    "ACME-PARIS": ("CUST-ACME", "organization", "billing@acme.example.fr"),
    "GLOBEX-NYC": ("CUST-GLOBEX", "organization", "accounts@globex.example.com"),
    "INITECH-TOKYO": ("CUST-INITECH", "organization", "keiri@initech.example.jp"),
    "ANNA-PREPAID": ("CUST-ANNA", "individual", "anna.schmidt@example.de"),
}


class DemoClock:
    """A clock the demo moves forward by hand (never backwards)."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        if moment < self.now:
            raise ValueError(f"the demo clock only moves forward ({moment} < {self.now})")
        self.now = moment


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _charge(charge_id: str, account: str, code: str, amount: str, date: str, taxes: Sequence[tuple[str, str, str]] = (),
            kind: str = "appliedBillingCharge", description: str = "", product: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "charge_id": charge_id, "account_id": account, "currency": code, "type": kind, "tax_excluded_amount": amount,
        "applied_tax": [{"tax_category": c, "tax_rate": r, "tax_amount": a} for c, r, a in taxes],
        "date": date, "description": description,
    }
    if product:
        data["product_ref"] = product
    return data


CHARGES = [
    # Acme, Paris: rated data usage with 6-decimal amounts and 20% VAT, then a goodwill credit.
    _charge("usage-paris-001", "ACME-PARIS", "EUR", "18.456789", "2026-10-07T09:15:00+02:00", [("VAT", "20", "3.691358")],
            description="data 1,845.6789 MB", product="DATA-EU"),
    _charge("usage-paris-002", "ACME-PARIS", "EUR", "23.104167", "2026-10-19T18:40:00+02:00", [("VAT", "20", "4.620833")],
            description="data 2,310.4167 MB", product="DATA-EU"),
    _charge("credit-paris-outage", "ACME-PARIS", "EUR", "5.000000", "2026-10-14T12:00:00+02:00", [("VAT", "20", "1.000000")],
            kind="appliedBillingCredit", description="goodwill credit: outage on 12 October"),
    # Globex, New York: usage with 8.875% sales tax, and a late-payment penalty (tax exempt).
    _charge("usage-nyc-001", "GLOBEX-NYC", "USD", "112.500000", "2026-10-10T14:00:00-04:00",
            [("US-NY sales tax", "8.875", "9.984375")], description="voice 1,500 min", product="VOICE-US"),
    _charge("penalty-nyc-latefee", "GLOBEX-NYC", "USD", "25.00", "2026-10-16T12:00:00-04:00",
            kind="appliedPenaltyCharge", description="late payment fee, September bill"),
    # Initech, Tokyo: yen has no minor unit, yet rated amounts still carry decimals until the bill rounds them.
    _charge("usage-tokyo-001", "INITECH-TOKYO", "JPY", "4380.5", "2026-10-03T10:00:00+09:00",
            [("JCT", "10", "438.05")], description="roaming data", product="ROAM-APAC"),
    _charge("usage-tokyo-002", "INITECH-TOKYO", "JPY", "1250.333333", "2026-10-22T16:20:00+09:00",
            [("JCT", "10", "125.033333")], description="voice 375.1 min", product="VOICE-JP"),
]


class _Narrator:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.step = 0

    def section(self, title: str) -> None:
        self.step += 1
        self.say(f"\n== {self.step}. {title} ==")

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def block(self, text: str, indent: str = "  ") -> None:
        for line in text.splitlines():
            self.say((indent + line).rstrip())


def run_demo(ledger: Ledger, out: TextIO, clock: DemoClock | None = None, read_models: Any = None) -> dict[str, Any]:
    """Run the demo on a fresh ledger, writing the story to `out`; returns a JSON-ready summary.

    The clock is `clock`, else the ledger's own clock if it is a DemoClock; otherwise a DemoClock is installed.
    """
    if clock is None:
        clock = ledger.clock if isinstance(ledger.clock, DemoClock) else DemoClock()
    ledger.clock = clock
    say = _Narrator(out)
    store = ledger.store

    def run(command: Command) -> dict[str, Any]:
        return ledger.execute(command).to_dict()

    def money(amount: Any, code: str) -> str:
        return f"{fmt_money(amount, code)} {code}"

    say.say("Ledger demo: October and November 2026 for four billing accounts and a subscriber (clock starts "
            f"{stamp(clock())}).")

    # ------------------------------------------------------------------ set-up
    say.section("Set-up: a cycle specification and four accounts; a customer, a catalogue and a subscription")
    run(DefineCycleSpecification.parse({"name": SPEC, "frequency": "monthly", "billing_day": 1,
                                        "mailing_date_offset": 2, "payment_due_date_offset": 14}))
    say.say(f"cycle specification '{SPEC}': monthly periods from the 1st, bill the day after the period ends, "
            "payment due 14 days later")
    for account in ACCOUNTS:
        run(OpenBillingAccount.parse({**account, "cycle_specification": SPEC}))
        kind = account.get("rating_type", "postpaid")
        limit = f", credit limit {money(account['credit_limit'], account['currency'])}" if "credit_limit" in account else ""
        say.say(f"opened {account['account_id']:<14} {kind:<8} {account['currency']}  {account['time_zone']:<17}"
                f" {account['name']}{limit}")
    _plans_setup(run, say)

    # ------------------------------------------------------------------ October usage
    say.section("October: the rating system posts charges")
    clock.set(_at("2026-10-02T08:00:00+00:00"))
    topup = run(RecordPayment.parse({"account_id": "ANNA-PREPAID", "external_reference": "TOPUP-ANNA-1", "amount": "20.00",
                                     "currency": "EUR", "method": "bankCard", "payer_ref": "LEGACY-ANNA",
                                     "date": "2026-10-02T08:00:00+00:00"}))
    say.say(f"ANNA-PREPAID tops up {money(topup['amount'], 'EUR')} (prepaid balance {money(topup['to_balance'], 'EUR')})")
    for charge in sorted(CHARGES, key=lambda c: _at(c["date"])):
        clock.set(max(clock(), _at(charge["date"]).astimezone(UTC) + timedelta(minutes=5)))  # rated shortly after use
        result = run(PostCharge.parse(charge))
        signed = ("-" if charge["type"] == "appliedBillingCredit" else "") + charge["tax_excluded_amount"]
        tax_text = ", ".join(f"{t['tax_category']} {t['tax_rate']}% {t['tax_amount']}" for t in charge["applied_tax"])
        say.say(f"{charge['account_id']:<14} {charge['type']:<21} {charge['charge_id']:<20} "
                f"{signed:>12} {charge['currency']}"
                + (f" + {tax_text}" if tax_text else "")
                + f"   -> balance {money(result['balance'], charge['currency'])}")

    again = run(PostCharge.parse(CHARGES[0]))
    say.say(f"the rating system re-sends {CHARGES[0]['charge_id']}: applied={again['applied']} "
            "(same charge id and content: a duplicate, nothing changes)")

    clock.set(_at("2026-10-24T09:00:00+00:00"))
    adjustment = run(AdjustCharge.parse({
        "adjustment_id": "adj-tokyo-001", "account_id": "INITECH-TOKYO", "charge_id": "usage-tokyo-001",
        "tax_excluded_amount": "-500", "applied_tax": [{"tax_category": "JCT", "tax_rate": "10", "tax_amount": "-50"}],
        "date": "2026-10-24T18:00:00+09:00", "reason": "rating correction: roaming zone misapplied"}))
    say.say(f"INITECH-TOKYO adjustment adj-tokyo-001 of usage-tokyo-001: -500 JPY + JCT -50 "
            f"-> balance {money(adjustment['balance'], 'JPY')}")

    clock.set(_at("2026-10-25T10:00:00+00:00"))
    usage = run(PostCharge.parse(_charge("usage-anna-001", "ANNA-PREPAID", "EUR", "10.416667", "2026-10-25T11:00:00+02:00",
                                         [("VAT", "19", "1.979167")], description="data 1 GB")))
    say.say(f"ANNA-PREPAID usage-anna-001 10.416667 EUR + VAT 19% 1.979167 -> balance {money(usage['balance'], 'EUR')} "
            "(prepaid: negative balance = money left)")
    refused_charge = _charge("usage-anna-002", "ANNA-PREPAID", "EUR", "15.00", "2026-10-26T20:00:00+01:00",
                             [("VAT", "19", "2.85")], description="data 2 GB")
    clock.set(_at("2026-10-26T19:05:00+00:00"))
    refusal: dict[str, Any] = {}
    try:
        run(PostCharge.parse(refused_charge))
    except LedgerError as error:
        refusal = error.to_dict()
        say.say(f"ANNA-PREPAID usage-anna-002 17.85 EUR REFUSED [{error.code}]: {error.message}")
    anna = load_account(store, "ANNA-PREPAID")
    say.say(f"  nothing changed: prepaid balance still {money(anna.prepaid_balance, 'EUR')}, "
            f"credit limit {money(anna.credit_limit, 'EUR')}")

    # Charges near midnight: each account's own time zone decides which month they belong to.
    clock.set(_at("2026-10-31T16:00:00+00:00"))
    run(PostCharge.parse(_charge("usage-tokyo-003", "INITECH-TOKYO", "JPY", "980", "2026-11-01T00:30:00+09:00",
                                 [("JCT", "10", "98")], description="night usage")))
    say.say("INITECH-TOKYO usage-tokyo-003 at 2026-11-01 00:30 Tokyo time (still 31 October in UTC): a November charge")
    clock.set(_at("2026-11-01T04:00:00+00:00"))
    run(PostCharge.parse(_charge("usage-nyc-002", "GLOBEX-NYC", "USD", "7.333333", "2026-10-31T23:30:00-04:00",
                                 [("US-NY sales tax", "8.875", "0.650833")], description="late-night voice")))
    say.say("GLOBEX-NYC usage-nyc-002 at 2026-10-31 23:30 New York time (already 1 November in UTC): an October charge")

    # ------------------------------------------------------------------ the cycle run
    say.section("1 November: alice runs the October billing cycle")
    clock.set(_at("2026-11-01T06:00:00+00:00"))
    cycle = run(TriggerBillingCycle.parse({"specification": SPEC, "period_start": "2026-10-01", "trigger_type": "person",
                                           "triggered_by": "alice", "reason": "October bill run"}))
    say.block(render_cycle(cycle))
    bills: dict[str, dict[str, Any]] = {}
    for account in ACCOUNTS[:3]:
        view = account_view(store, ledger.now, account["account_id"]).to_dict()
        for bill in view["bills"]:
            bills[bill["bill_number"]] = {"account_id": account["account_id"], "currency": account["currency"], **bill}
            say.say(f"  {bill['bill_number']:<20} {bill['state']:<6} "
                    f"amount due {money(bill['amount_due'], account['currency']):>14}"
                    f"  due {bill['payment_due_date']}")
    plans_first = _plans_cycle(ledger, run, say, "2026-10-01")
    tokyo = load_account(store, "INITECH-TOKYO")
    say.say(f"  INITECH-TOKYO keeps {len(tokyo.unbilled)} unbilled entry (usage-tokyo-003, November in Tokyo); "
            "ANNA-PREPAID is prepaid: no bill")
    paris_bill = "ACME-PARIS-00001"
    say.say("")
    say.say("The Paris bill: entries summed exactly, each tax item rounded once (ROUND_HALF_UP to cents):")
    say.block(render_bill(bill_view(store, ledger.now, "ACME-PARIS", paris_bill).to_dict()))

    # ------------------------------------------------------------------ November payments
    say.section("November: payments, a bounced check, a refund")
    clock.set(_at("2026-11-05T09:00:00+00:00"))
    payment = run(RecordPayment.parse({"account_id": "ACME-PARIS", "external_reference": "PAY-ACME-1", "amount": "30.00",
                                       "currency": "EUR", "method": "bankCard", "payer_ref": "LEGACY-ACME",
                                       "date": "2026-11-05T10:00:00+01:00"}))
    bill = bill_view(store, ledger.now, "ACME-PARIS", paris_bill).to_dict()
    say.say(f"ACME-PARIS pays {money(payment['amount'], 'EUR')} of {money(bill['amount_due'], 'EUR')}: "
            f"bill {paris_bill} is {bill['state']}, {money(bill['remaining_amount'], 'EUR')} still to pay")

    clock.set(_at("2026-11-06T15:00:00+00:00"))
    payment = run(RecordPayment.parse({"account_id": "GLOBEX-NYC", "external_reference": "PAY-GLOBEX-1", "amount": "200.00",
                                       "currency": "USD", "method": "directDebit", "payer_ref": "LEGACY-GLOBEX",
                                       "date": "2026-11-06T10:00:00-05:00"}))
    globex = load_account(store, "GLOBEX-NYC")
    bill = bill_view(store, ledger.now, "GLOBEX-NYC", "GLOBEX-NYC-00001").to_dict()
    say.say(f"GLOBEX-NYC pays {money(payment['amount'], 'USD')} for a bill of {money(bill['amount_due'], 'USD')}: "
            f"bill is {bill['state']}, overpayment {money(payment['to_balance'], 'USD')} becomes credit balance "
            f"(balance {money(globex.balance, 'USD')})")

    clock.set(_at("2026-11-07T02:00:00+00:00"))
    bill = bill_view(store, ledger.now, "INITECH-TOKYO", "INITECH-TOKYO-00001").to_dict()
    run(RecordPayment.parse({"account_id": "INITECH-TOKYO", "external_reference": "CHK-INITECH-1",
                             "amount": str(bill["amount_due"]), "currency": "JPY", "method": "check",
                             "payer_ref": "LEGACY-INITECH", "date": "2026-11-07T11:00:00+09:00"}))
    bill = bill_view(store, ledger.now, "INITECH-TOKYO", "INITECH-TOKYO-00001").to_dict()
    say.say(f"INITECH-TOKYO pays {money(bill['amount_due'], 'JPY')} by check: bill INITECH-TOKYO-00001 is {bill['state']}")

    clock.set(_at("2026-11-12T01:00:00+00:00"))
    reversal = run(ReversePayment.parse({"external_reference": "CHK-INITECH-1", "kind": "bouncedCheck",
                                         "reason": "check returned unpaid: insufficient funds",
                                         "date": "2026-11-12T10:00:00+09:00"}))
    for reopened in reversal["reopened"]:
        say.say(f"the check bounces: payment CHK-INITECH-1 is {reversal['status']}; bill {reopened['bill_number']} "
                f"reopens as {reopened['state']}, {money(reopened['remaining_amount'], 'JPY')} to pay again")

    clock.set(_at("2026-11-15T08:00:00+00:00"))
    _plans_upgrade(run, say)

    clock.set(_at("2026-11-16T14:00:00+00:00"))
    refund = run(RefundCredit.parse({"account_id": "GLOBEX-NYC", "refund_id": "REF-GLOBEX-1", "amount": "30.00",
                                     "method": "bankCard", "reference": "card refund 2026-11-16",
                                     "date": "2026-11-16T09:00:00-05:00"}))
    say.say(f"GLOBEX-NYC asks for part of its credit back: refund {money('30.00', 'USD')}, credit balance now "
            f"{money(refund['credit_balance'], 'USD')}")

    clock.set(_at("2026-11-18T09:00:00+00:00"))
    links = _migrate_customers(ledger, run, say)

    # ------------------------------------------------------------------ read back
    clock.set(_at("2026-11-20T09:00:00+00:00"))
    say.section("20 November: where ACME-PARIS stands (its bill was due on the 15th)")
    say.block(render_account(account_view(store, ledger.now, "ACME-PARIS").to_dict()))

    say.section("Audit: ACME-PARIS replayed from its events, with a running balance")
    history = account_history(store, "ACME-PARIS").to_dict()
    say.block(render_history(history))
    say.say("")
    end_of_october = _at("2026-10-31T23:59:59+01:00")
    as_of = account_history(store, "ACME-PARIS", as_of=end_of_october, basis="effective").to_dict()
    say.say(f"  what was in force at the end of October (Paris time), effective basis: balance "
            f"{money(as_of['balance'], 'EUR')} over {len(as_of['lines'])} lines")

    clock.set(_at("2026-12-01T06:00:00+00:00"))
    plans_second = _plans_cycle(ledger, run, say, "2026-11-01")
    subscription_bills = {**plans_first, **plans_second}

    say.section("Verify: every aggregate rebuilt from its events, and the books checked")
    report = verify(store, ledger.progress)
    checked = ", ".join(f"{n} {kind}" for kind, n in report.checked.items())
    say.say(f"checked {checked}")
    if report.ok:
        say.say("OK: no differences")
    else:
        say.say(f"{len(report.differences)} difference(s):")
        say.block("\n".join(report.differences))

    read_model_summary = _show_read_models(ledger, say, read_models) if read_models is not None else None

    final = {}
    for number, info in bills.items():
        current = bill_view(store, ledger.now, info["account_id"], number).to_dict()
        final[number] = {"account_id": info["account_id"], "state": current["state"],
                         "amount_due": str(current["amount_due"]), "remaining_amount": str(current["remaining_amount"])}
    return {
        "cycle": {"specification": SPEC, "period_start": "2026-10-01", "triggers": cycle["triggers"],
                  "accounts_billed": cycle["accounts_billed"], "accounts_skipped": cycle["accounts_skipped"],
                  "totals": cycle["totals"]},
        "refusal": refusal,
        "links": links,
        "bills": final,
        "subscription_bills": subscription_bills,
        "history": history,
        "verify": report.to_dict(),
        **({"read_models": read_model_summary} if read_model_summary else {}),
    }


def _plans_setup(run: Callable[[Command], dict[str, Any]], say: _Narrator) -> None:
    """A customer (personal data sealed with its own key), a two-offering catalogue, an account, a subscription."""
    run(DefineCycleSpecification.parse({"name": PLANS_SPEC, "frequency": "monthly", "billing_day": 1,
                                        "mailing_date_offset": 2, "payment_due_date_offset": 14}))
    customer = run(CreateCustomer.parse(CUSTOMER))
    say.say(f"customer {customer['customer_id']} created ({CUSTOMER['party_type']}, status {customer.get('status', '-')}): "
            "name, email, phone and billing address are sealed with the customer's own key (erasable)")
    for offering_id, name, amount in OFFERINGS:
        run(CreateProductOffering.parse({"offering_id": offering_id, "name": name, "prices": [{
            "price_id": "monthly", "price_type": "recurring", "currency": "EUR", "amount": amount,
            "recurring_period": "monthly", "timing": "advance", "valid_from": "2026-01-01"}]}))
        say.say(f"product offering {offering_id:<6} {name:<6} {amount} EUR a month, billed in advance")
    run(OpenBillingAccount.parse({**SUBSCRIBER, "cycle_specification": PLANS_SPEC}))
    say.say(f"opened {SUBSCRIBER['account_id']:<14} postpaid EUR  {SUBSCRIBER['time_zone']:<17} {SUBSCRIBER['name']}"
            f" (customer {SUBSCRIBER['customer_id']}, cycle specification '{PLANS_SPEC}')")
    sub = run(CreateSubscription.parse({"subscription_id": SUBSCRIPTION, "account_id": SUBSCRIBER["account_id"],
                                        "offering_id": "BASIC", "start_date": "2026-10-15"}))
    say.say(f"subscription {sub['subscription_id']}: {sub['account_id']} takes BASIC from {sub['start_date']} "
            f"(status today: {sub['status']})")


def _migrate_customers(ledger: Ledger, run: Callable[[Command], dict[str, Any]], say: _Narrator) -> list[dict[str, Any]]:
    """The migration path for accounts opened before their customers: create the customers, link each account to
    its customer (LinkAccountToCustomer), run the links again (nothing changes), check no account is left unlinked."""
    say.section("18 November: migration: the four usage accounts get their customers")
    say.say("the four usage accounts were opened naming their customers' numbers in the old billing system, customers "
            "the ledger does not have:")
    named = [(account["account_id"], account["customer_id"]) for account in ACCOUNTS]
    for account_ref, customer_ref in accounts_without_customer(ledger.store, named):
        say.say(f"  {account_ref:<14} names {customer_ref}: not a customer of the ledger")
    for account in ACCOUNTS:
        customer_id, party_type, email = MIGRATION[account["account_id"]]
        run(CreateCustomer.parse({"customer_id": customer_id, "party_type": party_type, "name": account["name"],
                                  "contact_medium": [{"medium_type": "email", "preferred": True,
                                                      "email_address": email}]}))
        say.say(f"customer {customer_id:<12} created ({party_type}): {account['name']} (personal data sealed)")
    links = []
    for account in ACCOUNTS:
        linked = run(LinkAccountToCustomer.parse({"account_id": account["account_id"],
                                                  "customer_id": MIGRATION[account["account_id"]][0]}))
        links.append(linked)
        say.say(f"{linked['account_id']:<14} linked to customer {linked['customer_id']} (it named "
                f"{linked['previous_customer_id']}): no money moves, its bills now report under its customer")
    again = [run(LinkAccountToCustomer.parse({"account_id": a["account_id"], "customer_id": MIGRATION[a["account_id"]][0]}))
             for a in ACCOUNTS]
    say.say(f"the links run again: {sum(not x['changed'] for x in again)} of {len(again)} unchanged "
            "(an account already naming its customer is left as it is: a migration can be re-run)")
    every = [*named, (SUBSCRIBER["account_id"], SUBSCRIBER["customer_id"])]
    current = [(ref, load_account(ledger.store, ref).customer_id) for ref, _ in every]
    left = accounts_without_customer(ledger.store, current)
    say.say(f"accounts naming no existing customer: {len(left)} of {len(current)}"
            + (": LEDGER_ACCOUNTS_NEED_CUSTOMER=true can now refuse accounts for unknown customers" if not left else ""))
    return links


def _plans_upgrade(run: Callable[[Command], dict[str, Any]], say: _Narrator) -> None:
    sub = run(ChangeSubscription.parse({"subscription_id": SUBSCRIPTION, "offering_id": "PLUS",
                                        "effective_date": "2026-11-15"}))
    say.say(f"CLAIRE-LYON upgrades {sub['subscription_id']} to {sub['offering_id']} from 15 November, effective "
            "immediately: November (already billed in advance at BASIC) will be corrected at the next run")


# What the subscriber's two bills carry, computed by hand (Paris days; amount x days / days in period, 6 places):
#   October run (bill of 1 November): BASIC 15-31 Oct  20.00 x 17/31 = 10.967742
#                                     BASIC November (in advance)      = 20.000000   -> bill 30.967742 = 30.97
#   November run (bill of 1 December): credit for BASIC 15-30 Nov, unused: 20.00 x 14/30 - 20.00 = -10.666667
#                                      PLUS 15-30 Nov  35.00 x 16/30 = 18.666667
#                                      PLUS December (in advance)    = 35.000000  -> bill 43.000000 = 43.00
HAND_COMPUTED = {
    "CLAIRE-LYON-00001": {"lines": ["10.967742", "20.000000"], "amount_due": "30.97"},
    "CLAIRE-LYON-00002": {"lines": ["-10.666667", "18.666667", "35.000000"], "amount_due": "43.00"},
}
_WORKINGS = {
    "CLAIRE-LYON-00001": ["BASIC 15-31 October: 20.00 x 17 / 31 days = 10.967742",
                          "BASIC November, billed in advance: 20.00 x 30 / 30 = 20.000000",
                          "total 30.967742, rounded once on the bill: 30.97 EUR"],
    "CLAIRE-LYON-00002": ["credit for BASIC's unused days 15-30 November: 20.00 x 14 / 30 - 20.00 = -10.666667",
                          "  (an adjustment pointing at the November BASIC charge it corrects)",
                          "PLUS 15-30 November: 35.00 x 16 / 30 days = 18.666667",
                          "PLUS December, billed in advance: 35.00 x 31 / 31 = 35.000000",
                          "total 43.000000, rounded once on the bill: 43.00 EUR"],
}


def _plans_cycle(ledger: Ledger, run: Callable[[Command], dict[str, Any]], say: _Narrator,
                 period_start: str) -> dict[str, Any]:
    """Run the subscriber's cycle for the period; show the bill, its hand-computed workings; return its lines."""
    month = datetime.fromisoformat(period_start).strftime("%B")
    say.section(f"{ledger.now().strftime('%-d %B')}: the subscriptions' {month} cycle: prorated recurring charges")
    run(TriggerBillingCycle.parse({"specification": PLANS_SPEC, "period_start": period_start, "trigger_type": "person",
                                   "triggered_by": "alice", "reason": f"{month} subscriptions bill run"}))
    found: dict[str, Any] = {}
    for bill in account_view(ledger.store, ledger.now, SUBSCRIBER["account_id"]).to_dict()["bills"]:
        number = bill["bill_number"]
        if number not in _WORKINGS:
            continue
        view = bill_view(ledger.store, ledger.now, SUBSCRIBER["account_id"], number).to_dict()
        if view["billing_period_start"] != period_start:
            continue
        say.say("by hand (days in Paris time):")
        say.block("\n".join(_WORKINGS[number]), indent="    ")
        say.block(render_bill(view))
        for item in view["items"]:
            if item["kind"] == "adjustment":
                say.say(f"  the credit {item['entry_id']} points at the charge it corrects: {item['charge_id']}")
        found[number] = {"amount_due": str(view["amount_due"]),
                         "lines": [{"entry_id": i["entry_id"], "kind": i["kind"], "description": i["description"],
                                    "charge_id": i.get("charge_id", ""), "tax_excluded": str(i["tax_excluded"])}
                                   for i in view["items"]]}
    return found


def _show_read_models(ledger: Ledger, say: Any, db: Any) -> dict[str, Any]:
    """Feed the read models from the local event store (no Kafka here) and show what reporting services see."""
    from datetime import date

    from ledger.cli.streams import render_balances

    say.section("Read models: the balance table reporting services query (fed from the local event store)")
    count = local_projection(ledger, db)
    rows = account_overview(db, today=date(2026, 11, 20))
    say.say(f"projected {count} events into {db.location}")
    say.block(render_balances(rows))
    report = verify_read_models(ledger.store, db)
    say.say("read models verified against a replay of the event store: " +
            ("OK, no differences" if report.ok else f"{len(report.differences)} difference(s)"))
    return {"projected": count, "verify": report.to_dict(),
            "balances": {r["account_ref"]: str(r["balance"]) for r in rows}}


def do_demo(app: App, a: argparse.Namespace) -> Outcome:
    if a.store_path:
        path = Path(a.store_path)
        if path.exists() and path.stat().st_size > 0:
            raise InvalidInput(f"the demo needs a fresh store, and {path} already exists: remove it or pick another path",
                               store_path=path)
    else:
        path = Path(tempfile.mkdtemp(prefix="ledger-demo-")) / "demo.sqlite"
    update: dict[str, Any] = {"store": "sqlite", "sqlite_path": path}
    if app.settings.master_key is None:  # a throw-away master key for the demo's customer (never printed)
        update["master_key"] = SecretStr(base64.urlsafe_b64encode(os.urandom(32)).decode())
    settings = app.settings.model_copy(update=update)
    clock = DemoClock()
    ledger = bootstrap(settings, clock=clock, progress=ProgressBar())
    out = io.StringIO() if app.args.json else sys.stdout
    read_models = demo_read_models(path)
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


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    leaf(top, "demo", do_demo, "run a guided demo on a fresh SQLite store (--store-path: a file that does not exist "
                               "yet; default: a fresh temp file)")
