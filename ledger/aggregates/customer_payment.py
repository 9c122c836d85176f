"""CustomerPayment aggregate (TMF676 Payment): a received payment, its allocations (each an event) and its reversal."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import PaymentStateError

D = Decimal
METHODS = ("cash", "check", "bankCard", "thirdParty", "accountBalance", "loyaltyBurn", "digitalWallet", "directDebit")
DONE, CANCELED = "done", "canceled"


class CustomerPayment(LedgerAggregate):

    if TYPE_CHECKING:  # the state the events set (declared for type checkers only: the library reads annotations)
        account_id: UUID
        account_ref: str
        external_reference: str
        amount: Decimal
        currency: str
        method: str
        payer_ref: str
        payment_date: str
        fingerprint: str
        allocations: list[dict[str, str]]
        to_balance: Decimal
        status: str
        reversal: dict[str, Any] | None

    class Received(LedgerAggregate.Created):
        account_id: UUID
        account_ref: str
        external_reference: str
        amount: str
        currency: str
        method: str
        payer_ref: str
        payment_date: str
        fingerprint: str

        def apply(self, p: CustomerPayment) -> None:
            for name in ("account_id", "account_ref", "external_reference", "currency", "method", "payer_ref",
                         "payment_date", "fingerprint"):
                setattr(p, name, getattr(self, name))
            p.amount = D(self.amount)
            p.allocations = []
            p.to_balance = D(0)
            p.status = DONE
            p.reversal = None

    @classmethod
    def receive(
        cls,
        now: datetime,
        *,
        id: UUID,
        account_id: UUID,
        account_ref: str,
        external_reference: str,
        amount: Decimal,
        currency_code: str,
        method: str,
        payer_ref: str,
        payment_date: datetime,
        fingerprint: str,
    ) -> CustomerPayment:
        if method not in METHODS:
            raise PaymentStateError(f"payment method must be one of {', '.join(METHODS)}, not {method!r}", method=method)
        return cls._create(
            cls.Received, id=id, timestamp=now, account_id=account_id, account_ref=account_ref,
            external_reference=external_reference, amount=str(amount), currency=currency_code, method=method,
            payer_ref=payer_ref, payment_date=payment_date.isoformat(), fingerprint=fingerprint,
        )

    class Allocated(LedgerAggregate.Event):
        target: str
        target_id: str
        amount: str

        def apply(self, p: CustomerPayment) -> None:
            p.allocations.append({"target": self.target, "id": self.target_id, "amount": self.amount})

    class CreditedToBalance(LedgerAggregate.Event):
        """What no bill or charge took: an overpayment, or a prepayment with nothing to pay yet."""

        amount: str
        kind: str

        def apply(self, p: CustomerPayment) -> None:
            p.to_balance = D(self.amount)

    def allocate(self, now: datetime, allocations: list[dict[str, Any]], to_balance: Decimal, kind: str) -> None:
        if self.allocations or self.to_balance:
            raise PaymentStateError(f"payment {self.external_reference} is already allocated")
        for alloc in allocations:
            self._record(self.Allocated, now, target=alloc["target"], target_id=str(alloc["id"]), amount=str(alloc["amount"]))
        if to_balance:
            self._record(self.CreditedToBalance, now, amount=str(to_balance), kind=kind)

    class Reversed(LedgerAggregate.Event):
        reason: str
        kind: str
        undone: list[dict[str, str]]

        def apply(self, p: CustomerPayment) -> None:
            p.status = CANCELED
            p.reversal = {"reason": self.reason, "kind": self.kind, "at": self.timestamp.isoformat(), "undone": self.undone}

    def reverse(self, now: datetime, *, reason: str, kind: str, undone: list[dict[str, str]]) -> None:
        """Bounced check, chargeback: the payment no longer counts and its allocations are undone."""
        if self.status == CANCELED:
            raise PaymentStateError(f"payment {self.external_reference} was already reversed", payment=self.external_reference)
        self._record(self.Reversed, now, reason=reason, kind=kind,
                     undone=[{k: v for k, v in u.items() if k != "bill"} for u in undone])
