"""TMF676 Payment Management: payment (record, with paymentItem for explicit allocations, else the payment plan;
list; get with its allocations as they stand), its reversal (a bounced check or a chargeback: an extension,
POST payment/{id}/reversal), and refund (credit balance returned to the payer)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field

from ledger.commands import RecordPayment, RefundCredit, ReversePayment
from ledger.commands.results import CreditRefunded, PaymentRecorded
from ledger.contracts.tmf import PAYMENT_API, href, part_id, split_part_id
from ledger.errors import InvalidInput, PaymentNotFound
from ledger.http.auth import Caller
from ledger.http.deps import Allowed, Services
from ledger.http.errors import ApiError, error_responses
from ledger.http.idempotency import Once
from ledger.http.listing import list_payments
from ledger.http.tmf import LISTED, Extensible, Fields, Json, Money, Paging, Ref, Resource, Tmf, again, dump, one, ref
from ledger.queries.accounts import account_summary
from ledger.queries.bills import bill_view_by_id
from ledger.queries.payments import (
    PaymentView,
    RefundNotFound,
    RefundView,
    account_refunds,
    payment_by_reference,
    payment_view,
    refund_view,
)

router = APIRouter(prefix=PAYMENT_API, tags=["TMF676 Payment Management"])
METHODS = Literal["cash", "check", "bankCard", "thirdParty", "accountBalance", "loyaltyBurn", "digitalWallet", "directDebit"]


class PaymentItem(Tmf):
    item: Ref
    totalAmount: Money


class PaymentMethodRef(Tmf):
    """The payment method's kind (TMF670 type) in `@type` or `@referredType`; its id is the provider's."""

    id: str | None = Field(None, max_length=200)
    name: str | None = None
    href: str | None = None
    type_: str | None = Field(None, alias="@type")
    referredType: str | None = Field(None, alias="@referredType")

    def kind(self) -> str | None:
        return self.type_ or self.referredType or self.name


class Reversal(Tmf):
    kind: Literal["bouncedCheck", "chargeback", "other"]
    reason: str
    reversedAt: str


class Payment(Resource):
    """TMF676 Payment. `correlatorId` is the ledger's external reference (its idempotency key); `toBalance` (what
    became credit balance) and `reversal` are extensions. status: done, or canceled once reversed."""

    id: str
    href: str
    correlatorId: str
    status: Literal["done", "canceled"]
    statusDate: str
    paymentDate: str
    account: Ref
    totalAmount: Money
    amount: Money
    paymentMethod: PaymentMethodRef
    payer: Ref
    paymentItem: list[PaymentItem]
    toBalance: Money
    reversal: Reversal | None = None
    type_: str = Field("Payment", alias="@type")

    @classmethod
    def of(cls, v: PaymentView) -> Payment:
        cur = v.currency
        items = [PaymentItem(item=Ref(**ref("CustomerBill", a.id, name=a.bill_number)) if a.target == "bill"
                             else Ref(**ref("AppliedCustomerBillingRate", part_id(v.account_id, a.id))),
                             totalAmount=Money.of(a.amount, cur)) for a in v.allocations]
        reversal = v.reversal
        return cls(id=v.payment_id, href=href("Payment", v.payment_id), correlatorId=v.external_reference,
                   status=v.status, statusDate=reversal["at"] if reversal else v.recorded_at,
                   paymentDate=v.payment_date, account=Ref(**ref("BillingAccount", v.account_id)),
                   totalAmount=Money.of(v.amount, cur), amount=Money.of(v.amount, cur),
                   paymentMethod=PaymentMethodRef(name=v.method, referredType=v.method),
                   payer=Ref(id=v.payer_ref, role="payer", referredType="Party"), paymentItem=items,
                   toBalance=Money.of(v.to_balance, cur),
                   reversal=Reversal(kind=reversal["kind"], reason=reversal["reason"], reversedAt=reversal["at"])
                   if reversal else None)


class PaymentCreate(Extensible):
    """A received payment. Without paymentItem it pays the open bills oldest due first (the payment plan), the
    rest becoming credit balance; each paymentItem pays a bill (item @referredType CustomerBill, its id) or an
    unbilled charge (AppliedCustomerBillingRate). `paymentDate` (when it was paid) is required here."""

    correlatorId: str = Field(min_length=1, max_length=200)
    account: Ref
    totalAmount: Money
    paymentMethod: PaymentMethodRef
    paymentDate: datetime
    payer: Ref | None = None
    paymentItem: list[PaymentItem] | None = None
    amount: Money | None = None
    taxAmount: Money | None = None
    description: str | None = None
    name: str | None = None
    authorizationCode: str | None = None
    channel: Ref | None = None


def visible_payment(svc: Services, caller: Caller, payment_id: str) -> PaymentView:
    try:
        view = payment_view(svc.reads, UUID(payment_id))
    except ValueError:
        raise PaymentNotFound(f"payment {payment_id!r} not found") from None
    if not caller.sees(view.account_id):
        raise PaymentNotFound(f"payment {payment_id!r} not found")
    return view


def _allocation(svc: Services, account: str, item: PaymentItem) -> dict[str, Any]:
    kind = item.item.referredType or item.item.type_ or "CustomerBill"
    if kind == "CustomerBill":
        try:
            bill = bill_view_by_id(svc.reads, svc.now, UUID(item.item.id))
        except ValueError:
            raise InvalidInput(f"paymentItem: {item.item.id!r} is not a bill id") from None
        if bill.account_id != account:
            raise InvalidInput(f"paymentItem: bill {item.item.id} is not on account {account}")
        return {"target": "bill", "id": bill.bill_number, "amount": item.totalAmount.value}
    if kind == "AppliedCustomerBillingRate":
        parts = split_part_id(item.item.id)
        return {"target": "charge", "id": parts[1] if parts else item.item.id, "amount": item.totalAmount.value}
    raise InvalidInput(f"paymentItem: item @referredType must be CustomerBill or AppliedCustomerBillingRate, not {kind!r}")


@router.post("/payment", name="payment.create", status_code=201, response_model=Payment,
             responses={**again(Payment), **error_responses(400, 401, 403, 404, 409, 422)})
def create_payment(svc: Services, caller: Allowed, once: Once, body: PaymentCreate) -> Response:
    """Record a payment (idempotent by correlatorId: the same payment again answers 200, other details 409)."""

    def run() -> PaymentRecorded:
        account = body.account.id
        payer = body.payer.id if body.payer else account_summary(svc.reads, svc.now, account).customer_id
        data: dict[str, Any] = {
            "account_id": account, "external_reference": body.correlatorId, "amount": body.totalAmount.value,
            "currency": body.totalAmount.unit, "method": body.paymentMethod.kind(), "payer_ref": payer,
            "date": body.paymentDate}
        if body.paymentItem is not None:
            data["allocations"] = [_allocation(svc, account, item) for item in body.paymentItem]
        return svc.execute(RecordPayment.parse(data), PaymentRecorded)

    return once.create(caller, body, run, lambda r: dump(Payment.of(payment_view(svc.reads, UUID(r.payment_id)))),
                       fresh=lambda r: r.created)


@router.get("/payment", name="payment.list", response_model=list[Payment], responses={**LISTED, **error_responses(400, 401, 403)})
def list_payments_(svc: Services, caller: Allowed, paging: Paging,
                   account_id: Annotated[str | None, Query(alias="account.id", max_length=200)] = None,
                   status: Annotated[Literal["done", "canceled"] | None, Query()] = None,
                   paymentDate_gte: Annotated[datetime | None, Query(alias="paymentDate.gte")] = None,
                   paymentDate_lte: Annotated[datetime | None, Query(alias="paymentDate.lte")] = None) -> Json:
    """Payments, oldest first (selection from the read models, each payment as it stands now)."""
    ids_, total = list_payments(svc, caller, paging, {"account_ref": account_id, "status": status},
                                {("payment_date", "gte"): paymentDate_gte, ("payment_date", "lte"): paymentDate_lte})
    return paging.respond([dump(Payment.of(visible_payment(svc, caller, p))) for p in ids_], total)


@router.get("/payment/{id}", name="payment.get", response_model=Payment, responses=error_responses(401, 403, 404))
def get_payment(svc: Services, caller: Allowed, fields: Fields,
                id: Annotated[str, Path(min_length=1, max_length=200)]) -> Json:  # noqa: A002
    return one(dump(Payment.of(visible_payment(svc, caller, id))), fields)


class ReversalCreate(Tmf):
    """A bounced check or a chargeback: the payment's allocations are undone, its bills reopen."""

    kind: Literal["bouncedCheck", "chargeback", "other"]
    reason: str = Field("", max_length=2000)
    reversalDate: datetime = Field(description="when the reversal takes effect (the bank's return date, the chargeback's)")


@router.post("/payment/{id}/reversal", name="payment.reverse", response_model=Payment,
             responses=error_responses(400, 401, 403, 404, 409, 422))
def reverse_payment(svc: Services, caller: Allowed, once: Once, body: ReversalCreate,
                    id: Annotated[str, Path(min_length=1, max_length=200)]) -> Response:  # noqa: A002
    """Reverse a payment (an extension of TMF676): it becomes canceled; reversing it again is 422."""

    def build() -> Json:
        view = visible_payment(svc, caller, id)
        svc.execute(ReversePayment.parse({"external_reference": view.external_reference, "kind": body.kind,
                                          "reason": body.reason, "date": body.reversalDate}))
        return one(dump(Payment.of(payment_by_reference(svc.reads, view.external_reference))), None)

    return once.once(caller, body, build)


# ---------------------------------------------------------------- refund


class Refund(Resource):
    """TMF676 Refund of credit balance; its id reads `<billing account>:<correlatorId>`."""

    id: str
    href: str
    correlatorId: str
    status: Literal["done"]
    refundDate: str
    statusDate: str
    account: Ref
    totalAmount: Money
    amount: Money
    paymentMethod: PaymentMethodRef
    description: str | None = None
    type_: str = Field("Refund", alias="@type")

    @classmethod
    def of(cls, v: RefundView) -> Refund:
        own = part_id(v.account_id, v.refund_id)
        return cls(id=own, href=href("Refund", own), correlatorId=v.refund_id, status="done", refundDate=v.date,
                   statusDate=v.recorded_at, account=Ref(**ref("BillingAccount", v.account_id)),
                   totalAmount=Money.of(v.amount, v.currency), amount=Money.of(v.amount, v.currency),
                   paymentMethod=PaymentMethodRef(name=v.method, referredType=v.method), description=v.reference or None)


class RefundCreate(Extensible):
    """Return credit balance: `correlatorId` names the refund on the account (idempotent), `refundDate` required."""

    correlatorId: str = Field(min_length=1, max_length=200)
    account: Ref
    totalAmount: Money
    paymentMethod: PaymentMethodRef
    refundDate: datetime
    description: str = Field("", max_length=2000)
    amount: Money | None = None
    payment: Ref | None = None
    name: str | None = None


def refund_doc(svc: Services, resource_id: str) -> dict[str, Any]:
    parts = split_part_id(resource_id)
    if parts is None:
        raise RefundNotFound(f"no refund {resource_id!r} (ids read <billing account>:<correlatorId>)")
    return dump(Refund.of(refund_view(svc.reads, *parts)))


@router.post("/refund", name="refund.create", status_code=201, response_model=Refund,
             responses={**again(Refund), **error_responses(400, 401, 403, 404, 409, 422)})
def create_refund(svc: Services, caller: Allowed, once: Once, body: RefundCreate) -> Response:
    def run() -> CreditRefunded:
        return svc.execute(RefundCredit.parse({
            "account_id": body.account.id, "refund_id": body.correlatorId, "amount": body.totalAmount.value,
            "method": body.paymentMethod.kind(), "reference": body.description, "date": body.refundDate}),
            CreditRefunded)

    return once.create(caller, body, run, lambda r: refund_doc(svc, part_id(r.account_id, r.refund_id)),
                       fresh=lambda r: r.applied)


@router.get("/refund", name="refund.list", response_model=list[Refund],
            responses={**LISTED, **error_responses(400, 401, 403, 404)})
def list_refunds(svc: Services, caller: Allowed, paging: Paging,
                 account_id: Annotated[str | None, Query(alias="account.id", max_length=200)] = None) -> Json:
    """An account's refunds (account.id is required: refunds are listed per billing account)."""
    if account_id is None:
        raise ApiError(400, "invalid_input", "account.id: refunds are listed per billing account")
    views = account_refunds(svc.reads, account_id)
    return paging.respond([dump(Refund.of(v)) for v in paging.window(views)], len(views))


@router.get("/refund/{id}", name="refund.get", response_model=Refund, responses=error_responses(401, 403, 404))
def get_refund(svc: Services, caller: Allowed, fields: Fields,
               id: Annotated[str, Path(min_length=1, max_length=500)]) -> Json:  # noqa: A002
    return one(refund_doc(svc, id), fields)
