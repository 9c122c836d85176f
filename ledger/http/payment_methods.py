"""TMF670 Payment Methods: paymentMethod (add for a billing account or a customer, list, get, PATCH status and
isPreferred, DELETE deactivates). Only masked details are ever shown (brand, last four digits, expiry, a masked
IBAN) with the gateway's token; a full card number anywhere in a body is refused (422) without being quoted."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import Response
from pydantic import Field, field_validator

from ledger.commands import ChangeAccountTerms
from ledger.commands.api_keys import CUSTOMER
from ledger.commands.payment_methods import (
    AS_PAID_WITH,
    PAN_REFUSED,
    AddPaymentMethod,
    DisablePaymentMethod,
    holds_full_pan,
)
from ledger.commands.results import PaymentMethodSaved
from ledger.contracts.tmf import PAYMENT_METHOD_API, href
from ledger.errors import InvalidInput, PaymentMethodNotFound
from ledger.http.auth import Caller
from ledger.http.customers import own_customers
from ledger.http.deps import Allowed, Services
from ledger.http.errors import ApiError, error_responses
from ledger.http.idempotency import Once
from ledger.http.listing import list_payment_methods as select_methods
from ledger.http.tmf import (
    LISTED,
    Extensible,
    Fields,
    Json,
    Paging,
    Ref,
    Resource,
    TimePeriod,
    Tmf,
    again,
    dump,
    merge_patch_body,
    one,
    ref,
)
from ledger.queries.payment_methods import PaymentMethodView, payment_method_view

router = APIRouter(prefix=PAYMENT_METHOD_API, tags=["TMF670 Payment Methods"])
TYPES = Literal["bankCard", "bankAccountDebit", "check", "cash", "voucher", "loyaltyAccount", "thirdParty",
                "digitalWallet"]


class PaymentMethod(Resource):
    """TMF670 PaymentMethod (`@type` the kind); the details are masked: `brand`, `lastFourDigits`,
    `expirationDate` (MM/YYYY) of a card, `accountNumber` (a masked IBAN) of a direct debit; `gatewayToken` is
    the payment gateway's token (an extension). `isPreferred`: the billing account's default payment method.
    status: active, disabled, or expired (a card past its expiry)."""

    id: str
    href: str
    name: str
    status: Literal["active", "disabled", "expired"]
    statusDate: str
    statusReason: str | None = None
    isPreferred: bool
    validFor: TimePeriod | None = None
    account: list[Ref]
    relatedParty: Ref | None = None
    brand: str | None = None
    lastFourDigits: str | None = None
    expirationDate: str | None = None
    accountNumber: str | None = None
    accountNumberType: str | None = None
    gatewayToken: str | None = None
    type_: TYPES = Field(alias="@type")

    @classmethod
    def of(cls, v: PaymentMethodView) -> PaymentMethod:
        m = v.masked
        owned_by_account = v.owner_type == "billingAccount"
        return cls(id=v.method_id, href=href("PaymentMethod", v.method_id), name=v.name or v.method_id,
                   status=v.status, statusDate=v.status_date, statusReason=v.status_reason or None,
                   isPreferred=v.is_default, validFor=TimePeriod(endDateTime=v.valid_to) if v.valid_to else None,
                   account=[Ref(**ref("BillingAccount", v.owner_id))] if owned_by_account else [],
                   relatedParty=None if owned_by_account else Ref(**ref("Customer", v.owner_id, role="owner")),
                   brand=m.get("brand"), lastFourDigits=m.get("last4"), expirationDate=m.get("expiry"),
                   accountNumber=m.get("iban"), accountNumberType="IBAN" if "iban" in m else None,
                   gatewayToken=v.gateway_token, type_=v.type)


def _expiry(value: str | None) -> str | None:
    """MM/YYYY, or a date(-time) whose month is taken."""
    if value is None or "/" in value:
        return value
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        raise ValueError("expirationDate: MM/YYYY or a date") from None
    return f"{day.month:02d}/{day.year}"


class PaymentMethodCreate(Extensible):
    """TMF670 PaymentMethod_Create: `@type` the kind; the owner is one billing account (`account`) or the
    customer (`relatedParty`). A card is given by `brand`, `lastFourDigits`, `expirationDate` and `gatewayToken`,
    never by its number (`cardNumber` holding a full number is refused, 422); a direct debit by its IBAN
    (`accountNumber`), kept masked and sealed with the customer's key. `isPreferred` on an account's method makes
    it the account's default."""

    id: str | None = None
    type_: TYPES = Field(alias="@type")
    name: str = Field("", max_length=2000)
    description: str | None = Field(None, max_length=2000)
    isPreferred: bool = False
    account: list[Ref] = Field([], max_length=1)
    relatedParty: Ref | None = None
    brand: str | None = Field(None, max_length=200)
    cardType: str | None = Field(None, max_length=200)
    lastFourDigits: str | None = Field(None, max_length=200)
    expirationDate: str | None = Field(None, max_length=200)
    cardNumber: str | None = Field(None, max_length=200, description="refused when it is a full card number")
    accountNumber: str | None = Field(None, max_length=200)
    accountNumberType: Literal["IBAN"] | None = None
    gatewayToken: str | None = Field(None, max_length=200)
    validFor: TimePeriod | None = None

    @field_validator("expirationDate")
    @classmethod
    def _month(cls, value: str | None) -> str | None:
        return _expiry(value)

    def command(self) -> AddPaymentMethod:
        if self.cardNumber is not None:
            raise InvalidInput("cardNumber: not taken; give lastFourDigits and the gatewayToken")
        if bool(self.account) == (self.relatedParty is not None):
            raise InvalidInput("a payment method belongs to one billing account (account) or its customer (relatedParty)")
        data: dict[str, Any] = {
            "method_id": self.id or f"PM-{uuid.uuid4().hex[:12]}", "type": self.type_, "name": self.name,
            "card_brand": self.brand, "card_last4": self.lastFourDigits, "expiry": self.expirationDate,
            "iban": self.accountNumber, "gateway_token": self.gatewayToken}
        if self.account:
            data["account_id"] = self.account[0].id
        else:
            data["customer_id"] = self.relatedParty.id  # type: ignore[union-attr]
        return AddPaymentMethod.parse({k: v for k, v in data.items() if v is not None})


class PaymentMethodUpdate(Tmf):
    """What PATCH may change: `status` disabled (for good: a method is not enabled again), and `isPreferred`
    (true: the default payment method of its billing account; false: no longer its default)."""

    status: Literal["active", "disabled"] | None = None
    statusReason: str = Field("", max_length=2000)
    isPreferred: bool | None = None
    type_: str | None = Field(None, alias="@type")


def refuse_card_numbers(body: Any) -> None:
    """422 when any text of the body holds a full card number (the number itself is never quoted)."""
    def texts(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [t for v in value.values() for t in texts(v)]
        if isinstance(value, list):
            return [t for v in value for t in texts(v)]
        return []

    if any(holds_full_pan(t) for t in texts(body.model_dump(mode="json"))):
        raise ApiError(422, "card_number_refused", PAN_REFUSED)


def visible_method(svc: Services, caller: Caller, method_id: str) -> PaymentMethodView:
    """The method, or 404 for a customer asking for one its accounts or itself do not own."""
    view = payment_method_view(svc.reads, svc.now, method_id)
    if caller.role == CUSTOMER:
        owned = caller.sees(view.owner_id) if view.owner_type == "billingAccount" else \
            view.owner_id in (own_customers(svc, caller) or set())
        if not owned:
            raise PaymentMethodNotFound(f"payment method {method_id!r} not found", method=method_id)
    return view


def method_doc(svc: Services, method_id: str) -> dict[str, Any]:
    return dump(PaymentMethod.of(payment_method_view(svc.reads, svc.now, method_id)))


def _prefer(svc: Services, view: PaymentMethodView, preferred: bool, reason: str) -> None:
    """Make the method its account's default, or stop it being the default."""
    if view.owner_type != "billingAccount":
        raise ApiError(422, "rule_violation", "isPreferred: only a billing account's payment method is its default")
    if preferred == view.is_default:
        return
    if preferred and view.status != "active":
        raise ApiError(422, "rule_violation", f"payment method {view.method_id} is {view.status}: it cannot be preferred")
    method = {"id": view.method_id, "type": AS_PAID_WITH[view.type]} if preferred else None
    svc.execute(ChangeAccountTerms.parse({"account_id": view.owner_id, "default_payment_method": method,
                                          "reason": reason}))


def _disable(svc: Services, view: PaymentMethodView, reason: str) -> None:
    """Disable the method; an account's default is no longer its default."""
    if view.is_default:
        _prefer(svc, view, False, reason)
    svc.execute(DisablePaymentMethod.parse({"method_id": view.method_id, "reason": reason}), PaymentMethodSaved)


MethodId = Annotated[str, Path(min_length=1, max_length=200, description="the payment method's id")]


@router.post("/paymentMethod", name="paymentMethod.create", status_code=201, response_model=PaymentMethod,
             responses={**again(PaymentMethod), **error_responses(400, 401, 403, 404, 409, 422)})
def create_payment_method(svc: Services, caller: Allowed, once: Once, body: PaymentMethodCreate) -> Response:
    """Add a payment method (idempotent by its id: the same method again answers 200)."""
    refuse_card_numbers(body)

    def run() -> PaymentMethodSaved:
        result = svc.execute(body.command(), PaymentMethodSaved)
        if body.isPreferred:
            _prefer(svc, payment_method_view(svc.reads, svc.now, result.method_id), True, "preferred at creation")
        return result

    return once.create(caller, body, run, lambda r: method_doc(svc, r.method_id), fresh=lambda r: r.changed)


@router.get("/paymentMethod", name="paymentMethod.list", response_model=list[PaymentMethod],
            responses={**LISTED, **error_responses(400, 401, 403)})
def list_payment_methods(
        svc: Services, caller: Allowed, paging: Paging,
        account_id: Annotated[str | None, Query(alias="account.id", max_length=200)] = None,
        relatedParty_id: Annotated[str | None, Query(alias="relatedParty.id", max_length=200)] = None,
        status: Annotated[Literal["active", "disabled", "expired"] | None, Query()] = None,
        type_: Annotated[TYPES | None, Query(alias="@type")] = None) -> Json:
    """Payment methods in the order they were added (a customer sees its own and its accounts' only): selection
    from the read models, each method as it stands."""
    accounts: set[str] | None = None
    customers: set[str] | None = None
    if caller.role == CUSTOMER:
        accounts, customers = set(caller.accounts or ()), own_customers(svc, caller) or set()
    if account_id is not None or relatedParty_id is not None:
        want_accounts = {account_id} if account_id else set()
        want_customers = {relatedParty_id} if relatedParty_id else set()
        accounts = want_accounts if accounts is None else want_accounts & accounts
        customers = want_customers if customers is None else want_customers & customers
    owners = None if accounts is None and customers is None else \
        {("billingAccount", a) for a in accounts or ()} | {("customer", c) for c in customers or ()}
    refs, total = select_methods(svc, paging, owners, type_, status, svc.now().date())
    return paging.respond([method_doc(svc, m) for m in refs], total)


@router.get("/paymentMethod/{id}", name="paymentMethod.get", response_model=PaymentMethod,
            responses=error_responses(401, 403, 404))
def get_payment_method(svc: Services, caller: Allowed, id: MethodId, fields: Fields) -> Json:  # noqa: A002
    return one(dump(PaymentMethod.of(visible_method(svc, caller, id))), fields)


@router.patch("/paymentMethod/{id}", name="paymentMethod.patch", response_model=PaymentMethod,
              openapi_extra=merge_patch_body(PaymentMethodUpdate),
              responses=error_responses(400, 401, 403, 404, 409, 415, 422))
def patch_payment_method(svc: Services, caller: Allowed, id: MethodId,  # noqa: A002
                         body: Annotated[PaymentMethodUpdate, Body()]) -> Json:
    """Disable the method, or make it (or stop it being) its account's default."""
    view = visible_method(svc, caller, id)
    if body.status == "active" and view.status != "active":
        raise ApiError(422, "rule_violation", f"payment method {id} is {view.status}: it is not enabled again; add "
                                              "a new one")
    if body.status == "disabled":
        _disable(svc, view, body.statusReason)
    elif body.isPreferred is not None:
        _prefer(svc, view, body.isPreferred, body.statusReason)
    return one(method_doc(svc, id), None)


@router.delete("/paymentMethod/{id}", name="paymentMethod.delete", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def delete_payment_method(svc: Services, caller: Allowed, id: MethodId) -> Response:  # noqa: A002
    """Deactivate the method (it stays readable, disabled); again: nothing changes, 204."""
    view = visible_method(svc, caller, id)
    if view.status != "disabled":
        _disable(svc, view, "deleted over the API")
    return Response(status_code=204)

