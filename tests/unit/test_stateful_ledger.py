"""Stateful property test: random sequences of ledger commands against a Ledger on the in-memory store.

A hypothesis RuleBasedStateMachine posts charges, credits and penalties (0-6 decimal places, random taxes),
adjusts charges, runs billing cycles month by month on a fake clock, issues off-cycle bills, records payments
(default plan, or explicitly allocated to a bill or an unbilled charge), re-delivers charges and payments,
reverses payments and refunds credit, on three postpaid accounts in EUR (2 places), JPY (0) and BHD (3)
living in three time zones.

Invariants checked after every step:

* balance model: each account's balance equals an independent running total kept by the test:
  charges + penalties - credits + adjustments + each bill's rounding_difference - payments
  + reversed payments + refunds;
* `identity_holds()`: balance == unbilled - prepaid on unbilled + open bills' remaining - credit balance;
* each bill: remaining_amount == max(amount_due, 0) - net allocations (sum of its applied_payments, reversal
  entries being negative), the account's view of an open bill agrees with the bill, and bills that are not
  open have nothing remaining;
* no ledger entry is on two bills, and no charge (other than through an adjustment pointing at it) either;
* money conservation (derived below), per account and hence summed over accounts;
* replay equals live: every aggregate reloaded from its events alone (a second store on the same events with
  no cache and no snapshots) has the same `__dict__` as the live one; so has one rebuilt from snapshots.

Money conservation. Cash enters an account through payments and leaves through reversals and refunds.
Wherever it is, it is in one of three places: allocated on a bill (applied_payments of any source), paid
on an unbilled entry (`paid_by`), or in the credit balance. Two things add to those places without cash:
a net-credit bill (amount_due < 0) turns its excess credit into credit balance, and a reversal whose credit
had already been spent leaves that spent part on the bill it paid and books a receivable debit entry
(kind paymentReversalDebit) instead. Hence, per account:

    payments - reversed payments - refunds + sum(-amount_due of net-credit bills) + sum(reversal debits)
        == sum(bill allocations) + sum(paid_by on unbilled entries) + credit balance
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.entries import ADJUSTMENT, CHARGE, CREDIT, PENALTY, REVERSAL_DEBIT, sign_of
from ledger.aggregates.ids import payment_id
from ledger.aggregates.money import currency
from ledger.errors import AdjustmentRefused, InsufficientCredit, PaymentStateError, RuleViolation
from tests.support.ledger_factory import (
    FakeClock,
    account_of,
    adjust,
    bill_of,
    charge_cmd,
    define_spec,
    fresh,
    make_ledger,
    memory_settings,
    off_cycle,
    open_account,
    payment_cmd,
    refund,
    replay_store,
    reverse,
    run_cycle,
)

D = Decimal
ZERO = D(0)
ACCOUNTS = {"EUR-1": ("EUR", "Europe/Paris"), "JPY-1": ("JPY", "Asia/Tokyo"), "BHD-1": ("BHD", "America/New_York")}
REFS = sorted(ACCOUNTS)
SIX = D("0.000001")

charge_amounts = st.builds(lambda units, places: D(units).scaleb(-places),
                           st.integers(min_value=0, max_value=5_000_000), st.integers(min_value=0, max_value=6))
tax_lines = st.lists(st.tuples(st.sampled_from(["VAT", "GST"]), st.sampled_from(["0", "5.5", "8.875", "20"])),
                     max_size=2, unique_by=lambda t: t[0])
fractions = st.integers(min_value=1, max_value=100).map(lambda p: D(p) / 100)


def _text(amount: Decimal) -> str:
    return format(amount, "f")


class LedgerMachine(RuleBasedStateMachine):
    """Drives a Ledger with random commands and checks it against an independent model."""

    @initialize()
    def start(self) -> None:
        self.settings = memory_settings(snapshot_interval=3, batch_size=2)
        self.clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
        self.month = (2026, 1)
        self.ledger = make_ledger(self.settings, self.clock)
        self.replay = replay_store(self.ledger)
        define_spec(self.ledger)
        for ref, (code, zone) in ACCOUNTS.items():
            open_account(self.ledger, ref, code, time_zone=zone)
        self.clock.set(datetime(2026, 1, 3, 9, tzinfo=UTC))  # charges come up to 48 hours late: after the opening
        self.balance = {ref: ZERO for ref in REFS}
        self.charges: dict[str, dict[str, Any]] = {}  # charge id -> {"ref", "cmd"}
        self.payments: dict[str, dict[str, Any]] = {}  # external reference -> {"ref", "amount", "reversed", "cmd"}
        self.refunds = {ref: ZERO for ref in REFS}
        self.bills_seen: set[str] = set()
        self.counter = 0

    def teardown(self) -> None:
        if hasattr(self, "ledger"):
            self.ledger.close()
            self.replay.close()

    # ------------------------------------------------------------ helpers

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def account(self, ref: str) -> BillingAccount:
        return account_of(self.ledger, ref)

    def quantum(self, ref: str) -> Decimal:
        return currency(ACCOUNTS[ref][0]).quantum

    def now_text(self) -> str:
        return self.clock().isoformat()

    def book_new_bills(self) -> None:
        """The model learns each new bill's rounding difference (booked on the account at issue)."""
        for ref in REFS:
            for bill_id in self.account(ref).bills.values():
                if bill_id not in self.bills_seen:
                    self.bills_seen.add(bill_id)
                    self.balance[ref] += self.bill(bill_id).rounding_difference

    def bill(self, bill_id: str) -> CustomerBill:
        return bill_of(self.ledger, bill_id)

    def whole(self, ref: str, amount: Decimal) -> Decimal:
        """`amount` rounded down to whole minor units of the account's currency."""
        q = self.quantum(ref)
        return (amount // q) * q

    # ------------------------------------------------------------ time

    @rule(hours=st.integers(min_value=1, max_value=120))
    def tick(self, hours: int) -> None:
        """Time passes within the current month."""
        year, month = self.month
        month_end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC) - timedelta(hours=1)
        self.clock.set(min(self.clock() + timedelta(hours=hours), month_end))

    @precondition(lambda self: self.month < (2026, 6))
    @rule(retrigger=st.booleans())
    def run_cycle(self, retrigger: bool) -> None:
        """The month ends: the clock moves to the 1st of the next month and that month's cycle is triggered."""
        year, month = self.month
        period_start = datetime(year, month, 1).date()
        self.month = (year + month // 12, month % 12 + 1)
        self.clock.set(datetime(*self.month, 1, 6, tzinfo=UTC))
        result = run_cycle(self.ledger, period_start, by="scheduler", trigger_type="scheduler")
        assert result.status == "completed" and not result.already_completed
        assert result.accounts_billed + result.accounts_skipped == len(REFS)
        self.book_new_bills()
        if retrigger:
            again = run_cycle(self.ledger, period_start, by="operator")
            assert again.already_completed and again.accounts_billed == result.accounts_billed

    # ------------------------------------------------------------ charges

    @rule(ref=st.sampled_from(REFS), batch=st.lists(
        st.tuples(st.sampled_from([CHARGE, CHARGE, PENALTY, CREDIT]), charge_amounts, tax_lines,
                  st.integers(min_value=0, max_value=48)), min_size=1, max_size=3))
    def post_charges(self, ref: str, batch: list[tuple[str, Decimal, list[tuple[str, str]], int]]) -> None:
        """Rated charges, penalties or credits arrive."""
        for kind, amount, taxes, hours_back in batch:
            self.post_charge(ref, kind, amount, taxes, hours_back)

    def post_charge(self, ref: str, kind: str, amount: Decimal, taxes: list[tuple[str, str]], hours_back: int) -> None:
        lines = [{"tax_category": c, "tax_rate": r,
                  "tax_amount": _text((amount * D(r) / 100).quantize(SIX, rounding=ROUND_HALF_UP))} for c, r in taxes]
        when = (self.clock() - timedelta(hours=hours_back)).isoformat()
        charge_id = self.next_id("ch")
        cmd = charge_cmd(ref, charge_id, _text(amount), ACCOUNTS[ref][0], when, taxes=lines, kind=kind)
        assert self.ledger.execute(cmd).applied is True
        included = amount + sum((D(t["tax_amount"]) for t in lines), ZERO)
        self.balance[ref] += sign_of(kind) * included
        self.charges[charge_id] = {"ref": ref, "cmd": cmd}

    @precondition(lambda self: self.charges)
    @rule(data=st.data())
    def redeliver_charge(self, data: st.DataObject) -> None:
        """A charge delivered again (same id, same content) is not applied twice."""
        charge_id = data.draw(st.sampled_from(sorted(self.charges)))
        result = self.ledger.execute(self.charges[charge_id]["cmd"])
        assert result.applied is False

    @precondition(lambda self: self.charges)
    @rule(data=st.data(), fraction=fractions, overshoot=st.booleans())
    def adjust_charge(self, data: st.DataObject, fraction: Decimal, overshoot: bool) -> None:
        """Correct an earlier charge towards zero (never past it)."""
        charge_id = data.draw(st.sampled_from(sorted(self.charges)))
        ref = self.charges[charge_id]["ref"]
        net = self.account(ref).charge_net[charge_id]
        if overshoot:
            if net == 0:
                return
            beyond = -net - (SIX if net > 0 else -SIX)
            try:
                adjust(self.ledger, ref, self.next_id("adj"), charge_id, _text(beyond), self.now_text())
            except AdjustmentRefused:
                return
            raise AssertionError(f"an adjustment of {beyond} took charge {charge_id} ({net}) past zero")
        change = -(net * fraction).quantize(SIX, rounding=ROUND_HALF_UP)
        if change == 0 or abs(change) > abs(net):
            return
        adjust(self.ledger, ref, self.next_id("adj"), charge_id, _text(change), self.now_text())
        self.balance[ref] += change

    # ------------------------------------------------------------ bills

    @rule(ref=st.sampled_from(REFS))
    def off_cycle_bill(self, ref: str) -> None:
        """The customer asks for a bill now."""
        if not self.account(ref).unbilled:
            try:
                off_cycle(self.ledger, ref, self.next_id("req"))
            except RuleViolation as refused:
                assert "nothing unbilled" in refused.message
                return
            raise AssertionError("an off-cycle bill of nothing was issued")
        assert off_cycle(self.ledger, ref, self.next_id("req")).created is True
        self.book_new_bills()

    # ------------------------------------------------------------ payments

    def _record(self, ref: str, amount: Decimal, allocations: list[dict[str, str]] | None) -> None:
        reference = self.next_id("pay")
        cmd = payment_cmd(ref, reference, _text(amount), ACCOUNTS[ref][0], self.now_text(), allocations=allocations)
        assert self.ledger.execute(cmd).created is True
        self.balance[ref] -= amount
        self.payments[reference] = {"ref": ref, "amount": amount, "reversed": False, "cmd": cmd}

    @rule(ref=st.sampled_from(REFS), units=st.integers(min_value=1, max_value=400_000))
    def pay_default_plan(self, ref: str, units: int) -> None:
        """A payment without allocations pays open bills oldest due first; the rest becomes credit."""
        self._record(ref, units * self.quantum(ref), None)

    @rule(ref=st.sampled_from(REFS), data=st.data(), fraction=fractions, extra_units=st.integers(min_value=0, max_value=500))
    def pay_a_bill(self, ref: str, data: st.DataObject, fraction: Decimal, extra_units: int) -> None:
        """A payment explicitly allocated to one open bill (by number), perhaps with some left over."""
        account = self.account(ref)
        if not account.open_bills:
            return
        bill = account.open_bills[data.draw(st.sampled_from(sorted(account.open_bills)))]
        share = max(self.whole(ref, bill["remaining"] * fraction), self.quantum(ref))
        if share > bill["remaining"]:
            return
        alloc = [{"target": "bill", "id": bill["bill_number"], "amount": _text(share)}]
        self._record(ref, share + extra_units * self.quantum(ref), alloc)

    @rule(ref=st.sampled_from(REFS), data=st.data(), fraction=fractions)
    def prepay_a_charge(self, ref: str, data: st.DataObject, fraction: Decimal) -> None:
        """A payment explicitly allocated to an unbilled charge, before it is billed."""
        account = self.account(ref)
        payable = sorted(e for e in account.unbilled if account.entry_remaining(e) >= self.quantum(ref))
        if not payable:
            return
        entry = data.draw(st.sampled_from(payable))
        share = max(self.whole(ref, account.entry_remaining(entry) * fraction), self.quantum(ref))
        self._record(ref, share, [{"target": "charge", "id": entry, "amount": _text(share)}])

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def redeliver_payment(self, data: st.DataObject) -> None:
        """A payment delivered again with the same reference and content is recorded once."""
        reference = data.draw(st.sampled_from(sorted(self.payments)))
        assert self.ledger.execute(self.payments[reference]["cmd"]).created is False

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def reverse_payment(self, data: st.DataObject) -> None:
        """A payment bounces; a second reversal of it is refused."""
        reference = data.draw(st.sampled_from(sorted(self.payments)))
        payment = self.payments[reference]
        if payment["reversed"]:
            try:
                reverse(self.ledger, reference)
            except PaymentStateError:
                return
            raise AssertionError(f"payment {reference} was reversed twice")
        reverse(self.ledger, reference, kind=data.draw(st.sampled_from(["bouncedCheck", "chargeback"])))
        payment["reversed"] = True
        self.balance[payment["ref"]] += payment["amount"]

    @rule(ref=st.sampled_from(REFS), fraction=fractions)
    def refund_credit(self, ref: str, fraction: Decimal) -> None:
        """Part of the credit balance goes back to the customer; more than the credit is refused."""
        credit = self.account(ref).credit_balance
        amount = self.whole(ref, credit * fraction)
        if amount <= 0:
            try:
                refund(self.ledger, ref, self.next_id("rf"), _text(credit + self.quantum(ref)), self.now_text())
            except InsufficientCredit:
                return
            raise AssertionError("a refund beyond the credit balance was accepted")
        refund(self.ledger, ref, self.next_id("rf"), _text(amount), self.now_text())
        self.balance[ref] += amount
        self.refunds[ref] += amount

    # ------------------------------------------------------------ invariants

    def all_bills(self, ref: str) -> list[CustomerBill]:
        return [self.bill(bill_id) for bill_id in self.account(ref).bills.values()]

    @invariant()
    def balance_matches_model_and_identity(self) -> None:
        if not hasattr(self, "ledger"):
            return
        for ref in REFS:
            account = self.account(ref)
            assert account.balance == self.balance[ref], (ref, account.balance, self.balance[ref])
            assert account.identity_holds(), ref
            assert account.credit_balance >= 0, ref

    @invariant()
    def bills_are_consistent(self) -> None:
        if not hasattr(self, "ledger"):
            return
        for ref in REFS:
            account = self.account(ref)
            for bill in self.all_bills(ref):
                allocated = sum((D(p["amount"]) for p in bill.applied_payments), ZERO)
                assert bill.remaining_amount == max(bill.amount_due, ZERO) - allocated, bill.bill_number
                assert bill.remaining_amount >= 0, bill.bill_number
                open_view = account.open_bills.get(str(bill.id))
                if open_view is None:
                    assert bill.remaining_amount == 0, bill.bill_number
                else:
                    assert open_view["remaining"] == bill.remaining_amount, bill.bill_number
                expected_state = ("settled" if bill.remaining_amount == 0 else
                                  "partiallyPaid" if bill.remaining_amount < max(bill.amount_due, ZERO) else "sent")
                assert bill.state == expected_state, (bill.bill_number, bill.state, expected_state)

    @invariant()
    def nothing_is_billed_twice(self) -> None:
        if not hasattr(self, "ledger"):
            return
        entries: list[str] = []
        charges: list[str] = []
        for ref in REFS:
            for bill in self.all_bills(ref):
                entries += [item["entry_id"] for item in bill.items]
                charges += [item["charge_id"] for item in bill.items if item["kind"] != ADJUSTMENT]
            entries += list(self.account(ref).unbilled)
        assert len(entries) == len(set(entries))
        assert len(charges) == len(set(charges))

    @invariant()
    def money_is_conserved(self) -> None:
        if not hasattr(self, "ledger"):
            return
        for ref in REFS:
            account = self.account(ref)
            bills = self.all_bills(ref)
            paid = sum((p["amount"] for p in self.payments.values() if p["ref"] == ref), ZERO)
            reversed_ = sum((p["amount"] for p in self.payments.values() if p["ref"] == ref and p["reversed"]), ZERO)
            refunds = self.refunds[ref]
            net_credit_bills = sum((-b.amount_due for b in bills if b.amount_due < 0), ZERO)
            debits = sum((D(i["tax_included"]) for b in bills for i in b.items if i["kind"] == REVERSAL_DEBIT), ZERO)
            debits += sum((e.tax_included for e in account.unbilled.values() if e.kind == REVERSAL_DEBIT), ZERO)
            on_bills = sum((D(p["amount"]) for b in bills for p in b.applied_payments), ZERO)
            on_entries = account.unbilled_prepaid
            lhs = paid - reversed_ - refunds + net_credit_bills + debits
            rhs = on_bills + on_entries + account.credit_balance
            assert lhs == rhs, (ref, lhs, rhs)

    @invariant()
    def replay_equals_live(self) -> None:
        if not hasattr(self, "ledger"):
            return
        ids = [self.account(ref).id for ref in REFS]
        for ref in REFS:
            ids += [bill.id for bill in self.all_bills(ref)]
        ids += [payment_id(reference) for reference in self.payments]
        for aggregate_id in ids:
            live = self.ledger.store.repository.get(aggregate_id)
            replayed = self.replay.repository.get(aggregate_id)
            assert replayed.__dict__ == live.__dict__, aggregate_id
            assert fresh(self.ledger, aggregate_id).__dict__ == live.__dict__, aggregate_id


LedgerMachine.TestCase.settings = settings(
    max_examples=75, stateful_step_count=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerStateMachine = LedgerMachine.TestCase
