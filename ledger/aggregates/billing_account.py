"""BillingAccount aggregate (TMF666 BillingAccount, SID CustomerBillingAccount): the account's ledger of entries.

Sign convention: `balance` is what the customer owes (negative: the customer is in credit).
A bill's rounding to the minor unit is booked on the account when the bill is issued.
Identity kept by every event: balance == unbilled total - what payments already paid of unbilled
entries + open bills' remaining - credit_balance - prepaid_balance.

How the state keeps unbilled entries and each charge's fingerprint and net (compact, for fast snapshots) is
`account_storage`'s: rules read entries as `Entry` values (`unbilled`, `entries_for_bill`) and change them through
its functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from ledger.aggregates import account_storage as storage
from ledger.aggregates.account_storage import AccountSnapshot, ChargeNetView, UnbilledView
from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.entries import ADJUSTMENT, CHARGE, CHARGE_TYPES, REVERSAL_DEBIT, Entry, TaxLine, sign_of
from ledger.aggregates.fingerprints import digest
from ledger.aggregates.money import ZERO, currency, round_money
from ledger.errors import (
    AccountStateError,
    AdjustmentRefused,
    AllocationRefused,
    ChargeNotFound,
    CreditLimitExceeded,
    CurrencyMismatch,
    CustomerRelinkRefused,
    EffectiveBeforeOpening,
    IdempotencyConflict,
    InsufficientCredit,
    InvalidAmount,
    RuleViolation,
)

PREPAID = "prepaid"
POSTPAID = "postpaid"
ACTIVE, SUSPENDED, CLOSED = "active", "suspended", "closed"
D = Decimal


_ABSENT: Any = object()  # no such key (a ChargeMark's entry or record)


class ChargeMark(NamedTuple):
    """What a ChargeApplied can change on an account, as it was before (`BillingAccount.charge_mark`)."""

    version: int
    modified_on: datetime
    balance: Decimal
    prepaid_balance: Decimal
    unbilled_sum: Decimal
    charge_id: str
    entry: Any
    record: Any
    pending: int


PlanCharges = dict[str, dict[str, Any]]
"""Charges checked by `BillingAccount.apply_plan_charge` and not recorded yet, by charge id: each a ChargeApplied's
fields (`BillingAccount.record_plan_charges` records them)."""


class AppliedCharge(NamedTuple):
    """One charge of a PlanChargesApplied event, read as a ChargeApplied event is (same attribute names)."""

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    charge_id: str
    charge_type: str
    product_ref: str | None
    period_start: str | None
    period_end: str | None
    tax_excluded: str
    taxes: list[dict[str, str]]
    tax_included: str
    effective_at: str
    description: str
    fingerprint: str


def _apply_charge(a: BillingAccount, charge_id: str, charge_type: str, product_ref: str | None, tax_excluded: str,
                  taxes: list[dict[str, str]], tax_included: str, effective_at: str, description: str,
                  fingerprint: str) -> None:
    """What a charge's event changes on the account (ChargeApplied, and each charge of a PlanChargesApplied)."""
    if sign_of(charge_type) < 0:  # a credit: its amounts are kept signed
        signed = -D(tax_included)
        included, excluded = str(signed), str(-D(tax_excluded))
        taxes = [{**t, "amount": str(-D(t["amount"]))} for t in taxes]
    else:
        signed, included, excluded = D(tax_included), tax_included, tax_excluded
    a.balance += signed
    if a.rating_type == PREPAID:  # no entry: a prepaid charge draws down the balance
        storage.set_charge(a, charge_id, fingerprint, included)
        a.prepaid_balance -= signed
        return
    storage.add_entry(a, charge_id, signed, charge_type, product_ref=product_ref, tax_excluded=excluded, taxes=taxes,
                      tax_included=included, effective_at=effective_at, description=description,
                      fingerprint=fingerprint)


class BillingAccount(LedgerAggregate):
    """A customer's billing account; every charge, bill, payment and refund touches it."""

    if TYPE_CHECKING:  # the state the events set (declared for type checkers only: the library reads annotations)
        account_ref: str
        customer_id: str
        currency: str
        rating_type: str
        cycle_specification: str
        payment_terms_days: int | None
        credit_limit: Decimal
        default_payment_method: dict[str, str] | None
        time_zone: str
        name: str
        status: str
        status_since: str
        balance: Decimal
        credit_balance: Decimal
        prepaid_balance: Decimal
        unbilled_sum: Decimal
        entries: dict[str, str]
        entry_paid: dict[str, dict[str, Decimal]]
        open_bills: dict[str, dict[str, Any]]
        charges: dict[str, str]
        caller_ids: dict[str, str]
        billed_paid_entries: dict[str, str]
        prepaid_excess: dict[str, Decimal]
        bill_count: int
        bills: dict[str, str]

    class_version = storage.STATE_VERSION  # the layout of its state; older snapshots are upcast when loaded

    class Snapshot(AccountSnapshot):
        """A snapshot of the account in account_storage's layout (stored under this class's topic)."""

    # The library's own Snapshot (version-1 snapshots were taken with it) upcasts by calling these by name.
    upcast_v1_v2 = staticmethod(storage.upcast_v1_v2)
    upcast_v2_v3 = staticmethod(storage.upcast_v2_v3)
    upcast_v3_v4 = staticmethod(storage.upcast_v3_v4)

    class Opened(LedgerAggregate.Created):
        account_ref: str
        customer_id: str
        currency: str
        rating_type: str
        cycle_specification: str
        payment_terms_days: int | None
        credit_limit: str
        default_payment_method: dict[str, str] | None
        time_zone: str
        name: str

        def apply(self, a: BillingAccount) -> None:
            a.account_ref = self.account_ref
            a.customer_id = self.customer_id
            a.currency = self.currency
            a.rating_type = self.rating_type
            a.cycle_specification = self.cycle_specification
            a.payment_terms_days = self.payment_terms_days
            a.credit_limit = D(self.credit_limit)
            a.default_payment_method = self.default_payment_method
            a.time_zone = self.time_zone
            a.name = self.name
            a.status = ACTIVE
            a.status_since = self.timestamp.isoformat()
            a.balance = ZERO
            a.credit_balance = ZERO
            a.prepaid_balance = ZERO
            a.entries = {}
            a.entry_paid = {}
            a.unbilled_sum = ZERO
            a.open_bills = {}
            a.charges = {}
            a.caller_ids = {}
            a.billed_paid_entries = {}
            a.prepaid_excess = {}
            a.bill_count = 0
            a.bills = {}

    @classmethod
    def open(
        cls,
        now: datetime,
        *,
        id: UUID,
        account_ref: str,
        customer_id: str,
        currency_code: str,
        rating_type: str,
        cycle_specification: str,
        payment_terms_days: int | None,
        credit_limit: Decimal,
        default_payment_method: dict[str, str] | None,
        time_zone: str,
        name: str = "",
    ) -> BillingAccount:
        cur = currency(currency_code)
        if rating_type not in (PREPAID, POSTPAID):
            raise RuleViolation(f"rating type must be prepaid or postpaid, not {rating_type!r}", rating_type=rating_type)
        if credit_limit < 0 or round_money(credit_limit, cur) != credit_limit:
            raise InvalidAmount(f"credit limit {credit_limit} must be >= 0 in whole {cur.code} minor units",
                                credit_limit=credit_limit)
        if payment_terms_days is not None and payment_terms_days < 0:
            raise RuleViolation("payment terms must not be negative", payment_terms_days=payment_terms_days)
        return cls._create(
            cls.Opened,
            id=id,
            timestamp=now,
            account_ref=account_ref,
            customer_id=customer_id,
            currency=cur.code,
            rating_type=rating_type,
            cycle_specification=cycle_specification,
            payment_terms_days=payment_terms_days,
            credit_limit=str(credit_limit),
            default_payment_method=default_payment_method,
            time_zone=time_zone,
            name=name,
        )

    # ---------------------------------------------------------------- queries

    @property
    def last_activity(self) -> str:
        """When the last event happened (ISO 8601)."""
        return self.modified_on.isoformat()

    @property
    def is_prepaid(self) -> bool:
        return self.rating_type == PREPAID

    @property
    def unbilled(self) -> UnbilledView:
        """Unbilled entries by entry id, each read as an Entry (read-only)."""
        return UnbilledView(self)

    @property
    def charge_net(self) -> ChargeNetView:
        """Every charge's signed net amount after its adjustments, by charge id (read-only)."""
        return ChargeNetView(self)

    def charge_record(self, charge_id: str) -> tuple[str, str] | None:
        """(fingerprint, signed net as a decimal string) of a charge; None when the account has no such charge."""
        return storage.charge_record(self, charge_id)

    @property
    def unbilled_total(self) -> Decimal:
        return self.unbilled_sum

    @property
    def receivable(self) -> Decimal:
        return sum((b["remaining"] for b in self.open_bills.values()), ZERO)

    @property
    def unbilled_prepaid(self) -> Decimal:
        """What payments have already paid of the unbilled entries (charge prepayments)."""
        return sum((sum(paid.values(), ZERO) for paid in self.entry_paid.values()), ZERO)

    def identity_holds(self) -> bool:
        return self.balance == (self.unbilled_total - self.unbilled_prepaid + self.receivable
                                - self.credit_balance - self.prepaid_balance)

    def entries_for_bill(self, charge_cutoff: datetime | None, credit_cutoff: datetime | None) -> list[Entry]:
        """Unbilled entries a bill takes: debits effective before the charge cut-off, credits before the credit cut-off.

        A cut-off of None takes everything (final and customer-requested bills).
        """
        chosen = []
        moment = datetime.fromisoformat
        for entry in self.unbilled.values():
            cutoff = credit_cutoff if entry.tax_included < ZERO else charge_cutoff
            if cutoff is None or moment(entry.effective_at) < cutoff:
                chosen.append(entry)
        return chosen

    def bill_rows(self, charge_cutoff: datetime | None, credit_cutoff: datetime | None) -> list[storage.BillRow]:
        """The entries entries_for_bill chooses, as the rows a bill run composes (`account_storage.bill_rows`)."""
        return storage.bill_rows(self, charge_cutoff, credit_cutoff)

    def remembered(self, kind: str, caller_id: str, fingerprint: str) -> bool:
        """True when this caller id was already applied with the same content; conflict when content differs."""
        if kind == "charge":
            record = self.charge_record(caller_id)
            known = None if record is None else record[0]
        else:
            known = self.caller_ids.get(f"{kind}:{caller_id}")
        if known is None:
            return False
        if known != fingerprint:
            raise IdempotencyConflict(
                f"{kind} {caller_id!r} was already applied to account {self.account_ref} with different content",
                account=self.account_ref,
                **{kind: caller_id},
            )
        return True

    # ---------------------------------------------------------------- rules

    def _require_active(self, what: str, effective_at: datetime | None = None) -> None:
        if self.status == CLOSED:
            raise AccountStateError(f"account {self.account_ref} is closed: cannot {what}", account=self.account_ref)
        if self.status == SUSPENDED and (effective_at is None or effective_at >= datetime.fromisoformat(self.status_since)):
            raise AccountStateError(
                f"account {self.account_ref} is suspended since {self.status_since}: cannot {what}",
                account=self.account_ref,
            )

    def _check_money(self, amount: Decimal, what: str, *, whole_units: bool = False) -> None:
        cur = currency(self.currency)
        if whole_units and round_money(amount, cur) != amount:
            raise InvalidAmount(
                f"{what} {amount} must be in whole {cur.code} minor units ({cur.minor_unit} decimal places)",
                account=self.account_ref,
                amount=amount,
            )

    def _check_prepaid_funds(self, amount: Decimal) -> None:
        if self.is_prepaid and amount > 0 and self.prepaid_balance - amount < -self.credit_limit:
            raise CreditLimitExceeded(
                f"charge of {amount} {self.currency} exceeds prepaid balance {self.prepaid_balance} "
                f"plus credit limit {self.credit_limit}",
                account=self.account_ref,
                amount=amount,
                available=self.prepaid_balance + self.credit_limit,
            )

    # ---------------------------------------------------------------- charges

    class ChargeApplied(LedgerAggregate.Event):
        charge_id: str
        charge_type: str
        product_ref: str | None
        period_start: str | None
        period_end: str | None
        tax_excluded: str
        taxes: list[dict[str, str]]
        tax_included: str
        effective_at: str
        description: str
        fingerprint: str

        def apply(self, a: BillingAccount) -> None:
            _apply_charge(a, self.charge_id, self.charge_type, self.product_ref, self.tax_excluded, self.taxes,
                          self.tax_included, self.effective_at, self.description, self.fingerprint)

    class PlanChargesApplied(LedgerAggregate.Event):
        """Several charges of a subscription bill run applied at once (`BillingAccount.record_plan_charges`): each
        of `charges` holds what a ChargeApplied holds (its fields by name) and changes the account as that event
        would, in order. `applied()` gives them as ChargeApplied-like views for the readers of charges."""

        charges: list[dict[str, Any]]

        def apply(self, a: BillingAccount) -> None:
            for c in self.charges:
                _apply_charge(a, c["charge_id"], c["charge_type"], c["product_ref"], c["tax_excluded"], c["taxes"],
                              c["tax_included"], c["effective_at"], c["description"], c["fingerprint"])

        def applied(self) -> list[AppliedCharge]:
            """Each charge as a ChargeApplied reads (its fields, and the event's id, version and timestamp)."""
            return [AppliedCharge(self.originator_id, self.originator_version, self.timestamp, **c) for c in self.charges]

    def apply_charge(
        self,
        now: datetime,
        *,
        charge_id: str,
        charge_type: str,
        currency_code: str,
        tax_excluded: Decimal,
        taxes: list[TaxLine],
        tax_included: Decimal,
        effective_at: datetime,
        product_ref: str | None = None,
        period_start: str | None = None,
        period_end: str | None = None,
        description: str = "",
    ) -> bool:
        """Apply an AppliedCustomerBillingRate; returns False when it was already applied (idempotent)."""
        tax_lines, effective = [t.as_event() for t in taxes], effective_at.isoformat()
        fingerprint = digest(charge_type, currency_code, tax_excluded, tax_lines, tax_included,
                             effective, product_ref, period_start, period_end)
        if self.remembered("charge", charge_id, fingerprint):
            return False
        self._require_active("apply charges", effective_at)
        if effective_at < self.created_on:
            raise EffectiveBeforeOpening(
                f"charge {charge_id} is effective at {effective}, before account {self.account_ref} was opened "
                f"({self.created_on.isoformat()})", account=self.account_ref, charge=charge_id)
        if currency_code != self.currency:
            raise CurrencyMismatch(
                f"charge {charge_id} is in {currency_code} but account {self.account_ref} bills in {self.currency}",
                account=self.account_ref, charge=charge_id, expected=self.currency, got=currency_code,
            )
        if charge_type not in CHARGE_TYPES:
            raise RuleViolation(f"charge type must be one of {', '.join(CHARGE_TYPES)}, not {charge_type!r}", charge=charge_id)
        if tax_excluded < 0 or tax_included < 0 or any(t.amount < 0 for t in taxes):
            raise InvalidAmount(
                f"charge {charge_id}: amounts must not be negative (a credit is charge type {CHARGE_TYPES[2]})",
                charge=charge_id,
            )
        tax_sum = sum((t.amount for t in taxes), ZERO)
        if tax_excluded + tax_sum != tax_included:
            raise InvalidAmount(
                f"charge {charge_id}: tax-included amount {tax_included} != tax-excluded {tax_excluded} + taxes {tax_sum}",
                charge=charge_id,
            )
        self._check_prepaid_funds(sign_of(charge_type) * tax_included)
        self._record(
            self.ChargeApplied,
            now,
            charge_id=charge_id,
            charge_type=charge_type,
            product_ref=product_ref,
            period_start=period_start,
            period_end=period_end,
            tax_excluded=str(tax_excluded),
            taxes=tax_lines,
            tax_included=str(tax_included),
            effective_at=effective,
            description=description,
            fingerprint=fingerprint,
        )
        return True

    def charge_mark(self, charge_id: str) -> ChargeMark:
        """What applying charge `charge_id` may change, as it is now: `undo_charges` puts it back."""
        return ChargeMark(self._version, self._modified_on, self.balance, self.prepaid_balance, self.unbilled_sum,
                          charge_id, self.entries.get(charge_id, _ABSENT), self.charges.get(charge_id, _ABSENT),
                          len(self._pending_events))

    def undo_charges(self, marks: list[ChargeMark]) -> None:
        """Take back the charges applied since their marks were taken (one mark per ChargeApplied, taken just before
        it, in order; nothing else applied meanwhile): the state, version and pending events are those of the first
        mark again. After a batch's save met a version conflict the account is so back at its stored version, to be
        caught up with the events stored since, not rebuilt. A ChargeApplied changes only what a mark holds (its
        entry and record, the balances, the unbilled total; tests/unit/test_billing_account.py pins it)."""
        for mark in reversed(marks):
            for kept, records in ((mark.entry, self.entries), (mark.record, self.charges)):
                if kept is _ABSENT:
                    records.pop(mark.charge_id, None)
                else:
                    records[mark.charge_id] = kept
            self._version, self._modified_on = mark.version, mark.modified_on
            self.balance, self.prepaid_balance, self.unbilled_sum = mark.balance, mark.prepaid_balance, mark.unbilled_sum
            del self._pending_events[mark.pending:]

    def apply_plan_charge(self, now: datetime, *, charge_id: str, tax_excluded: Decimal, tax_line: dict[str, str] | None,
                          tax_amount: Decimal, effective_at: datetime, product_ref: str, period_start: str,
                          period_end: str, description: str, pending: PlanCharges | None = None) -> bool:
        """apply_charge of a subscription's charge (type charge, in the account's currency, tax-included = tax-excluded
        + its one tax line's amount, `tax_line` that line as events hold it, or None and a tax amount of zero), as the
        cycle's recurring step makes it (`recurring_paths.post_recurring`): the same fingerprint, rules and event,
        without the checks those terms make moot (currency, charge type, the tax sum) and without TaxLine values.
        An account that is not an active postpaid one goes the apply_charge way.

        `pending`: the charge, once checked, is added to it instead of being recorded at once; `record_plan_charges`
        then records them all as one event (the same rules: it is also checked against the charges pending)."""
        included = tax_excluded + tax_amount
        if self.rating_type == PREPAID or self.status != ACTIVE or (tax_line is None and tax_amount):
            if pending:
                self.record_plan_charges(now, pending)  # in order: what is pending comes first
            taxes = [TaxLine(tax_line["category"], D(tax_line["rate"]), tax_amount)] if tax_line else []
            return self.apply_charge(now, charge_id=charge_id, charge_type=CHARGE, currency_code=self.currency,
                                     tax_excluded=tax_excluded, taxes=taxes, tax_included=included,
                                     effective_at=effective_at, product_ref=product_ref, period_start=period_start,
                                     period_end=period_end, description=description)
        tax_lines, effective = [tax_line] if tax_line else [], effective_at.isoformat()
        fingerprint = digest(CHARGE, self.currency, tax_excluded, tax_lines, included, effective, product_ref,
                             period_start, period_end)
        if self.remembered("charge", charge_id, fingerprint):
            return False
        if pending is not None and charge_id in pending:
            if pending[charge_id]["fingerprint"] != fingerprint:
                raise IdempotencyConflict(
                    f"charge {charge_id!r} was already applied to account {self.account_ref} with different content",
                    account=self.account_ref, charge=charge_id)
            return False
        if effective_at < self.created_on:
            raise EffectiveBeforeOpening(
                f"charge {charge_id} is effective at {effective}, before account {self.account_ref} was opened "
                f"({self.created_on.isoformat()})", account=self.account_ref, charge=charge_id)
        if tax_excluded < 0 or tax_amount < 0:
            raise InvalidAmount(
                f"charge {charge_id}: amounts must not be negative (a credit is charge type {CHARGE_TYPES[2]})",
                charge=charge_id,
            )
        fields = dict(charge_id=charge_id, charge_type=CHARGE, product_ref=product_ref, period_start=period_start,
                      period_end=period_end, tax_excluded=str(tax_excluded), taxes=tax_lines,
                      tax_included=str(included), effective_at=effective, description=description,
                      fingerprint=fingerprint)
        if pending is not None:
            pending[charge_id] = fields
        else:
            self._record(self.ChargeApplied, now, **fields)
        return True

    def record_plan_charges(self, now: datetime, pending: PlanCharges) -> None:
        """Record the charges `apply_plan_charge` left pending (then none is): one ChargeApplied for one charge, one
        PlanChargesApplied for several (a subscription bill run's charges of an account: fewer events to write)."""
        if len(pending) == 1:
            (fields,) = pending.values()
            self._record(self.ChargeApplied, now, **fields)
        elif pending:
            self._record(self.PlanChargesApplied, now, charges=list(pending.values()))
        pending.clear()

    class ChargeAdjusted(LedgerAggregate.Event):
        adjustment_id: str
        charge_id: str
        tax_excluded: str
        taxes: list[dict[str, str]]
        tax_included: str
        effective_at: str
        reason: str
        fingerprint: str

        def apply(self, a: BillingAccount) -> None:
            signed = D(self.tax_included)
            a.caller_ids[f"adjustment:{self.adjustment_id}"] = self.fingerprint
            fingerprint, net = a.charge_record(self.charge_id)  # type: ignore[misc]
            a.balance += signed
            if a.is_prepaid:
                a.prepaid_balance -= signed
            else:
                storage.add_entry(a, self.adjustment_id, signed, ADJUSTMENT, charge_id=self.charge_id,
                                  tax_excluded=self.tax_excluded, taxes=self.taxes, tax_included=self.tax_included,
                                  effective_at=self.effective_at, description=self.reason)
            storage.set_charge(a, self.charge_id, fingerprint, str(D(net) + signed))

    def adjust_charge(
        self,
        now: datetime,
        *,
        adjustment_id: str,
        charge_id: str,
        tax_excluded: Decimal,
        taxes: list[TaxLine],
        tax_included: Decimal,
        effective_at: datetime,
        reason: str,
    ) -> bool:
        """Correct an earlier charge with a new signed entry that points at it; the charge itself is never edited."""
        fingerprint = digest(charge_id, tax_excluded, [t.as_event() for t in taxes], tax_included, effective_at.isoformat(),
                             reason)
        if self.remembered("adjustment", adjustment_id, fingerprint):
            return False
        if self.status == CLOSED:
            raise AccountStateError(f"account {self.account_ref} is closed: cannot adjust charges", account=self.account_ref)
        record = self.charge_record(charge_id)
        if record is None:
            raise ChargeNotFound(f"account {self.account_ref} has no charge {charge_id!r} to adjust", account=self.account_ref,
                                 charge=charge_id)
        if tax_included == 0:
            raise InvalidAmount("an adjustment of zero changes nothing", adjustment=adjustment_id)
        if tax_excluded + sum((t.amount for t in taxes), ZERO) != tax_included:
            raise InvalidAmount(f"adjustment {adjustment_id}: tax-included amount != tax-excluded + taxes",
                                adjustment=adjustment_id)
        net = D(record[1])
        after = net + tax_included
        if (net >= 0 and after < 0) or (net < 0 and after > 0):
            raise AdjustmentRefused(
                f"adjustment {adjustment_id} of {tax_included} would take charge {charge_id} from {net} past zero",
                account=self.account_ref, charge=charge_id, net=net,
            )
        self._check_prepaid_funds(tax_included)
        self._record(
            self.ChargeAdjusted,
            now,
            adjustment_id=adjustment_id,
            charge_id=charge_id,
            tax_excluded=str(tax_excluded),
            taxes=[t.as_event() for t in taxes],
            tax_included=str(tax_included),
            effective_at=effective_at.isoformat(),
            reason=reason,
            fingerprint=fingerprint,
        )
        return True

    # ---------------------------------------------------------------- bills

    class BillIssued(LedgerAggregate.Event):
        bill_id: UUID
        bill_number: str
        run_type: str
        cycle_id: UUID | None
        entry_ids: list[str]
        amount_due: str
        credit_applied: str
        prepaid: list[dict[str, str]]
        bill_date: str
        payment_due_date: str
        rounding_difference: str

        def apply(self, a: BillingAccount) -> None:
            a.balance += D(self.rounding_difference)
            storage.bill_entries(a, self.entry_ids)
            paid = a.entry_paid
            for entry_id in self.entry_ids if paid else ():  # what payments paid of them now sits on the bill
                if paid.pop(entry_id, None):
                    a.billed_paid_entries[entry_id] = str(self.bill_id)
            amount_due = D(self.amount_due)
            credit = D(self.credit_applied)
            prepaid = sum((D(p["amount"]) for p in self.prepaid), ZERO)
            for part in self.prepaid:  # prepayments beyond what the bill asks for become credit balance
                excess = D(part.get("excess", "0"))
                if excess:
                    a.credit_balance += excess
                    a.prepaid_excess[f"{part['payment_id']}:{part['entry_id']}"] = excess
            a.credit_balance -= credit
            remaining = amount_due - credit - prepaid
            if amount_due < 0:  # a net-credit bill: the excess becomes credit balance
                a.credit_balance += -amount_due
                remaining = ZERO
            a.bill_count += 1
            a.bills[self.bill_number] = str(self.bill_id)
            if remaining > 0:
                a.open_bills[str(self.bill_id)] = {
                    "remaining": remaining,
                    "bill_number": self.bill_number,
                    "bill_date": self.bill_date,
                    "payment_due_date": self.payment_due_date,
                }

    def next_bill_number(self) -> str:
        return f"{self.account_ref}-{self.bill_count + 1:05d}"

    def issue_bill(
        self,
        now: datetime,
        *,
        bill_id: UUID,
        bill_number: str,
        run_type: str,
        cycle_id: UUID | None,
        entries: Sequence[Entry | storage.BillRow],
        amount_due: Decimal,
        bill_date: str,
        payment_due_date: str,
    ) -> tuple[Decimal, list[dict[str, str]]]:
        """Move entries onto a bill; applies credit balance automatically. Returns (credit applied, prepaid allocations).

        Prepayments of the entries are applied to the bill up to its amount due; any excess (credits or
        adjustments on the same bill made it smaller than what was prepaid) becomes credit balance.
        """
        if self.is_prepaid:
            raise AccountStateError(f"account {self.account_ref} is prepaid: charges draw down its balance, no bills",
                                    account=self.account_ref)
        if str(bill_id) in self.open_bills:
            raise RuleViolation(f"bill {bill_id} was already issued", bill=bill_id)
        missing = [e.id for e in entries if e.id not in self.entries]
        if missing:
            raise RuleViolation(f"entries already billed or unknown: {', '.join(missing)}", account=self.account_ref)
        prepaid, room = [], max(amount_due, ZERO)
        for e in entries:
            paid_by = e.paid_by
            for pid, amt in sorted(paid_by.items()) if paid_by else ():
                applied = min(amt, room)
                room -= applied
                prepaid.append({"payment_id": pid, "entry_id": e.id, "amount": str(applied), "excess": str(amt - applied)})
        prepaid_total = sum((D(p["amount"]) for p in prepaid), ZERO)
        open_amount = amount_due - prepaid_total
        credit = min(self.credit_balance, open_amount) if open_amount > 0 else ZERO
        self._record(
            self.BillIssued,
            now,
            bill_id=bill_id,
            bill_number=bill_number,
            run_type=run_type,
            cycle_id=cycle_id,
            entry_ids=[e.id for e in entries],
            amount_due=str(amount_due),
            credit_applied=str(credit),
            prepaid=prepaid,
            bill_date=bill_date,
            payment_due_date=payment_due_date,
            rounding_difference=str(amount_due - sum((e.tax_included for e in entries), ZERO)),
        )
        return credit, [p for p in prepaid if D(p["amount"]) > 0]

    # ---------------------------------------------------------------- payments

    class PaymentReceived(LedgerAggregate.Event):
        payment_id: UUID
        amount: str
        allocations: list[dict[str, str]]
        to_balance: str
        effective_at: str

        def apply(self, a: BillingAccount) -> None:
            amount = D(self.amount)
            a.balance -= amount
            for alloc in self.allocations:
                value = D(alloc["amount"])
                if alloc["target"] == "bill":
                    bill = a.open_bills[alloc["id"]]
                    bill["remaining"] -= value
                    if bill["remaining"] == 0:
                        del a.open_bills[alloc["id"]]
                else:
                    paid_by = a.entry_paid.setdefault(alloc["id"], {})
                    paid_by[str(self.payment_id)] = paid_by.get(str(self.payment_id), ZERO) + value
            if a.is_prepaid:
                a.prepaid_balance += D(self.to_balance)
            else:
                a.credit_balance += D(self.to_balance)

    def entry_remaining(self, entry_id: str) -> Decimal:
        """What is left to pay of an unbilled entry."""
        return storage.entry_amount(self, entry_id) - sum(self.entry_paid.get(entry_id, {}).values(), ZERO)

    def receive_payment(
        self,
        now: datetime,
        *,
        payment_id: UUID,
        amount: Decimal,
        allocations: list[dict[str, Any]],
        effective_at: datetime,
    ) -> Decimal:
        """Record a payment and its allocations; whatever is not allocated goes to the account's balance. Returns that rest."""
        if amount <= 0:
            raise InvalidAmount("a payment must be positive", amount=amount)
        self._check_money(amount, "payment amount", whole_units=True)
        total = ZERO
        for alloc in allocations:
            value = alloc["amount"]
            if value <= 0:
                raise AllocationRefused("an allocation must be positive", target=alloc["id"])
            self._check_money(value, "allocation", whole_units=True)
            if alloc["target"] == "bill":
                bill = self.open_bills.get(str(alloc["id"]))
                if bill is None:
                    raise AllocationRefused(f"bill {alloc['id']} is not open on account {self.account_ref}", bill=alloc["id"])
                if value > bill["remaining"]:
                    raise AllocationRefused(
                        f"allocation {value} exceeds bill {bill['bill_number']}'s remaining {bill['remaining']}", bill=alloc["id"]
                    )
            elif alloc["target"] == "charge":
                if self.is_prepaid:
                    raise AllocationRefused("prepaid accounts have no unbilled charges: a payment tops up the balance")
                if alloc["id"] not in self.entries:
                    raise AllocationRefused(f"charge {alloc['id']} is not unbilled on account {self.account_ref}",
                                            charge=alloc["id"])
                if value > self.entry_remaining(alloc["id"]):
                    raise AllocationRefused(f"allocation {value} exceeds what remains of charge {alloc['id']}",
                                            charge=alloc["id"])
            else:
                raise AllocationRefused(f"allocation target must be 'bill' or 'charge', not {alloc['target']!r}")
            total += value
        if total > amount:
            raise AllocationRefused(f"allocations total {total} exceeds the payment {amount}", amount=amount)
        rest = amount - total
        self._record(
            self.PaymentReceived,
            now,
            payment_id=payment_id,
            amount=str(amount),
            allocations=[{"target": a["target"], "id": str(a["id"]), "amount": str(a["amount"])} for a in allocations],
            to_balance=str(rest),
            effective_at=effective_at.isoformat(),
        )
        return rest

    class PaymentReversed(LedgerAggregate.Event):
        payment_id: UUID
        amount: str
        undone: list[dict[str, str]]
        balance_removed: str
        debit: str
        reason: str
        effective_at: str

        def apply(self, a: BillingAccount) -> None:
            a.balance += D(self.amount)
            pid = str(self.payment_id)
            for undo in self.undone:
                value = D(undo["amount"])
                if undo["target"] == "charge":
                    paid_by = a.entry_paid[undo["id"]]
                    paid_by[pid] -= value
                    if paid_by[pid] == 0:
                        del paid_by[pid]
                    if not paid_by:
                        del a.entry_paid[undo["id"]]
                else:
                    bill = a.open_bills.get(undo["id"])
                    if bill is None:
                        a.open_bills[undo["id"]] = {**undo["bill"], "remaining": value}  # type: ignore[dict-item]  # an undo record's bill is a dict (JSON state)
                    else:
                        bill["remaining"] += value
            removed = D(self.balance_removed)
            if a.is_prepaid:
                a.prepaid_balance -= removed
            else:
                a.credit_balance -= removed
            debit = D(self.debit)
            if debit:
                storage.add_entry(a, f"reversal:{pid}", debit, REVERSAL_DEBIT, tax_excluded=str(debit), taxes=[],
                                  tax_included=str(debit), effective_at=self.effective_at,
                                  description=f"credit already used from reversed payment: {self.reason}")

    def current_targets(self, allocations: list[dict[str, str]]) -> list[tuple[str, str]]:
        """Where each allocation's money sits now: a charge paid before billing has since moved onto its bill."""
        targets = []
        for alloc in allocations:
            if alloc["target"] == "charge" and alloc["id"] not in self.entries:
                targets.append(("bill", self.billed_paid_entries[alloc["id"]]))
            else:
                targets.append((alloc["target"], alloc["id"]))
        return targets

    def reverse_payment(
        self,
        now: datetime,
        *,
        payment_id: UUID,
        amount: Decimal,
        allocations: list[dict[str, str]],
        to_balance: Decimal,
        bills: dict[str, dict[str, str]],
        reason: str,
        effective_at: datetime,
    ) -> list[dict[str, str]]:
        """Undo a payment: its allocations reopen bills and charges; credit it left is taken back.

        `bills` gives number and dates of every bill an allocation now sits on (to reopen settled ones).
        Returns the undone allocations, each pointing at where the money sits now (a bill or an unbilled charge).
        """
        undone: list[dict[str, Any]] = []
        for (target, target_id), alloc in zip(self.current_targets(allocations), allocations):
            held = D(alloc["amount"])
            if alloc["target"] == "charge" and target == "bill":  # what its bill did not take went to credit balance
                excess = self.prepaid_excess.get(f"{payment_id}:{alloc['id']}", ZERO)
                held -= excess
                to_balance += excess
            if held == 0:
                continue
            undo: dict[str, Any] = {"target": target, "id": target_id, "amount": str(held)}
            if target == "bill":
                undo["bill"] = bills[target_id]
            undone.append(undo)
        available = self.prepaid_balance if self.is_prepaid else self.credit_balance
        if self.is_prepaid:
            removed, debit = to_balance, ZERO
        else:
            removed = min(max(available, ZERO), to_balance)
            debit = to_balance - removed
        self._record(
            self.PaymentReversed,
            now,
            payment_id=payment_id,
            amount=str(amount),
            undone=undone,
            balance_removed=str(removed),
            debit=str(debit),
            reason=reason,
            effective_at=effective_at.isoformat(),
        )
        return undone

    # ---------------------------------------------------------------- refunds

    class CreditRefunded(LedgerAggregate.Event):
        refund_id: str
        amount: str
        method: str
        reference: str
        effective_at: str
        fingerprint: str

        def apply(self, a: BillingAccount) -> None:
            amount = D(self.amount)
            a.caller_ids[f"refund:{self.refund_id}"] = self.fingerprint
            a.balance += amount
            if a.is_prepaid:
                a.prepaid_balance -= amount
            else:
                a.credit_balance -= amount

    def refund_credit(self, now: datetime, *, refund_id: str, amount: Decimal, method: str, reference: str,
                      effective_at: datetime) -> bool:
        """Return credit balance (overpayment, prepayment) to the payer."""
        fingerprint = digest(amount, method, reference, effective_at.isoformat())
        if self.remembered("refund", refund_id, fingerprint):
            return False
        if amount <= 0:
            raise InvalidAmount("a refund must be positive", amount=amount)
        self._check_money(amount, "refund amount", whole_units=True)
        available = self.prepaid_balance if self.is_prepaid else self.credit_balance
        if amount > available:
            raise InsufficientCredit(
                f"refund of {amount} {self.currency} exceeds the credit balance {available}",
                account=self.account_ref, amount=amount, available=available,
            )
        self._record(self.CreditRefunded, now, refund_id=refund_id, amount=str(amount), method=method,
                     reference=reference, effective_at=effective_at.isoformat(), fingerprint=fingerprint)
        return True

    # ---------------------------------------------------------------- lifecycle

    class StatusChanged(LedgerAggregate.Event):
        status: str
        reason: str
        final_bill_id: UUID | None

        def apply(self, a: BillingAccount) -> None:
            a.status = self.status
            a.status_since = self.timestamp.isoformat()

    def suspend(self, now: datetime, reason: str) -> None:
        if self.status != ACTIVE:
            raise AccountStateError(f"account {self.account_ref} is {self.status}, only an active account can be suspended",
                                    account=self.account_ref)
        self._record(self.StatusChanged, now, status=SUSPENDED, reason=reason, final_bill_id=None)

    def resume(self, now: datetime, reason: str) -> None:
        if self.status != SUSPENDED:
            raise AccountStateError(f"account {self.account_ref} is {self.status}, only a suspended account can be resumed",
                                    account=self.account_ref)
        self._record(self.StatusChanged, now, status=ACTIVE, reason=reason, final_bill_id=None)

    def close(self, now: datetime, reason: str, final_bill_id: UUID | None) -> None:
        if self.status == CLOSED:
            raise AccountStateError(f"account {self.account_ref} is already closed", account=self.account_ref)
        if self.entries:
            raise AccountStateError(f"account {self.account_ref} still has unbilled entries: issue the final bill first",
                                    account=self.account_ref)
        if self.is_prepaid and self.prepaid_balance < 0:
            raise AccountStateError(
                f"prepaid account {self.account_ref} owes {-self.prepaid_balance} {self.currency}: settle it before closing",
                account=self.account_ref,
            )
        self._record(self.StatusChanged, now, status=CLOSED, reason=reason, final_bill_id=final_bill_id)

    # ---------------------------------------------------------------- terms

    class TermsChanged(LedgerAggregate.Event):
        """The account's terms after the change (credit limit, own payment terms, default payment method)."""

        credit_limit: str
        payment_terms_days: int | None
        default_payment_method: dict[str, str] | None
        reason: str

        def apply(self, a: BillingAccount) -> None:
            a.credit_limit = D(self.credit_limit)
            a.payment_terms_days = self.payment_terms_days
            a.default_payment_method = self.default_payment_method

    def change_terms(self, now: datetime, *, credit_limit: Decimal, payment_terms_days: int | None,
                     default_payment_method: dict[str, str] | None, reason: str) -> bool:
        """Set the terms (False when they are already these). A prepaid account's new credit limit must still cover
        what it is overdrawn by."""
        if (credit_limit, payment_terms_days, default_payment_method) == (
                self.credit_limit, self.payment_terms_days, self.default_payment_method):
            return False
        if self.status == CLOSED:
            raise AccountStateError(f"account {self.account_ref} is closed: its terms cannot change", account=self.account_ref)
        cur = currency(self.currency)
        if credit_limit < 0 or round_money(credit_limit, cur) != credit_limit:
            raise InvalidAmount(f"credit limit {credit_limit} must be >= 0 in whole {cur.code} minor units",
                                credit_limit=credit_limit)
        if payment_terms_days is not None and payment_terms_days < 0:
            raise RuleViolation("payment terms must not be negative", payment_terms_days=payment_terms_days)
        if self.is_prepaid and self.prepaid_balance < -credit_limit:
            raise CreditLimitExceeded(
                f"prepaid account {self.account_ref} is overdrawn by {-self.prepaid_balance} {self.currency}: "
                f"the credit limit cannot go below that", account=self.account_ref, credit_limit=credit_limit)
        self._record(self.TermsChanged, now, credit_limit=str(credit_limit), payment_terms_days=payment_terms_days,
                     default_payment_method=default_payment_method, reason=reason)
        return True

    # ---------------------------------------------------------------- customer

    class CustomerLinked(LedgerAggregate.Event):
        """The account belongs to this customer from now on (`previous_customer_id`: the one it named before)."""

        customer_id: str
        previous_customer_id: str
        reason: str

        def apply(self, a: BillingAccount) -> None:
            a.customer_id = self.customer_id

    def link_customer(self, now: datetime, *, customer_id: str, current_exists: bool, relink: bool,
                      reason: str) -> bool:
        """Make `customer_id` (an existing, open customer: the caller checks) the account's customer; False when it
        already is. `current_exists`: whether the customer the account names now exists. An account naming a
        customer that does not exist (opened before customers did) is linked freely; one already linked to an
        existing customer moves only with `relink` and a reason. Linking changes no money, so a suspended or closed
        account may be linked too."""
        if customer_id == self.customer_id:
            return False
        if current_exists and not relink:
            raise CustomerRelinkRefused(
                f"account {self.account_ref} belongs to customer {self.customer_id}: moving it to {customer_id} "
                "needs relink with a reason", account=self.account_ref, customer=self.customer_id)
        if current_exists and not reason.strip():
            raise CustomerRelinkRefused(
                f"moving account {self.account_ref} from customer {self.customer_id} to {customer_id} needs a reason",
                account=self.account_ref, customer=self.customer_id)
        self._record(self.CustomerLinked, now, customer_id=customer_id, previous_customer_id=self.customer_id,
                     reason=reason)
        return True
