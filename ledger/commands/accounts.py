"""Commands on billing accounts and cycle specifications: define, open, suspend, resume, close."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.billing_calendar import CycleCalendarError, CycleSpecification, check_time_zone
from ledger.aggregates.billing_cycle_specification import BillingCycleSpecification
from ledger.aggregates.customer import Customer
from ledger.aggregates.money import currency
from ledger.commands.base import Command, Id, NonNegativeAmount, Text
from ledger.commands.lookups import load_account
from ledger.commands.results import AccountOpened, AccountStatusChanged, AccountTermsChanged, SpecificationDefined
from ledger.errors import CustomerNotFound, CycleSpecificationNotFound, IdempotencyConflict, InvalidInput, UnknownCurrency
from ledger.ports import HandlerContext


class DefineCycleSpecification(Command[SpecificationDefined]):
    """TMF666 BillingCycleSpecification: when periods start and the offsets of the cycle's dates."""

    name: Id
    frequency: Literal["monthly", "bimonthly", "quarterly", "semiannual", "annual"] = "monthly"
    billing_day: int = Field(default=1, ge=1, le=31)
    anchor_month: int = Field(default=1, ge=1, le=12)
    charge_date_offset: int = Field(default=0, ge=-27, le=27)
    credit_date_offset: int = Field(default=0, ge=-27, le=27)
    bill_date_offset: int = Field(default=0, ge=0, le=60)
    mailing_date_offset: int = Field(default=2, ge=0, le=60)
    payment_due_date_offset: int = Field(default=14, ge=0, le=180)

    def specification(self) -> CycleSpecification:
        try:
            return CycleSpecification(**self.model_dump())
        except CycleCalendarError as error:
            raise InvalidInput(str(error), specification=self.name) from None


def define_cycle_specification(ctx: HandlerContext, cmd: DefineCycleSpecification) -> SpecificationDefined:
    spec = cmd.specification()
    spec_id = ids.cycle_spec_id(cmd.name)
    existing = ctx.store.find(BillingCycleSpecification, spec_id)
    if existing is not None:
        if existing.specification != spec:
            raise IdempotencyConflict(
                f"cycle specification {cmd.name!r} exists with other values; specifications are immutable, define a new name",
                specification=cmd.name,
            )
        return SpecificationDefined(specification=cmd.name, created=False)
    ctx.store.save(BillingCycleSpecification.define(ctx.now(), id=spec_id, spec=spec))
    return SpecificationDefined(specification=cmd.name, created=True)


class PaymentMethodRef(Command):
    """TMF670 payment method reference (the method's details live with the payment provider, not in the ledger)."""

    id: Id
    type: Literal["cash", "check", "bankCard", "thirdParty", "accountBalance", "loyaltyBurn", "digitalWallet", "directDebit"]


class OpenBillingAccount(Command[AccountOpened]):
    account_id: Id
    customer_id: Id
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    rating_type: Literal["prepaid", "postpaid"] = "postpaid"
    cycle_specification: Id | None = Field(default=None, description="required for postpaid accounts (their bills' "
                                                                      "cycle); prepaid accounts have no bills")
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    credit_limit: NonNegativeAmount = 0  # type: ignore[assignment]
    default_payment_method: PaymentMethodRef | None = None
    time_zone: str = "UTC"
    name: Text = ""

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        try:
            currency(value)
        except UnknownCurrency as error:
            raise ValueError(error.message) from None
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            return check_time_zone(value)
        except CycleCalendarError as error:
            raise ValueError(str(error)) from None

    @field_validator("cycle_specification")
    @classmethod
    def _postpaid_has_a_cycle(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("rating_type", "postpaid") == "postpaid":
            raise ValueError("a postpaid account needs a cycle specification (the cycle its bills come from)")
        return value


def open_account(ctx: HandlerContext, cmd: OpenBillingAccount) -> AccountOpened:
    account_id = ids.account_id(cmd.account_id)
    if ctx.settings.accounts_need_customer and ctx.store.find(Customer, ids.customer_id(cmd.customer_id)) is None:
        raise customer_missing(cmd)
    if cmd.cycle_specification and ctx.store.find(BillingCycleSpecification,
                                                  ids.cycle_spec_id(cmd.cycle_specification)) is None:
        raise specification_missing(cmd)
    existing = ctx.store.find(BillingAccount, account_id)
    if existing is not None:
        check_same_account(existing, cmd)
        return AccountOpened(account_id=cmd.account_id, created=False)
    ctx.store.save(new_account(ctx.now(), cmd))
    return AccountOpened(account_id=cmd.account_id, created=True)


def customer_missing(cmd: OpenBillingAccount) -> CustomerNotFound:
    return CustomerNotFound(f"customer {cmd.customer_id!r} not found: create it before its accounts",
                            customer=cmd.customer_id)


def specification_missing(cmd: OpenBillingAccount) -> CycleSpecificationNotFound:
    return CycleSpecificationNotFound(f"billing cycle specification {cmd.cycle_specification!r} is not defined",
                                      specification=cmd.cycle_specification)


def check_same_account(existing: BillingAccount, cmd: OpenBillingAccount) -> None:
    """Opening an account that exists is a no-op when it has the same terms; other terms are a conflict."""
    same = (existing.customer_id, existing.currency, existing.rating_type, existing.cycle_specification,
            existing.credit_limit, existing.time_zone) == (cmd.customer_id, cmd.currency, cmd.rating_type,
                                                          cmd.cycle_specification or "", cmd.credit_limit, cmd.time_zone)
    if not same:
        raise IdempotencyConflict(f"billing account {cmd.account_id!r} already exists with other values",
                                  account=cmd.account_id)


def new_account(now: datetime, cmd: OpenBillingAccount) -> BillingAccount:
    """The account the command opens (not saved); a prepaid account is on no cycle (specification "")."""
    method = cmd.default_payment_method.model_dump() if cmd.default_payment_method else None
    return BillingAccount.open(
        now, id=ids.account_id(cmd.account_id), account_ref=cmd.account_id, customer_id=cmd.customer_id,
        currency_code=cmd.currency, rating_type=cmd.rating_type, cycle_specification=cmd.cycle_specification or "",
        payment_terms_days=cmd.payment_terms_days, credit_limit=cmd.credit_limit, default_payment_method=method,
        time_zone=cmd.time_zone, name=cmd.name,
    )


class SuspendAccount(Command[AccountStatusChanged]):
    account_id: Id
    reason: Text = ""


class ResumeAccount(Command[AccountStatusChanged]):
    account_id: Id
    reason: Text = ""


def suspend_account(ctx: HandlerContext, cmd: SuspendAccount) -> AccountStatusChanged:
    account = load_account(ctx.store, cmd.account_id)
    account.suspend(ctx.now(), cmd.reason)
    ctx.store.save(account)
    return AccountStatusChanged(account_id=cmd.account_id, status=account.status)


def resume_account(ctx: HandlerContext, cmd: ResumeAccount) -> AccountStatusChanged:
    account = load_account(ctx.store, cmd.account_id)
    account.resume(ctx.now(), cmd.reason)
    ctx.store.save(account)
    return AccountStatusChanged(account_id=cmd.account_id, status=account.status)


class ChangeAccountTerms(Command):
    """Change an account's credit limit, own payment terms or default payment method: what is given changes (an
    explicit null payment terms or payment method removes it), the rest stays."""

    account_id: Id
    credit_limit: NonNegativeAmount | None = None
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    default_payment_method: PaymentMethodRef | None = None
    reason: Text = ""


def change_account_terms(ctx: HandlerContext, cmd: ChangeAccountTerms) -> AccountTermsChanged:
    account = load_account(ctx.store, cmd.account_id)
    given = cmd.model_fields_set
    credit_limit = cmd.credit_limit if cmd.credit_limit is not None else account.credit_limit
    terms = cmd.payment_terms_days if "payment_terms_days" in given else account.payment_terms_days
    method = (cmd.default_payment_method.model_dump() if cmd.default_payment_method else None) \
        if "default_payment_method" in given else account.default_payment_method
    changed = account.change_terms(ctx.now(), credit_limit=credit_limit, payment_terms_days=terms,
                                   default_payment_method=method, reason=cmd.reason)
    if changed:
        ctx.store.save(account)
    return AccountTermsChanged(account_id=cmd.account_id, changed=changed, credit_limit=account.credit_limit,
                               payment_terms_days=account.payment_terms_days,
                               default_payment_method=account.default_payment_method)
