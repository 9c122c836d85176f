"""Command input validation: bad input raises InvalidInput naming the field; refused commands leave the store unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.commands import (
    AdjustCharge,
    ChangeBillState,
    CloseAccount,
    DefineCycleSpecification,
    IssueOffCycleBill,
    OpenBillingAccount,
    PostCharge,
    PostCharges,
    RecordPayment,
    RefundCredit,
    ResumeAccount,
    ReversePayment,
    SuspendAccount,
    TriggerBillingCycle,
)
from ledger.errors import (
    AccountNotFound,
    AccountStateError,
    AdjustmentRefused,
    AllocationRefused,
    BillNotFound,
    ChargeNotFound,
    CreditLimitExceeded,
    CurrencyMismatch,
    CycleSpecificationNotFound,
    EffectiveBeforeOpening,
    EffectiveBeforePayment,
    EffectiveTooFarAhead,
    IdempotencyConflict,
    InsufficientCredit,
    InvalidAmount,
    InvalidBillTransition,
    InvalidInput,
    LedgerError,
    PaymentNotFound,
    PaymentStateError,
    PeriodNotOver,
    RuleViolation,
)
from ledger.service import Ledger
from tests.support.ledger_factory import (
    FakeClock,
    account_of,
    define_spec,
    make_ledger,
    max_notification_id,
    memory_settings,
    open_account,
    pay,
    post_charge,
    reverse,
    run_cycle,
)

WHEN = "2026-10-05T10:00:00Z"

SPEC = {"name": "monthly"}
ACCOUNT = {"account_id": "A", "customer_id": "C", "currency": "EUR", "cycle_specification": "monthly"}
CHARGE = {"charge_id": "c1", "account_id": "A", "currency": "EUR", "tax_excluded_amount": "10", "date": WHEN}
ADJUST = {"adjustment_id": "a1", "account_id": "A", "charge_id": "c1", "tax_excluded_amount": "-1", "date": WHEN,
          "reason": "goodwill"}
PAYMENT = {"account_id": "A", "external_reference": "P1", "amount": "10", "currency": "EUR", "method": "cash",
           "payer_ref": "C", "date": WHEN}
REVERSAL = {"external_reference": "P1", "kind": "bouncedCheck", "date": "2026-11-07T00:00:00Z"}
LATER = "2027-01-01T00:00:00Z"  # far beyond the effective horizon of the fixture's clock
REFUND = {"account_id": "A", "refund_id": "r1", "amount": "1", "method": "cash", "date": WHEN}
TRIGGER = {"specification": "monthly", "period_start": "2026-10-01", "trigger_type": "person", "triggered_by": "alice"}
OFF_CYCLE = {"account_id": "A", "request_id": "req-1"}
BILL_STATE = {"account_id": "A", "bill_number": "A-00001", "action": "validate"}

# (command, valid base input, bad values, the field the message must name)
BAD_INPUTS: list[tuple[type, dict[str, Any], dict[str, Any], str]] = [
    (DefineCycleSpecification, SPEC, {"name": ""}, "name"),
    (DefineCycleSpecification, SPEC, {"frequency": "weekly"}, "frequency"),
    (DefineCycleSpecification, SPEC, {"billing_day": 0}, "billing_day"),
    (DefineCycleSpecification, SPEC, {"billing_day": 32}, "billing_day"),
    (DefineCycleSpecification, SPEC, {"payment_due_date_offset": -1}, "payment_due_date_offset"),
    (DefineCycleSpecification, SPEC, {"colour": "blue"}, "colour"),
    (OpenBillingAccount, ACCOUNT, {"currency": "XYZ"}, "currency"),
    (OpenBillingAccount, ACCOUNT, {"currency": "eur"}, "currency"),
    (OpenBillingAccount, ACCOUNT, {"rating_type": "hybrid"}, "rating_type"),
    (OpenBillingAccount, ACCOUNT, {"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    (OpenBillingAccount, ACCOUNT, {"credit_limit": 1.5}, "credit_limit"),
    (OpenBillingAccount, ACCOUNT, {"credit_limit": "-1"}, "credit_limit"),
    (OpenBillingAccount, ACCOUNT, {"payment_terms_days": -1}, "payment_terms_days"),
    (OpenBillingAccount, ACCOUNT, {"account_id": "   "}, "account_id"),
    (OpenBillingAccount, ACCOUNT, {"customer_id": None}, "customer_id"),
    (OpenBillingAccount, ACCOUNT, {"default_payment_method": {"id": "pm", "type": "bitcoin"}}, "default_payment_method.type"),
    (PostCharge, CHARGE, {"tax_excluded_amount": 10.5}, "tax_excluded_amount"),
    (PostCharge, CHARGE, {"tax_excluded_amount": "1.0000001"}, "tax_excluded_amount"),
    (PostCharge, CHARGE, {"tax_excluded_amount": "-1"}, "tax_excluded_amount"),
    (PostCharge, CHARGE, {"tax_excluded_amount": "ten"}, "tax_excluded_amount"),
    (PostCharge, CHARGE, {"date": "2026-10-05T10:00:00"}, "date"),
    (PostCharge, CHARGE, {"date": "yesterday"}, "date"),
    (PostCharge, CHARGE, {"currency": "euro"}, "currency"),
    (PostCharge, CHARGE, {"type": "discount"}, "type"),
    (PostCharge, CHARGE, {"charge_id": ""}, "charge_id"),
    (PostCharge, CHARGE, {"applied_tax": [{"tax_category": "VAT", "tax_rate": "-20", "tax_amount": "2"}]},
     "applied_tax.0.tax_rate"),
    (PostCharge, CHARGE, {"applied_tax": [{"tax_category": "VAT", "tax_rate": "20", "tax_amount": 2.0}]},
     "applied_tax.0.tax_amount"),
    (PostCharge, CHARGE, {"tax_included_amount": "12"}, "taxIncludedAmount"),
    (PostCharge, CHARGE, {"period_start": "2026-10-31", "period_end": "2026-10-01"}, "period_end"),
    (PostCharge, CHARGE, {"amount": "10"}, "amount"),
    (PostCharges, {"charges": [CHARGE]}, {"charges": []}, "charges"),
    (PostCharges, {"charges": [CHARGE]}, {"charges": [{**CHARGE, "date": "2026-10-05"}]}, "charges.0.date"),
    (AdjustCharge, ADJUST, {"reason": ""}, "reason"),
    (AdjustCharge, ADJUST, {"tax_excluded_amount": -1.0}, "tax_excluded_amount"),
    (AdjustCharge, ADJUST, {"date": "2026-10-05T10:00:00"}, "date"),
    (RecordPayment, PAYMENT, {"amount": "0"}, "amount"),
    (RecordPayment, PAYMENT, {"amount": "-5"}, "amount"),
    (RecordPayment, PAYMENT, {"amount": 10.0}, "amount"),
    (RecordPayment, PAYMENT, {"method": "bitcoin"}, "method"),
    (RecordPayment, PAYMENT, {"external_reference": ""}, "external_reference"),
    (RecordPayment, PAYMENT, {"allocations": [{"target": "invoice", "id": "x", "amount": "1"}]}, "allocations.0.target"),
    (RecordPayment, PAYMENT, {"allocations": [{"target": "bill", "id": "x", "amount": "0"}]}, "allocations.0.amount"),
    (ReversePayment, REVERSAL, {"kind": "oops"}, "kind"),
    (RefundCredit, REFUND, {"amount": "0"}, "amount"),
    (RefundCredit, REFUND, {"method": "gold"}, "method"),
    (TriggerBillingCycle, TRIGGER, {"trigger_type": "robot"}, "trigger_type"),
    (TriggerBillingCycle, TRIGGER, {"period_start": "2026-13-01"}, "period_start"),
    (TriggerBillingCycle, TRIGGER, {"triggered_by": ""}, "triggered_by"),
    (IssueOffCycleBill, OFF_CYCLE, {"up_to": "2026-10-05T10:00:00"}, "up_to"),
    (ChangeBillState, BILL_STATE, {"action": "pay"}, "action"),
    (SuspendAccount, {"account_id": "A"}, {"account_id": ""}, "account_id"),
    (ResumeAccount, {"account_id": "A"}, {"reason": "x" * 2001}, "reason"),
    (CloseAccount, {"account_id": "A"}, {"account_id": 42}, "account_id"),
]


@pytest.mark.parametrize("model,base,bad,field", BAD_INPUTS,
                         ids=[f"{m.__name__}-{'-'.join(map(str, b))}" for m, _, b, _ in BAD_INPUTS])
def test_bad_input_is_invalid_input_naming_the_field(model: type, base: dict[str, Any], bad: dict[str, Any], field: str) -> None:
    """Each command model refuses bad input with InvalidInput whose message names the offending field."""
    with pytest.raises(InvalidInput) as caught:
        model.parse({**base, **bad})
    assert field in caught.value.message
    assert caught.value.code == "invalid_input" and caught.value.context["command"] == model.__name__


@pytest.mark.parametrize("model,base", [(DefineCycleSpecification, SPEC), (OpenBillingAccount, ACCOUNT), (PostCharge, CHARGE),
                                        (AdjustCharge, ADJUST), (RecordPayment, PAYMENT), (ReversePayment, REVERSAL),
                                        (RefundCredit, REFUND), (TriggerBillingCycle, TRIGGER),
                                        (IssueOffCycleBill, OFF_CYCLE), (ChangeBillState, BILL_STATE)])
def test_valid_base_inputs_parse(model: type, base: dict[str, Any]) -> None:
    """The base inputs used above are themselves valid (so each bad case tests exactly one field)."""
    assert isinstance(model.parse(base), model)


def test_all_bad_fields_are_reported_together() -> None:
    """One InvalidInput lists every bad field, not just the first."""
    with pytest.raises(InvalidInput) as caught:
        PostCharge.parse({**CHARGE, "tax_excluded_amount": 1.5, "date": "nope", "type": "x"})
    assert all(f in caught.value.message for f in ("tax_excluded_amount", "date", "type"))


def test_dates_are_normalised_to_utc() -> None:
    """An instant with an offset is stored as UTC."""
    charge = PostCharge.parse({**CHARGE, "date": "2026-10-31T23:30:00-04:00"})
    assert charge.date == datetime(2026, 11, 1, 3, 30, tzinfo=UTC)


def test_commands_are_immutable() -> None:
    """A parsed command cannot be changed afterwards."""
    charge = PostCharge.parse(CHARGE)
    with pytest.raises(Exception):
        charge.charge_id = "other"  # type: ignore[misc]


# --- refused commands change nothing ---------------------------------------------------------


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    clock = FakeClock(datetime(2026, 10, 1, tzinfo=UTC))
    ledger = make_ledger(memory_settings(), clock)
    define_spec(ledger)
    open_account(ledger, "A", "EUR")
    open_account(ledger, "PRE", "EUR", rating_type="prepaid", credit_limit="5")
    clock.set(datetime(2026, 10, 5, 10, tzinfo=UTC))
    post_charge(ledger, "A", "c1", "10", "EUR", WHEN)
    post_charge(ledger, "A", "c-oct", "20", "EUR", WHEN)
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    run_cycle(ledger, "2026-10-01")
    clock.set(datetime(2026, 11, 6, 0, tzinfo=UTC))
    post_charge(ledger, "A", "c2", "5", "EUR", "2026-11-05T10:00:00Z")
    pay(ledger, "A", "P1", "10", "EUR", "2026-11-06T00:00:00Z")
    reverse(ledger, "P1", when="2026-11-06T00:00:00Z")
    pay(ledger, "A", "P-kept", "1", "EUR", "2026-11-06T00:00:00Z", allocations=[{"target": "charge", "id": "c2", "amount": "1"}])
    yield ledger
    ledger.close()


REFUSALS: list[tuple[str, type, type[LedgerError], dict[str, Any]]] = [
    ("unknown account", PostCharge, AccountNotFound, {**CHARGE, "account_id": "nobody", "charge_id": "x"}),
    ("charge in wrong currency", PostCharge, CurrencyMismatch, {**CHARGE, "charge_id": "x", "currency": "USD"}),
    ("charge in unknown currency", PostCharge, CurrencyMismatch, {**CHARGE, "charge_id": "x", "currency": "XYZ"}),
    ("charge id reused", PostCharge, IdempotencyConflict, {**CHARGE, "tax_excluded_amount": "11"}),
    ("prepaid beyond limit", PostCharge, CreditLimitExceeded, {**CHARGE, "account_id": "PRE", "charge_id": "x"}),
    ("adjust unknown charge", AdjustCharge, ChargeNotFound, {**ADJUST, "charge_id": "ghost"}),
    ("adjust past zero", AdjustCharge, AdjustmentRefused, {**ADJUST, "tax_excluded_amount": "-10.01"}),
    ("payment in wrong currency", RecordPayment, CurrencyMismatch, {**PAYMENT, "external_reference": "P2", "currency": "USD"}),
    ("payment in fractional cents", RecordPayment, InvalidAmount, {**PAYMENT, "external_reference": "P2", "amount": "1.001"}),
    ("payment reference reused", RecordPayment, IdempotencyConflict, {**PAYMENT, "amount": "11"}),
    ("payment to unknown bill", RecordPayment, AllocationRefused,
     {**PAYMENT, "external_reference": "P2", "allocations": [{"target": "bill", "id": "A-99999", "amount": "1"}]}),
    ("payment over a bill", RecordPayment, AllocationRefused,
     {**PAYMENT, "external_reference": "P2", "amount": "50",
      "allocations": [{"target": "bill", "id": "A-00001", "amount": "30.01"}]}),
    ("payment to billed charge", RecordPayment, AllocationRefused,
     {**PAYMENT, "external_reference": "P2", "allocations": [{"target": "charge", "id": "c1", "amount": "1"}]}),
    ("payment allocations over amount", RecordPayment, AllocationRefused,
     {**PAYMENT, "external_reference": "P2", "amount": "1", "allocations": [{"target": "charge", "id": "c2", "amount": "2"}]}),
    ("double reversal", ReversePayment, PaymentStateError, REVERSAL),
    ("reverse unknown payment", ReversePayment, PaymentNotFound, {**REVERSAL, "external_reference": "nope"}),
    ("refund beyond credit", RefundCredit, InsufficientCredit, REFUND),
    ("unknown cycle specification", TriggerBillingCycle, CycleSpecificationNotFound, {**TRIGGER, "specification": "weekly"}),
    ("not a period start", TriggerBillingCycle, InvalidInput, {**TRIGGER, "period_start": "2026-10-02"}),
    ("open on unknown specification", OpenBillingAccount, CycleSpecificationNotFound,
     {**ACCOUNT, "account_id": "B", "cycle_specification": "weekly"}),
    ("reopen with other values", OpenBillingAccount, IdempotencyConflict, {**ACCOUNT, "currency": "USD"}),
    ("redefine specification", DefineCycleSpecification, IdempotencyConflict, {**SPEC, "billing_day": 5}),
    ("send a bill already sent", ChangeBillState, InvalidBillTransition, {**BILL_STATE, "action": "send"}),
    ("unknown bill", ChangeBillState, BillNotFound, {**BILL_STATE, "bill_number": "A-00042"}),
    ("resume an active account", ResumeAccount, AccountStateError, {"account_id": "A"}),
    ("off-cycle bill of nothing", IssueOffCycleBill, RuleViolation, {**OFF_CYCLE, "up_to": "2026-10-01T00:00:00Z"}),
    ("off-cycle bill of prepaid", IssueOffCycleBill, RuleViolation, {**OFF_CYCLE, "account_id": "PRE"}),
    ("charge beyond the horizon", PostCharge, EffectiveTooFarAhead, {**CHARGE, "charge_id": "x", "date": LATER}),
    ("charge before the account opened", PostCharge, EffectiveBeforeOpening,
     {**CHARGE, "charge_id": "x", "date": "2026-09-30T23:59:59Z"}),
    ("adjustment beyond the horizon", AdjustCharge, EffectiveTooFarAhead, {**ADJUST, "date": LATER}),
    ("payment beyond the horizon", RecordPayment, EffectiveTooFarAhead, {**PAYMENT, "external_reference": "P2", "date": LATER}),
    ("refund beyond the horizon", RefundCredit, EffectiveTooFarAhead, {**REFUND, "date": LATER}),
    ("reversal beyond the horizon", ReversePayment, EffectiveTooFarAhead,
     {**REVERSAL, "external_reference": "P-kept", "date": LATER}),
    ("reversal before its payment", ReversePayment, EffectiveBeforePayment,
     {**REVERSAL, "external_reference": "P-kept", "date": "2026-11-05T23:59:59Z"}),
    ("cycle before its cut-off", TriggerBillingCycle, PeriodNotOver, {**TRIGGER, "period_start": "2026-11-01"}),
    ("early run without a reason", TriggerBillingCycle, RuleViolation,
     {**TRIGGER, "period_start": "2026-11-01", "early_run": True}),
]


@pytest.mark.parametrize("name,model,error,data", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_command_leaves_the_store_unchanged(ledger: Ledger, name: str, model: type, error: type[LedgerError],
                                                    data: dict[str, Any]) -> None:
    """A command refused by a rule raises its specific error and records no event."""
    before = max_notification_id(ledger)
    balance = account_of(ledger, "A").balance
    with pytest.raises(error):
        ledger.execute(model.parse(data))
    assert max_notification_id(ledger) == before
    assert account_of(ledger, "A").balance == balance


def test_failed_command_leaves_no_trace_in_memory(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that fails while saving does not leave its unsaved changes visible to the next command."""
    before = account_of(ledger, "A")
    balance, version = before.balance, before.version

    def broken_save(*aggregates: Any, **kw: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ledger.store, "save", broken_save)
    with pytest.raises(RuntimeError):
        post_charge(ledger, "A", "c-lost", "99", "EUR", "2026-11-07T00:00:00Z")
    monkeypatch.undo()
    after = account_of(ledger, "A")
    assert (after.balance, after.version) == (balance, version) and "c-lost" not in after.unbilled
    assert post_charge(ledger, "A", "c-lost", "99", "EUR", "2026-11-07T00:00:00Z").applied is True
    assert account_of(ledger, "A").balance == balance + 99
