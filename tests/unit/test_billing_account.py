"""Unit tests for the BillingAccount aggregate's rules (directly, without a store) and for concurrent writes to one account."""

from __future__ import annotations

import copy
import sys
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from ledger.aggregates.billing_account import ACTIVE, CLOSED, SUSPENDED, BillingAccount
from ledger.aggregates.entries import CHARGE, CREDIT, PENALTY, TaxLine
from ledger.errors import (
    AccountStateError,
    AdjustmentRefused,
    AllocationRefused,
    ChargeNotFound,
    CreditLimitExceeded,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientCredit,
    InvalidAmount,
    RuleViolation,
    UnknownCurrency,
)
from tests.support.accounts import new_account
from tests.support.ledger_factory import (
    FakeClock,
    define_spec,
    fresh_account,
    make_ledger,
    memory_settings,
    open_account,
    post_charge,
)

D = Decimal
T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
OCT5 = datetime(2026, 10, 5, 10, tzinfo=UTC)


def charge(account: BillingAccount, charge_id: str = "c1", amount: str = "10.00", *, kind: str = CHARGE,
           taxes: list[TaxLine] | None = None, currency: str | None = None, included: str | None = None,
           at: datetime = OCT5, now: datetime = T0) -> bool:
    taxes = taxes or []
    total = D(included) if included is not None else D(amount) + sum((t.amount for t in taxes), D(0))
    return account.apply_charge(now, charge_id=charge_id, charge_type=kind, currency_code=currency or account.currency,
                                tax_excluded=D(amount), taxes=taxes, tax_included=total, effective_at=at)


def adjust(account: BillingAccount, adjustment_id: str, charge_id: str, amount: str, *, taxes: list[TaxLine] | None = None,
           reason: str = "fix") -> bool:
    taxes = taxes or []
    return account.adjust_charge(T0, adjustment_id=adjustment_id, charge_id=charge_id, tax_excluded=D(amount), taxes=taxes,
                                 tax_included=D(amount) + sum((t.amount for t in taxes), D(0)), effective_at=OCT5,
                                 reason=reason)


def issue(account: BillingAccount, amount_due: str | None = None, entries: list[dict[str, Any]] | None = None) -> tuple[str, Any]:
    entries = list(account.unbilled.values()) if entries is None else entries
    due = D(amount_due) if amount_due is not None else sum((e.tax_included for e in entries), D(0))
    bill_id = uuid4()
    result = account.issue_bill(T0, bill_id=bill_id, bill_number=account.next_bill_number(), run_type="offCycle",
                                 cycle_id=None, entries=entries, amount_due=due, bill_date="2026-11-01",
                                 payment_due_date="2026-11-15")
    return str(bill_id), result


def receive(account: BillingAccount, amount: str, allocations: list[dict[str, Any]] | None = None) -> Decimal:
    allocs = [{**a, "amount": D(a["amount"])} for a in (allocations or [])]
    return account.receive_payment(T0, payment_id=uuid4(), amount=D(amount), allocations=allocs, effective_at=T0)


# --- opening ---------------------------------------------------------------------------------


def test_open_account_starts_active_and_empty() -> None:
    """A new account is active with zero balances and the identity holds."""
    account = new_account()
    assert (account.status, account.balance, account.credit_balance, account.prepaid_balance) == (ACTIVE, 0, 0, 0)
    assert account.identity_holds()


def test_open_refuses_unknown_currency() -> None:
    """The account currency must be an ISO 4217 code."""
    with pytest.raises(UnknownCurrency):
        new_account("XXY")


def test_open_refuses_unknown_rating_type() -> None:
    """Rating type is prepaid or postpaid."""
    with pytest.raises(RuleViolation, match="rating type"):
        new_account(rating_type="hybrid")


@pytest.mark.parametrize("limit,currency", [("-1", "EUR"), ("0.001", "EUR"), ("0.5", "JPY")])
def test_open_refuses_bad_credit_limit(limit: str, currency: str) -> None:
    """The credit limit is non-negative and in whole minor units."""
    with pytest.raises(InvalidAmount, match="credit limit"):
        new_account(currency, credit_limit=limit)


def test_open_refuses_negative_payment_terms() -> None:
    """Payment terms cannot be negative."""
    with pytest.raises(RuleViolation, match="payment terms"):
        new_account(payment_terms_days=-1)


# --- charges ---------------------------------------------------------------------------------


def test_charge_raises_balance_and_stays_unbilled() -> None:
    """A postpaid charge raises what the customer owes and waits for a bill."""
    account = new_account()
    assert charge(account, "c1", "10.004", taxes=[TaxLine("VAT", D(20), D("2.0008"))])
    assert account.balance == D("12.0048")
    assert account.unbilled["c1"].tax_included == D("12.0048")
    assert account.identity_holds()


def test_credit_lowers_balance() -> None:
    """An appliedBillingCredit is stored with a negative sign."""
    account = new_account()
    charge(account, "c1", "10")
    charge(account, "cr1", "4", kind=CREDIT)
    assert account.balance == D(6) and account.unbilled["cr1"].tax_included == D(-4)
    assert account.identity_holds()


def test_penalty_is_a_debit() -> None:
    """A penalty charge raises the balance like a charge."""
    account = new_account()
    charge(account, "p1", "5", kind=PENALTY)
    assert account.balance == D(5) and account.identity_holds()


def test_same_charge_twice_is_applied_once() -> None:
    """Re-delivering the same charge is a no-op returning False."""
    account = new_account()
    assert charge(account, "c1", "10") is True
    version = account.version
    assert charge(account, "c1", "10") is False
    assert account.version == version and account.balance == D(10)


def test_same_charge_id_with_other_content_conflicts() -> None:
    """A charge id reused with a different amount is an IdempotencyConflict."""
    account = new_account()
    charge(account, "c1", "10")
    with pytest.raises(IdempotencyConflict, match="c1"):
        charge(account, "c1", "11")
    assert account.balance == D(10)


def test_charge_in_other_currency_is_refused() -> None:
    """A USD charge cannot go on a EUR account."""
    account = new_account()
    with pytest.raises(CurrencyMismatch):
        charge(account, "c1", "10", currency="USD")
    assert account.balance == 0 and not account.unbilled


def test_unknown_charge_type_is_refused() -> None:
    """Only the three TMF678 charge types are accepted."""
    with pytest.raises(RuleViolation, match="charge type"):
        charge(new_account(), "c1", "10", kind="discount")


@pytest.mark.parametrize("amount,taxes,included", [
    ("-10", [], None),
    ("10", [TaxLine("VAT", D(20), D(-2))], None),
    ("10", [], "-10"),
])
def test_negative_charge_amounts_are_refused(amount: str, taxes: list[TaxLine], included: str | None) -> None:
    """Charges are never negative (credits are a charge type, not a sign)."""
    account = new_account()
    with pytest.raises(InvalidAmount, match="negative"):
        charge(account, "c1", amount, taxes=taxes, included=included)
    assert not account.unbilled


def test_tax_included_must_equal_excluded_plus_taxes() -> None:
    """An inconsistent tax-included amount is refused."""
    account = new_account()
    with pytest.raises(InvalidAmount, match="tax-included"):
        charge(account, "c1", "10", taxes=[TaxLine("VAT", D(20), D(2))], included="12.01")


# --- prepaid ---------------------------------------------------------------------------------


def test_prepaid_charge_draws_down_balance() -> None:
    """On a prepaid account a charge lowers the prepaid balance, nothing is left unbilled."""
    account = new_account(rating_type="prepaid")
    receive(account, "20.00")
    charge(account, "c1", "7.50")
    assert account.prepaid_balance == D("12.50") and not account.unbilled
    assert account.identity_holds()


def test_prepaid_charge_beyond_balance_plus_limit_is_refused() -> None:
    """A prepaid charge may use the credit limit but not more."""
    account = new_account(rating_type="prepaid", credit_limit="5.00")
    receive(account, "10.00")
    charge(account, "c1", "15.00")  # exactly balance + limit
    assert account.prepaid_balance == D("-5.00")
    with pytest.raises(CreditLimitExceeded):
        charge(account, "c2", "0.01")
    assert account.prepaid_balance == D("-5.00") and account.identity_holds()


def test_prepaid_credit_is_always_accepted() -> None:
    """A credit on a prepaid account tops it up even at the limit."""
    account = new_account(rating_type="prepaid")
    charge(account, "cr", "3", kind=CREDIT)
    assert account.prepaid_balance == D(3)


def test_prepaid_account_has_no_bills() -> None:
    """Issuing a bill on a prepaid account is refused."""
    account = new_account(rating_type="prepaid")
    with pytest.raises(AccountStateError, match="prepaid"):
        issue(account, "0", [])


def test_prepaid_payment_cannot_target_a_charge() -> None:
    """A prepaid account's payment only tops up the balance."""
    account = new_account(rating_type="prepaid")
    with pytest.raises(AllocationRefused, match="prepaid"):
        receive(account, "5", [{"target": "charge", "id": "c1", "amount": "5"}])


# --- suspension and closing ------------------------------------------------------------------


def test_suspended_account_refuses_charges_effective_after_suspension() -> None:
    """After suspension, charges effective at or after the suspension are refused."""
    account = new_account()
    account.suspend(datetime(2026, 10, 10, tzinfo=UTC), "fraud check")
    with pytest.raises(AccountStateError, match="suspended"):
        charge(account, "late", "1", at=datetime(2026, 10, 10, tzinfo=UTC))
    assert "late" not in account.unbilled


def test_suspended_account_accepts_charges_effective_before_suspension() -> None:
    """Late-rated usage from before the suspension still posts."""
    account = new_account()
    account.suspend(datetime(2026, 10, 10, tzinfo=UTC), "fraud check")
    assert charge(account, "early", "1", at=datetime(2026, 10, 9, 23, 59, tzinfo=UTC))


def test_resumed_account_accepts_charges_again() -> None:
    """Resuming an account lifts the suspension."""
    account = new_account()
    account.suspend(T0, "")
    account.resume(T0 + timedelta(days=1), "")
    assert account.status == ACTIVE and charge(account, "c", "1", at=T0 + timedelta(days=2))


def test_suspend_and_resume_only_from_the_right_state() -> None:
    """Only an active account can be suspended and only a suspended one resumed."""
    account = new_account()
    with pytest.raises(AccountStateError):
        account.resume(T0, "")
    account.suspend(T0, "")
    with pytest.raises(AccountStateError):
        account.suspend(T0, "")
    assert account.status == SUSPENDED


def test_closed_account_refuses_charges_and_adjustments() -> None:
    """A closed account takes no charges or adjustments."""
    account = new_account()
    charge(account, "c1", "10")
    issue(account)
    account.close(T0, "customer left", None)
    assert account.status == CLOSED
    with pytest.raises(AccountStateError, match="closed"):
        charge(account, "c2", "1")
    with pytest.raises(AccountStateError, match="closed"):
        adjust(account, "a1", "c1", "-1")


def test_close_requires_no_unbilled_entries() -> None:
    """Unbilled entries must be billed before closing."""
    account = new_account()
    charge(account, "c1", "10")
    with pytest.raises(AccountStateError, match="unbilled"):
        account.close(T0, "", None)


def test_close_refuses_prepaid_debt() -> None:
    """A prepaid account owing money cannot be closed."""
    account = new_account(rating_type="prepaid", credit_limit="10")
    charge(account, "c1", "5")
    with pytest.raises(AccountStateError, match="owes"):
        account.close(T0, "", None)


def test_closing_twice_is_refused() -> None:
    """A closed account cannot be closed again."""
    account = new_account()
    account.close(T0, "", None)
    with pytest.raises(AccountStateError, match="already closed"):
        account.close(T0, "", None)


# --- adjustments -----------------------------------------------------------------------------


def test_adjustment_references_an_existing_charge() -> None:
    """Adjusting an unknown charge id raises ChargeNotFound."""
    with pytest.raises(ChargeNotFound):
        adjust(new_account(), "a1", "nope", "-1")


def test_adjustment_lowers_the_charge_and_the_balance() -> None:
    """A negative adjustment is a new entry pointing at the charge."""
    account = new_account()
    charge(account, "c1", "10")
    assert adjust(account, "a1", "c1", "-4", taxes=[TaxLine("VAT", D(20), D("-0.8"))])
    assert account.charge_net["c1"] == D("5.2") and account.balance == D("5.2")
    assert account.unbilled["a1"].charge_id == "c1" and account.unbilled["c1"].tax_included == D(10)
    assert account.identity_holds()


def test_adjustment_cannot_take_a_charge_below_zero() -> None:
    """A debit charge cannot be adjusted past zero."""
    account = new_account()
    charge(account, "c1", "10")
    adjust(account, "a1", "c1", "-10")  # exactly to zero is fine
    with pytest.raises(AdjustmentRefused, match="past zero"):
        adjust(account, "a2", "c1", "-0.01")


def test_adjustment_cannot_take_a_credit_above_zero() -> None:
    """A credit cannot be adjusted into a debit."""
    account = new_account()
    charge(account, "cr", "5", kind=CREDIT)
    adjust(account, "a1", "cr", "3")
    with pytest.raises(AdjustmentRefused):
        adjust(account, "a2", "cr", "2.01")
    assert account.charge_net["cr"] == D(-2)


def test_zero_adjustment_is_refused() -> None:
    """An adjustment of zero changes nothing and is refused."""
    account = new_account()
    charge(account, "c1", "10")
    with pytest.raises(InvalidAmount, match="zero"):
        adjust(account, "a1", "c1", "0")


def test_adjustment_is_idempotent_and_conflicts_on_other_content() -> None:
    """Same adjustment id + content is a no-op; other content is a conflict."""
    account = new_account()
    charge(account, "c1", "10")
    assert adjust(account, "a1", "c1", "-1") is True
    assert adjust(account, "a1", "c1", "-1") is False
    with pytest.raises(IdempotencyConflict):
        adjust(account, "a1", "c1", "-2")
    assert account.balance == D(9)


def test_adjustment_of_a_billed_charge_is_a_new_unbilled_entry() -> None:
    """Once billed, a charge is still adjustable; the correction goes on the next bill."""
    account = new_account()
    charge(account, "c1", "10")
    issue(account)
    adjust(account, "a1", "c1", "-3")
    assert list(account.unbilled) == ["a1"] and account.identity_holds()


def test_prepaid_adjustment_up_is_checked_against_funds() -> None:
    """An upward adjustment on a prepaid account needs funds like a charge."""
    account = new_account(rating_type="prepaid")
    receive(account, "10")
    charge(account, "c1", "10")
    with pytest.raises(CreditLimitExceeded):
        adjust(account, "a1", "c1", "1")


# --- bills -----------------------------------------------------------------------------------


def test_bill_takes_entries_and_books_rounding() -> None:
    """Issuing a bill moves entries off unbilled, opens the bill, and books rounding on the balance."""
    account = new_account()
    charge(account, "c1", "10.004")
    bill_id, (credit, prepaid) = issue(account, "10.00")
    assert (credit, prepaid) == (0, [])
    assert not account.unbilled and account.open_bills[bill_id]["remaining"] == D("10.00")
    assert account.balance == D("10.00") and account.identity_holds()


def test_bill_applies_credit_balance_automatically() -> None:
    """Credit from an overpayment is taken by the next bill."""
    account = new_account()
    receive(account, "4.00")
    charge(account, "c1", "10")
    bill_id, (credit, _) = issue(account)
    assert credit == D("4.00") and account.credit_balance == 0
    assert account.open_bills[bill_id]["remaining"] == D("6.00") and account.identity_holds()


def test_net_credit_bill_turns_into_credit_balance() -> None:
    """A bill whose credits exceed its charges leaves credit balance and no open bill."""
    account = new_account()
    charge(account, "c1", "3")
    charge(account, "cr", "5", kind=CREDIT)
    issue(account)
    assert account.credit_balance == D(2) and not account.open_bills and account.identity_holds()


def test_entries_cannot_be_billed_twice() -> None:
    """An entry already on a bill is refused on another."""
    account = new_account()
    charge(account, "c1", "10")
    entries = list(account.unbilled.values())
    issue(account, entries=entries)
    with pytest.raises(RuleViolation, match="already billed"):
        issue(account, entries=entries)


def test_entries_for_bill_respects_separate_cutoffs() -> None:
    """Debits use the charge cut-off, credits the credit cut-off; None takes everything."""
    account = new_account()
    charge(account, "d_early", "1", at=datetime(2026, 10, 30, tzinfo=UTC))
    charge(account, "d_late", "1", at=datetime(2026, 11, 2, tzinfo=UTC))
    charge(account, "c_late", "1", kind=CREDIT, at=datetime(2026, 11, 2, tzinfo=UTC))
    cut = datetime(2026, 11, 1, tzinfo=UTC)
    assert {e.id for e in account.entries_for_bill(cut, cut)} == {"d_early"}
    assert {e.id for e in account.entries_for_bill(cut, datetime(2026, 11, 3, tzinfo=UTC))} == {"d_early", "c_late"}
    assert len(account.entries_for_bill(None, None)) == 3


def test_bill_numbers_are_sequential_per_account() -> None:
    """Bill numbers are the account ref and a counter."""
    account = new_account()
    assert account.next_bill_number() == "ACC-1-00001"
    charge(account, "c1", "1")
    issue(account)
    assert account.next_bill_number() == "ACC-1-00002"


# --- payments --------------------------------------------------------------------------------


def test_payment_to_a_bill_and_the_rest_to_credit() -> None:
    """A payment pays the allocations and the rest becomes credit balance."""
    account = new_account()
    charge(account, "c1", "10")
    bill_id, _ = issue(account)
    rest = receive(account, "15.00", [{"target": "bill", "id": bill_id, "amount": "10"}])
    assert rest == D("5.00") and account.credit_balance == D("5.00") and not account.open_bills
    assert account.balance == D(-5) and account.identity_holds()


@pytest.mark.parametrize("amount", ["0", "-5", "1.001"])
def test_bad_payment_amounts_are_refused(amount: str) -> None:
    """A payment is positive and in whole minor units."""
    with pytest.raises(InvalidAmount):
        receive(new_account(), amount)


def test_allocation_beyond_bill_remaining_is_refused() -> None:
    """A bill cannot be paid more than it has remaining."""
    account = new_account()
    charge(account, "c1", "10")
    bill_id, _ = issue(account)
    with pytest.raises(AllocationRefused, match="exceeds"):
        receive(account, "20", [{"target": "bill", "id": bill_id, "amount": "10.01"}])


def test_allocations_beyond_the_payment_are_refused() -> None:
    """Allocations may not add up to more than the payment."""
    account = new_account()
    charge(account, "c1", "10")
    with pytest.raises(AllocationRefused, match="exceeds the payment"):
        receive(account, "5", [{"target": "charge", "id": "c1", "amount": "6"}])


def test_allocation_to_unknown_targets_is_refused() -> None:
    """Allocations to a closed or unknown bill, an unknown charge, or a bad target kind are refused."""
    account = new_account()
    for alloc in ({"target": "bill", "id": str(uuid4()), "amount": "1"},
                  {"target": "charge", "id": "ghost", "amount": "1"},
                  {"target": "invoice", "id": "x", "amount": "1"},
                  {"target": "charge", "id": "x", "amount": "0"}):
        with pytest.raises(AllocationRefused):
            receive(account, "5", [alloc])
    assert account.balance == 0


def test_allocation_in_fractional_minor_units_is_refused() -> None:
    """An allocation must be in whole minor units like the payment itself."""
    account = new_account()
    charge(account, "c1", "10.004")
    with pytest.raises(InvalidAmount, match="minor units"):
        receive(account, "10", [{"target": "charge", "id": "c1", "amount": "10.004"}])
    assert account.credit_balance == 0


def test_charge_prepayment_keeps_identity() -> None:
    """Paying an unbilled charge lowers the balance; the identity accounts for that prepayment."""
    account = new_account()
    charge(account, "c1", "10")
    receive(account, "6", [{"target": "charge", "id": "c1", "amount": "6"}])
    assert account.balance == D(4) and account.entry_remaining("c1") == D(4)
    assert account.identity_holds()


def test_prepaid_charge_reduces_the_bill() -> None:
    """A charge paid before billing is applied to its bill as a prepayment."""
    account = new_account()
    charge(account, "c1", "10")
    receive(account, "6", [{"target": "charge", "id": "c1", "amount": "6"}])
    bill_id, (_, prepaid) = issue(account)
    assert [p["amount"] for p in prepaid] == ["6"]
    assert account.open_bills[bill_id]["remaining"] == D(4) and account.identity_holds()


def test_prepayment_beyond_a_smaller_bill_becomes_credit() -> None:
    """If credits shrink a bill below what was prepaid on its charges, the excess becomes credit balance."""
    account = new_account()
    charge(account, "c1", "10")
    receive(account, "10", [{"target": "charge", "id": "c1", "amount": "10"}])
    charge(account, "cr", "4", kind=CREDIT)
    bill_id, (_, prepaid) = issue(account)
    assert sum(D(p["amount"]) for p in prepaid) == D(6)
    assert bill_id not in account.open_bills and account.credit_balance == D(4)
    assert account.balance == D(-4) and account.identity_holds()


# --- refunds ---------------------------------------------------------------------------------


def test_refund_within_credit_balance() -> None:
    """Credit balance can be refunded."""
    account = new_account()
    receive(account, "10")
    assert account.refund_credit(T0, refund_id="r1", amount=D(4), method="bankCard", reference="", effective_at=T0)
    assert account.credit_balance == D(6) and account.balance == D(-6) and account.identity_holds()


def test_refund_beyond_credit_is_refused() -> None:
    """A refund larger than the credit balance is refused."""
    account = new_account()
    receive(account, "10")
    with pytest.raises(InsufficientCredit):
        account.refund_credit(T0, refund_id="r1", amount=D("10.01"), method="bankCard", reference="", effective_at=T0)
    assert account.credit_balance == D(10)


@pytest.mark.parametrize("amount", ["0", "-1", "0.001"])
def test_bad_refund_amounts_are_refused(amount: str) -> None:
    """A refund is positive and in whole minor units."""
    account = new_account()
    receive(account, "10")
    with pytest.raises(InvalidAmount):
        account.refund_credit(T0, refund_id="r1", amount=D(amount), method="cash", reference="", effective_at=T0)


def test_refund_is_idempotent_and_conflicts_on_other_content() -> None:
    """Same refund id and content is a no-op; other content is a conflict."""
    account = new_account()
    receive(account, "10")
    kw = dict(refund_id="r1", method="cash", reference="", effective_at=T0)
    assert account.refund_credit(T0, amount=D(3), **kw) is True
    assert account.refund_credit(T0, amount=D(3), **kw) is False
    with pytest.raises(IdempotencyConflict):
        account.refund_credit(T0, amount=D(2), **kw)
    assert account.credit_balance == D(7)


# --- reversal --------------------------------------------------------------------------------


def test_reversal_reopens_bill_and_takes_back_credit() -> None:
    """Reversing a payment reopens what it paid and removes the credit it left."""
    account = new_account()
    charge(account, "c1", "10")
    bill_id, _ = issue(account)
    pid = uuid4()
    account.receive_payment(T0, payment_id=pid, amount=D(15), effective_at=T0,
                            allocations=[{"target": "bill", "id": bill_id, "amount": D(10)}])
    info = {bill_id: {"bill_number": "ACC-1-00001", "bill_date": "2026-11-01", "payment_due_date": "2026-11-15"}}
    account.reverse_payment(T0, payment_id=pid, amount=D(15), allocations=[{"target": "bill", "id": bill_id, "amount": "10"}],
                            to_balance=D(5), bills=info, reason="NSF", effective_at=T0)
    assert account.open_bills[bill_id]["remaining"] == D(10) and account.credit_balance == 0
    assert account.balance == D(10) and account.identity_holds()


def test_reversal_of_spent_credit_leaves_a_debit() -> None:
    """If the payment's credit was already used by a bill, the reversal books a debit entry."""
    account = new_account()
    pid = uuid4()
    account.receive_payment(T0, payment_id=pid, amount=D(10), allocations=[], effective_at=T0)
    charge(account, "c1", "10")
    issue(account)  # takes the 10 credit
    account.reverse_payment(T0, payment_id=pid, amount=D(10), allocations=[], to_balance=D(10), bills={}, reason="",
                            effective_at=T0)
    assert account.unbilled[f"reversal:{pid}"].tax_included == D(10)
    assert account.balance == D(10) and account.identity_holds()


def test_identity_holds_after_every_operation() -> None:
    """A mixed sequence of operations keeps balance == unbilled + receivable - credit - prepaid at each step."""
    account = new_account("BHD")
    steps = [
        lambda: charge(account, "c1", "1.0005", taxes=[TaxLine("VAT", D(10), D("0.10005"))]),
        lambda: charge(account, "c2", "2", kind=PENALTY),
        lambda: charge(account, "cr", "0.5", kind=CREDIT),
        lambda: adjust(account, "a1", "c2", "-1"),
        lambda: receive(account, "1.000", [{"target": "charge", "id": "c1", "amount": "1.000"}]),
        lambda: issue(account, "1.601"),
        lambda: receive(account, "5.000"),
        lambda: account.refund_credit(T0, refund_id="r", amount=D("1.000"), method="cash", reference="", effective_at=T0),
    ]
    for step in steps:
        step()
        assert account.identity_holds(), step


def test_reversal_of_a_prepayment_split_between_bill_and_credit() -> None:
    """Reversing a charge prepayment whose excess went to credit undoes the bill part and takes back the credit part."""
    account = new_account()
    charge(account, "c1", "10")
    pid = uuid4()
    account.receive_payment(T0, payment_id=pid, amount=D(10), effective_at=T0,
                            allocations=[{"target": "charge", "id": "c1", "amount": D(10)}])
    charge(account, "cr", "4", kind=CREDIT)
    bill_id, _ = issue(account)
    info = {bill_id: {"bill_number": "ACC-1-00001", "bill_date": "2026-11-01", "payment_due_date": "2026-11-15"}}
    undone = account.reverse_payment(T0, payment_id=pid, amount=D(10),
                                     allocations=[{"target": "charge", "id": "c1", "amount": "10"}], to_balance=D(0),
                                     bills=info, reason="chargeback", effective_at=T0)
    assert [(u["target"], u["amount"]) for u in undone] == [("bill", "6")]
    assert account.open_bills[bill_id]["remaining"] == D(6) and account.credit_balance == 0
    assert account.balance == D(6) and account.identity_holds()


# --- concurrency: threads sharing one Ledger (several Ledgers on one database: tests/integration/test_application.py)


def test_threads_sharing_one_ledger_lose_no_update() -> None:
    """Threads that share one Ledger instance post to one account: every charge counts and the stream replays."""
    ledger = make_ledger(memory_settings(retries=500, snapshot_interval=10), FakeClock())
    define_spec(ledger)
    open_account(ledger, "HOT", "EUR")
    writers, per_writer, errors = 8, 50, []

    def writer(index: int) -> None:
        try:
            for i in range(per_writer):
                post_charge(ledger, "HOT", f"w{index}-{i}", "1.00", "EUR", "2026-10-01T10:00:00Z")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to expose races
    try:
        threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    account = fresh_account(ledger, "HOT")
    assert account.balance == writers * per_writer and account.version == 1 + writers * per_writer
    ledger.close()


# ---------------------------------------------------------------- terms


def _terms(account: BillingAccount, limit: str = "0", days: int | None = None,
           method: dict[str, str] | None = None) -> bool:
    return account.change_terms(T0, credit_limit=D(limit), payment_terms_days=days, default_payment_method=method,
                                reason="renegotiated")


def test_terms_change_and_the_same_terms_again_change_nothing() -> None:
    """New terms are recorded; the same terms again record no event."""
    account = new_account()
    assert _terms(account, "0", 30, {"id": "dd-1", "type": "directDebit"})
    assert (account.payment_terms_days, account.default_payment_method) == (30, {"id": "dd-1", "type": "directDebit"})
    assert not _terms(account, "0", 30, {"id": "dd-1", "type": "directDebit"})
    assert [type(e).__name__ for e in account.collect_events()][-1] == "TermsChanged"


def test_a_prepaid_credit_limit_cannot_go_below_the_overdraft() -> None:
    """A prepaid account overdrawn by 8.00 keeps a credit limit of at least 8.00."""
    account = new_account(rating_type="prepaid", credit_limit="10.00")
    charge(account, amount="8.00")
    with pytest.raises(CreditLimitExceeded):
        _terms(account, "5.00")
    assert _terms(account, "8.00") and account.credit_limit == D("8.00")


@pytest.mark.parametrize("limit", ["-1", "0.001"])
def test_a_credit_limit_in_no_whole_minor_unit_is_refused(limit: str) -> None:
    """The same rule as at opening: >= 0, in whole minor units."""
    with pytest.raises(InvalidAmount):
        _terms(new_account(), limit)


def test_a_closed_account_keeps_its_terms() -> None:
    """Terms of a closed account do not change."""
    account = new_account()
    account.close(T0, "left", None)
    with pytest.raises(AccountStateError):
        _terms(account, "5.00")


# --- taking a batch's charges back (after its save met a version conflict) --------------------------------------


def _state(account: BillingAccount) -> dict[str, Any]:
    """Everything an account holds, copied (pending events by identity)."""
    return {k: (list(map(id, v)) if k == "_pending_events" else copy.deepcopy(v)) for k, v in vars(account).items()}


@pytest.mark.parametrize("rating_type", ["postpaid", "prepaid"])
def test_undoing_charges_gives_back_the_account_as_it_was(rating_type: str) -> None:
    """Charges, credits, penalties, a charge over an adjustment's entry id, duplicates and refusals in between: undone
    with their marks, the account is exactly as before (state, version, pending events) and takes them again."""
    account = new_account(rating_type=rating_type, credit_limit="50.00")
    receive(account, "20.00")
    charge(account, "old", "4.00")
    if rating_type == "postpaid":
        adjust(account, "adj-1", "old", "-1.00")
    account.collect_events()
    before = _state(account)
    marks = []
    plan = [("c1", "10.00", CHARGE), ("cr", "3.00", CREDIT), ("old", "4.00", CHARGE), ("p1", "2.50", PENALTY),
            ("adj-1", "1.00", CHARGE), ("c1", "10.00", CHARGE), ("big", "900.00", CHARGE),
            ("c2", "0.10", CHARGE)]
    for charge_id, amount, kind in plan:
        mark = account.charge_mark(charge_id)
        try:
            if charge(account, charge_id, amount, kind=kind, taxes=[TaxLine("VAT", D(20), D(amount) / 5)]):
                marks.append(mark)
        except (CreditLimitExceeded, IdempotencyConflict):
            pass
    assert account.version > before["_version"]
    account.undo_charges(marks)
    assert _state(account) == before
    assert charge(account, "c1", "10.00", taxes=[TaxLine("VAT", D(20), D("2.00"))]) and account.identity_holds()
