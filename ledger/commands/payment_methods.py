"""Commands on payment methods (TMF670): add one for a customer or a billing account, disable it.

Card numbers are never taken in full: a number that is a whole PAN (13-19 digits passing the Luhn check) is
refused wherever it appears; a card is given by brand, last four digits, expiry and the gateway's token. An IBAN
is checked (python-stdnum), kept masked, and sealed in full with the owning customer's personal-data key.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator
from stdnum import iban as iban_number
from stdnum import luhn

from ledger.aggregates import ids
from ledger.aggregates.billing_account import CLOSED, BillingAccount
from ledger.aggregates.customer import Customer
from ledger.aggregates.payment_method import PaymentMethod
from ledger.commands.base import Command, Id, Text
from ledger.commands.results import PaymentMethodSaved
from ledger.errors import AccountNotFound, CustomerNotFound, IdempotencyConflict, InvalidInput, PaymentMethodNotFound
from ledger.ports import HandlerContext

_DIGITS = re.compile(r"\d[\d -]{11,}\d")


AS_PAID_WITH = {"bankCard": "bankCard", "bankAccountDebit": "directDebit", "check": "check", "cash": "cash",
                "voucher": "thirdParty", "loyaltyAccount": "loyaltyBurn", "thirdParty": "thirdParty",
                "digitalWallet": "digitalWallet"}
"""A method's type as an account's default payment method names it (TMF676's payment method types)."""

PAN_REFUSED = "a full card number is refused: give the brand, last four digits and the gateway token"


def holds_full_pan(value: str) -> bool:
    """The text holds a whole card number (13-19 digits, spaces or dashes between, passing the Luhn check)."""
    for run in _DIGITS.findall(value):
        digits = re.sub(r"\D", "", run)
        if 13 <= len(digits) <= 19 and luhn.is_valid(digits):
            return True
    return False


def _refuse_pan(value: str) -> str:
    if holds_full_pan(value):
        raise ValueError(PAN_REFUSED)
    return value


class AddPaymentMethod(Command[PaymentMethodSaved]):
    method_id: Id
    customer_id: Id | None = None
    account_id: Id | None = None
    type: Literal["bankCard", "bankAccountDebit", "check", "cash", "voucher", "loyaltyAccount", "thirdParty",
                  "digitalWallet"]
    name: Text = ""
    card_brand: str | None = Field(default=None, max_length=30)
    card_last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    expiry: str | None = Field(default=None, pattern=r"^(0[1-9]|1[0-2])/\d{4}$", description="MM/YYYY")
    iban: str | None = Field(default=None, max_length=42)
    gateway_token: str | None = Field(default=None, max_length=200)

    def log_ids(self) -> dict[str, str]:
        return {k: v for k, v in (("method_id", self.method_id), ("account_id", self.account_id)) if v}

    @field_validator("name", "card_brand", "gateway_token", "method_id")
    @classmethod
    def _no_pan(cls, value: str | None) -> str | None:
        return None if value is None else _refuse_pan(value)

    @field_validator("iban")
    @classmethod
    def _valid_iban(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not iban_number.is_valid(value):
            raise ValueError("not a valid IBAN")
        return iban_number.compact(value)

    @model_validator(mode="after")
    def _consistent(self) -> AddPaymentMethod:
        if (self.customer_id is None) == (self.account_id is None):
            raise ValueError("a payment method belongs to exactly one of customer_id or account_id")
        if self.type == "bankCard" and not (self.card_last4 and self.expiry and self.gateway_token):
            raise ValueError("a bank card needs card_last4, expiry (MM/YYYY) and the gateway_token")
        if self.type == "bankAccountDebit" and not self.iban:
            raise ValueError("a direct debit needs an iban")
        return self

    def valid_to(self) -> dt.date | None:
        if not self.expiry:
            return None
        month, year = (int(x) for x in self.expiry.split("/"))
        following = dt.date(year + month // 12, month % 12 + 1, 1)
        return following - dt.timedelta(days=1)

    def masked(self) -> dict[str, str]:
        found = {"brand": self.card_brand or "", "last4": self.card_last4 or "", "expiry": self.expiry or ""}
        if self.iban:
            found["iban"] = f"{self.iban[:4]}{'*' * (len(self.iban) - 8)}{self.iban[-4:]}"
        return {k: v for k, v in found.items() if v}


class DisablePaymentMethod(Command[PaymentMethodSaved]):
    """Disable a method for good; when it is its billing account's default, the account has no default after."""

    method_id: Id
    reason: Text = ""


def add_payment_method(ctx: HandlerContext, cmd: AddPaymentMethod) -> PaymentMethodSaved:
    method_id = ids.payment_method_id(cmd.method_id)
    existing = ctx.store.find(PaymentMethod, method_id)
    if existing is not None:
        if (existing.method_type, existing.masked, existing.gateway_token) != (cmd.type, cmd.masked(), cmd.gateway_token):
            raise IdempotencyConflict(f"payment method {cmd.method_id!r} exists with other values", method=cmd.method_id)
        return PaymentMethodSaved.of(existing, ctx.now().date(), False)
    if cmd.account_id is not None:
        account = ctx.store.find(BillingAccount, ids.account_id(cmd.account_id))
        if account is None:
            raise AccountNotFound(f"billing account {cmd.account_id!r} not found", account=cmd.account_id)
        owner_type, owner_ref, customer_ref = "billingAccount", cmd.account_id, account.customer_id
    else:
        if ctx.store.find(Customer, ids.customer_id(cmd.customer_id or "")) is None:
            raise CustomerNotFound(f"customer {cmd.customer_id!r} not found", customer=cmd.customer_id)
        owner_type, owner_ref, customer_ref = "customer", cmd.customer_id or "", cmd.customer_id or ""
    sealed = ctx.personal.seal(ids.customer_id(customer_ref), {"iban": cmd.iban}) if cmd.iban else {}
    valid_to = cmd.valid_to()
    if valid_to is not None and valid_to < ctx.now().date():
        raise InvalidInput(f"payment method {cmd.method_id}: the card expired ({cmd.expiry})", method=cmd.method_id)
    method = PaymentMethod.add(ctx.now(), id=method_id, method_ref=cmd.method_id, owner_type=owner_type,
                               owner_ref=owner_ref, method_type=cmd.type, name=cmd.name, masked=cmd.masked(),
                               sealed=sealed, gateway_token=cmd.gateway_token, valid_to=valid_to)
    ctx.store.save(method)
    return PaymentMethodSaved.of(method, ctx.now().date(), True)


def disable_payment_method(ctx: HandlerContext, cmd: DisablePaymentMethod) -> PaymentMethodSaved:
    method = ctx.store.load(PaymentMethod, ids.payment_method_id(cmd.method_id), PaymentMethodNotFound,
                            f"payment method {cmd.method_id!r}")
    now = ctx.now()
    changed = method.disable(now, cmd.reason)
    if changed:
        account = ctx.store.find(BillingAccount, ids.account_id(method.owner_ref)) \
            if method.owner_type == "billingAccount" else None
        chosen = account.default_payment_method if account is not None else None
        if account is not None and account.status != CLOSED and chosen and chosen.get("id") == method.method_ref:
            account.change_terms(now, credit_limit=account.credit_limit, payment_terms_days=account.payment_terms_days,
                                 default_payment_method=None, reason=f"payment method {method.method_ref} disabled")
            ctx.store.save(method, account)
        else:
            ctx.store.save(method)
    return PaymentMethodSaved.of(method, now.date(), changed)
