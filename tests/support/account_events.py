"""An account's stored events written by driving its aggregates directly (no store, no clock): each step says
when it is recorded and when it is effective, so the basis rules can be tested on exact moments.

Usage:
    script = AccountScript(opened="2026-10-01T00:00:00Z")
    script.charge("c1", "10.00", at="2026-10-05T10:00:00Z", recorded="2026-10-05T10:05:00Z")
    script.bill("2026-11-01", recorded="2026-11-03T06:00:00Z")        # an off-cycle bill of every unbilled entry
    script.pay("P1", "10.00", at="2026-10-30T12:00:00Z", recorded="2026-11-04T09:00:00Z", bill=1)
    figures = script.figures("2026-11-02T00:00:00Z", "effective")     # the postings in force then, summed
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4, uuid5

from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.entries import CHARGE, TaxLine
from ledger.commands.billing import issue_bill
from ledger.queries.as_of import Figures
from ledger.queries.postings import Book, project

D = Decimal
_PAYMENTS = UUID("6f1e0b8e-6c1a-4c5e-9a55-3f1d2b7c9e01")


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class AccountScript:
    """One postpaid (or prepaid) account's life, step by step, on its aggregates; `events` are what a store keeps."""

    def __init__(self, opened: str = "2026-10-01T00:00:00Z", *, currency: str = "EUR", time_zone: str = "UTC",
                 rating_type: str = "postpaid", credit_limit: str = "0") -> None:
        self.account = BillingAccount.open(
            moment(opened), id=uuid4(), account_ref="ACC-1", customer_id="C-1", currency_code=currency,
            rating_type=rating_type, cycle_specification="monthly", payment_terms_days=None,
            credit_limit=D(credit_limit), default_payment_method=None, time_zone=time_zone)
        self.events: list[Any] = []
        self.bills: list[str] = []  # bill ids, in issue order
        self.payments: dict[str, tuple[UUID, list[dict[str, str]], Decimal]] = {}  # ref -> (id, allocations, rest)
        self._collect()

    def _collect(self) -> None:
        self.events += self.account.collect_events()

    def charge(self, charge_id: str, amount: str, *, at: str, recorded: str, kind: str = CHARGE, tax: str = "0") -> None:
        taxes = [TaxLine("VAT", D("20"), D(tax))] if D(tax) else []
        self.account.apply_charge(moment(recorded), charge_id=charge_id, charge_type=kind,
                                  currency_code=self.account.currency, tax_excluded=D(amount), taxes=taxes,
                                  tax_included=D(amount) + D(tax), effective_at=moment(at))
        self._collect()

    def adjust(self, adjustment_id: str, charge_id: str, amount: str, *, at: str, recorded: str) -> None:
        self.account.adjust_charge(moment(recorded), adjustment_id=adjustment_id, charge_id=charge_id,
                                   tax_excluded=D(amount), taxes=[], tax_included=D(amount), effective_at=moment(at),
                                   reason="correction")
        self._collect()

    def bill(self, bill_date: str, *, recorded: str, up_to: str | None = None, due_days: int = 14) -> str:
        """An off-cycle bill of the entries effective before `up_to` (default: all); returns its bill id."""
        cutoff = moment(up_to) if up_to else None
        day = date.fromisoformat(bill_date)
        bill = issue_bill(moment(recorded), self.account, bill_id=uuid4(), run_type="offCycle", cycle_id=None,
                          off_cycle_reason="customerRequest", entries=self.account.entries_for_bill(cutoff, cutoff),
                          period=None, bill_date=day, mailing_date=day, payment_due_date=day + timedelta(days=due_days),
                          send=True)
        self.bills.append(str(bill.id))
        self._collect()
        return str(bill.id)

    def pay(self, ref: str, amount: str, *, at: str, recorded: str, bill: int | None = None,
            charge: str | None = None, allocate: str | None = None) -> None:
        """A payment; allocated to the `bill`-th bill (1-based) or to an unbilled `charge` (`allocate` of it, default
        all of the payment), else all to the credit balance."""
        payment_id = uuid5(_PAYMENTS, ref)
        share = D(allocate or amount)
        allocations: list[dict[str, Any]] = []
        if bill is not None:
            allocations = [{"target": "bill", "id": self.bills[bill - 1], "amount": share}]
        elif charge is not None:
            allocations = [{"target": "charge", "id": charge, "amount": share}]
        rest = self.account.receive_payment(moment(recorded), payment_id=payment_id, amount=D(amount),
                                            allocations=allocations, effective_at=moment(at))
        stored = [{"target": a["target"], "id": str(a["id"]), "amount": str(a["amount"])} for a in allocations]
        self.payments[ref] = (payment_id, stored, rest)
        self._collect()

    def reverse(self, ref: str, *, at: str, recorded: str) -> None:
        payment_id, allocations, rest = self.payments[ref]
        amount = sum((D(a["amount"]) for a in allocations), rest)
        bills = {bill_id: {"bill_number": "?", "bill_date": "2026-11-01", "payment_due_date": "2026-11-15"}
                 for bill_id in self.bills}
        self.account.reverse_payment(moment(recorded), payment_id=payment_id, amount=amount, allocations=allocations,
                                     to_balance=rest, bills=bills, reason="returned unpaid", effective_at=moment(at))
        self._collect()

    def refund(self, refund_id: str, amount: str, *, at: str, recorded: str) -> None:
        self.account.refund_credit(moment(recorded), refund_id=refund_id, amount=D(amount), method="bankCard",
                                   reference="", effective_at=moment(at))
        self._collect()

    def book(self) -> Book:
        return project(self.events, {str(pid): ref for ref, (pid, _, _) in self.payments.items()})

    def figures(self, at: str, basis: str) -> Figures:
        return Figures(self.book(), moment(at), basis)


def varied_after(script: AccountScript) -> AccountScript:
    """After a charge c1: a backdated charge, a prepayment of c1, an overpayment, two bills, a charge between them,
    a refund recorded after its moment and the overpayment reversed (recordings not in order: a script's own)."""
    script.charge("late", "3.00", at="2026-10-20T00:00:00Z", recorded="2026-11-05T00:00:00Z")
    script.pay("PRE", "2.00", at="2026-10-08T00:00:00Z", recorded="2026-10-08T00:00:00Z", charge="c1")
    script.pay("OVER", "30.00", at="2026-10-09T00:00:00Z", recorded="2026-10-09T00:00:00Z")
    script.bill("2026-11-01", recorded="2026-11-01T12:00:00Z")
    script.charge("c2", "5.00", at="2026-11-02T00:00:00Z", recorded="2026-11-02T00:00:00Z")
    script.bill("2026-12-01", recorded="2026-12-01T12:00:00Z")
    script.refund("R1", "0.50", at="2026-11-01T00:00:00Z", recorded="2026-11-02T12:00:00Z")
    script.reverse("OVER", at="2026-11-03T00:00:00Z", recorded="2026-11-03T00:00:00Z")
    return script
