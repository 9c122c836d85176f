"""TMF637 Product Inventory: product, a billing account's subscription to a product offering (subscribe, list,
get; PATCH changes quantity or offering, suspends, resumes, terminates, from a day or at the end of the billing
period). Days are the account's local calendar days; a PATCH without `effectiveDate` takes effect today."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import Response
from pydantic import Field, field_validator

from ledger.commands import (
    ChangeSubscription,
    CreateSubscription,
    ResumeSubscription,
    SuspendSubscription,
    TerminateSubscription,
)
from ledger.commands.results import SubscriptionSaved
from ledger.contracts.tmf import INVENTORY_API, href
from ledger.errors import InvalidInput, SubscriptionNotFound
from ledger.http.auth import Caller
from ledger.http.deps import Allowed, Services
from ledger.http.errors import error_responses
from ledger.http.idempotency import Once
from ledger.http.listing import list_subscriptions
from ledger.http.tmf import (
    LISTED,
    Extensible,
    Fields,
    Json,
    Paging,
    Ref,
    Resource,
    Tmf,
    again,
    dump,
    merge_patch_body,
    one,
    ref,
)
from ledger.queries.subscriptions import SubscriptionView, subscription_view

router = APIRouter(prefix=INVENTORY_API, tags=["TMF637 Product Inventory"])
STATUSES = Literal["created", "active", "suspended", "terminated"]


def _day(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise ValueError("a day (YYYY-MM-DD, or a date-time whose day is taken)") from None


class ProductPhase(Tmf):
    """From a day on: the offering, the quantity and the state (an extension: the subscription's timeline)."""

    startDate: str
    productOffering: Ref
    quantity: int
    status: Literal["active", "suspended"]


class Product(Resource):
    """TMF637 Product; `quantity`, `productPhase` and `billedUntil` (the last day its periods are settled) are the
    ledger's extensions. `status` is as of today in the account's time zone; `productOffering` and `quantity` are
    those in force today (before the start: the first ones; after the end: the last ones)."""

    id: str
    href: str
    name: str
    status: STATUSES
    startDate: str
    terminationDate: str | None = None
    quantity: int
    productOffering: Ref
    billingAccount: Ref
    productPhase: list[ProductPhase]
    billedUntil: str | None = None
    isBundle: bool
    isCustomerVisible: bool
    lastUpdate: str
    type_: str = Field("Product", alias="@type")

    @classmethod
    def of(cls, v: SubscriptionView) -> Product:
        return cls(id=v.subscription_id, href=href("Product", v.subscription_id), name=v.subscription_id,
                   status=v.status, startDate=v.start_date, terminationDate=v.end_date,
                   quantity=v.quantity, productOffering=Ref(**ref("ProductOffering", v.offering_id)),
                   billingAccount=Ref(**ref("BillingAccount", v.account_id)),
                   productPhase=[ProductPhase(startDate=p["from"], productOffering=Ref(**ref("ProductOffering",
                                                                                          p["offering"])),
                                              quantity=p["quantity"], status=p["state"]) for p in v.phases],
                   billedUntil=v.reconciled_until, isBundle=False, isCustomerVisible=True, lastUpdate=v.last_modified)


class ProductCreate(Extensible):
    """TMF637 Product_Create: subscribe `billingAccount` to `productOffering` from `startDate` (its first day),
    until `terminationDate` (its last day) if given. `id` (default: generated) and `quantity` are extensions."""

    id: str | None = None
    billingAccount: Ref
    productOffering: Ref
    quantity: int = Field(1, strict=True, ge=1, le=1_000_000, description="a positive integer")
    startDate: str
    terminationDate: str | None = None
    name: str | None = None
    description: str | None = None
    isBundle: Literal[False] | None = None
    isCustomerVisible: bool | None = None

    @field_validator("startDate", "terminationDate")
    @classmethod
    def _days(cls, value: str | None) -> str | None:
        return _day(value)

    def command(self) -> CreateSubscription:
        return CreateSubscription.parse({
            "subscription_id": self.id or f"PR-{uuid.uuid4().hex[:12]}", "account_id": self.billingAccount.id,
            "offering_id": self.productOffering.id, "quantity": self.quantity, "start_date": self.startDate,
            "end_date": self.terminationDate})


class ProductUpdate(Tmf):
    """What PATCH may change, each from `effectiveDate` (default: today in the account's time zone) or, with
    `atPeriodEnd`, from the next billing period: `quantity` and/or `productOffering` (a change); `status`
    suspended (no recurring charges from that day), active (resumed) or terminated (its last day served is
    `terminationDate`, or the day before `effectiveDate`, or with atPeriodEnd the last day of that period)."""

    quantity: int | None = Field(None, strict=True, ge=1, le=1_000_000, description="a positive integer")
    productOffering: Ref | None = None
    status: Literal["active", "suspended", "terminated"] | None = None
    terminationDate: str | None = None
    effectiveDate: str | None = None
    atPeriodEnd: bool = False
    statusReason: str = Field("", max_length=2000)
    type_: str | None = Field(None, alias="@type")

    @field_validator("terminationDate", "effectiveDate")
    @classmethod
    def _days(cls, value: str | None) -> str | None:
        return _day(value)

    def commands(self, sub_id: str, current: SubscriptionView) -> list[Any]:
        effective = self.effectiveDate or current.today
        found: list[Any] = []
        if self.quantity is not None or self.productOffering is not None:
            found.append(ChangeSubscription.parse({
                "subscription_id": sub_id, "effective_date": effective, "at_period_end": self.atPeriodEnd,
                **({"quantity": self.quantity} if self.quantity is not None else {}),
                **({"offering_id": self.productOffering.id} if self.productOffering is not None else {})}))
        if self.status == "suspended" and current.status != "suspended":
            found.append(SuspendSubscription.parse({"subscription_id": sub_id, "effective_date": effective,
                                                    "reason": self.statusReason}))
        elif self.status == "active" and current.status == "suspended":
            found.append(ResumeSubscription.parse({"subscription_id": sub_id, "effective_date": effective,
                                                   "reason": self.statusReason}))
        elif self.status == "terminated":
            end = self.terminationDate or (dt.date.fromisoformat(effective) - dt.timedelta(days=1)).isoformat()
            found.append(TerminateSubscription.parse({"subscription_id": sub_id, "end_date": end,
                                                      "at_period_end": self.atPeriodEnd, "reason": self.statusReason}))
        elif self.terminationDate is not None:
            raise InvalidInput("terminationDate goes with status terminated")
        return found


def visible_product(svc: Services, caller: Caller, product_id: str) -> SubscriptionView:
    """The subscription, or 404 for a customer asking for another customer's (its existence is not leaked)."""
    view = subscription_view(svc.reads, svc.now, product_id)
    if not caller.sees(view.account_id):
        raise SubscriptionNotFound(f"product {product_id!r} not found", subscription=product_id)
    return view


def product_doc(svc: Services, product_id: str) -> dict[str, Any]:
    return dump(Product.of(subscription_view(svc.reads, svc.now, product_id)))


ProductId = Annotated[str, Path(min_length=1, max_length=200, description="the product's (subscription's) id")]


@router.post("/product", name="product.create", status_code=201, response_model=Product,
             responses={**again(Product), **error_responses(400, 401, 403, 404, 409, 422)})
def create_product(svc: Services, caller: Allowed, once: Once, body: ProductCreate) -> Response:
    """Subscribe an account to an offering (idempotent by the id: the same subscription again answers 200)."""
    return once.create(caller, body, lambda: svc.execute(body.command(), SubscriptionSaved),
                       lambda r: product_doc(svc, r.subscription_id), fresh=lambda r: r.changed)


@router.get("/product", name="product.list", response_model=list[Product],
            responses={**LISTED, **error_responses(400, 401, 403)})
def list_products(svc: Services, caller: Allowed, paging: Paging,
                  billingAccount_id: Annotated[str | None, Query(alias="billingAccount.id", max_length=200)] = None,
                  status: Annotated[STATUSES | None, Query()] = None,
                  productOffering_id: Annotated[str | None, Query(alias="productOffering.id", max_length=200)] = None
                  ) -> Json:
    """Products in the order they were subscribed (a customer sees those of its own accounts only): selection from
    the read models, `status` and `productOffering.id` judged today in each account's time zone (the database
    filters, counts and pages); each product as it stands."""
    refs, total = list_subscriptions(svc, caller, paging, {"account_ref": billingAccount_id}, status, productOffering_id)
    return paging.respond([product_doc(svc, r) for r in refs], total)


@router.get("/product/{id}", name="product.get", response_model=Product, responses=error_responses(401, 403, 404))
def get_product(svc: Services, caller: Allowed, id: ProductId, fields: Fields) -> Json:  # noqa: A002
    return one(dump(Product.of(visible_product(svc, caller, id))), fields)


@router.patch("/product/{id}", name="product.patch", response_model=Product,
              openapi_extra=merge_patch_body(ProductUpdate),
              responses=error_responses(400, 401, 403, 404, 409, 415, 422))
def patch_product(svc: Services, caller: Allowed, id: ProductId,  # noqa: A002
                  body: Annotated[ProductUpdate, Body()]) -> Json:
    """Change quantity/offering, then the state (each a command; one refused leaves the earlier ones done)."""
    current = visible_product(svc, caller, id)
    commands = body.commands(id, current)
    if not commands and body.status is None:
        raise InvalidInput("nothing to change: give quantity, productOffering or status")
    for command in commands:
        svc.execute(command, SubscriptionSaved)
    return one(product_doc(svc, id), None)

