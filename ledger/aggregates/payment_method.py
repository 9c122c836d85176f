"""PaymentMethod aggregate (TMF670): how a customer or a billing account pays, in a masked form and a gateway token.

A card is kept as its brand, last four digits and expiry, never its full number; a bank account (direct debit) as
its masked IBAN, the full one sealed with the owning customer's key (so erasing the customer erases it too).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import RuleViolation

TYPES = ("bankCard", "bankAccountDebit", "check", "cash", "voucher", "loyaltyAccount", "thirdParty", "digitalWallet")
ACTIVE, DISABLED = "active", "disabled"


class PaymentMethod(LedgerAggregate):
    if TYPE_CHECKING:  # the state the events set (declared for type checkers only: the library reads annotations)
        method_ref: str
        owner_type: str
        owner_ref: str
        method_type: str
        name: str
        masked: dict[str, str]
        sealed: dict[str, str]
        gateway_token: str | None
        valid_to: str | None
        status: str
        status_reason: str

    class Added(LedgerAggregate.Created):
        method_ref: str
        owner_type: str
        owner_ref: str
        method_type: str
        name: str
        masked: dict[str, str]
        sealed: dict[str, str]
        gateway_token: str | None
        valid_to: str | None

        def apply(self, m: PaymentMethod) -> None:
            for field in ("method_ref", "owner_type", "owner_ref", "method_type", "name", "masked", "sealed",
                          "gateway_token", "valid_to"):
                setattr(m, field, getattr(self, field))
            m.status = ACTIVE
            m.status_reason = ""

    @classmethod
    def add(cls, now: datetime, *, id: UUID, method_ref: str, owner_type: str, owner_ref: str,  # noqa: A002
            method_type: str, name: str, masked: dict[str, str], sealed: dict[str, str], gateway_token: str | None,
            valid_to: date | None) -> PaymentMethod:
        if method_type not in TYPES:
            raise RuleViolation(f"payment method type must be one of {', '.join(TYPES)}", method=method_ref)
        if owner_type not in ("customer", "billingAccount"):
            raise RuleViolation("a payment method belongs to a customer or a billing account", method=method_ref)
        if valid_to is not None and valid_to < now.date():
            raise RuleViolation(f"payment method {method_ref} expired on {valid_to}", method=method_ref)
        return cls._create(cls.Added, id=id, timestamp=now, method_ref=method_ref, owner_type=owner_type,
                           owner_ref=owner_ref, method_type=method_type, name=name, masked=masked, sealed=sealed,
                           gateway_token=gateway_token, valid_to=valid_to.isoformat() if valid_to else None)

    class StatusChanged(LedgerAggregate.Event):
        status: str
        reason: str

        def apply(self, m: PaymentMethod) -> None:
            m.status = self.status
            m.status_reason = self.reason

    def disable(self, now: datetime, reason: str) -> bool:
        if self.status == DISABLED:
            return False
        self._record(self.StatusChanged, now, status=DISABLED, reason=reason)
        return True

    def status_on(self, day: date) -> str:
        if self.status == ACTIVE and self.valid_to is not None and day.isoformat() > self.valid_to:
            return "expired"
        return self.status
