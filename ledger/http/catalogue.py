"""TMF620 Product Catalog Management: productOffering (create, list, get; PATCH adds prices and moves its
lifecycleStatus) and productOfferingPrice (create on an offering, list, get; PATCH adds a new version from a future day).

A price belongs to its offering: its id is `<offering id>:<price id>`. Prices are versioned (a validity period
each, never overlapping, a new one starting after today): the resource shows the version valid today (or the next
one) and all of them under `versions` (an extension). Days are calendar days (`validFor` as YYYY-MM-DD)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import Response
from pydantic import Field, field_validator

from ledger.commands import AddOfferingPrice, ChangeOfferingLifecycle, CreateProductOffering
from ledger.commands.catalogue import LifecycleStatus
from ledger.commands.results import OfferingLifecycleChanged, OfferingSaved
from ledger.contracts.tmf import CATALOG_API, href, part_id, split_part_id
from ledger.errors import InvalidInput, PriceNotFound
from ledger.http.deps import Allowed, Services
from ledger.http.errors import error_responses
from ledger.http.idempotency import Once
from ledger.http.listing import list_offerings as select_offerings
from ledger.http.listing import list_prices as select_prices
from ledger.http.tmf import (
    DECIMAL,
    LISTED,
    Extensible,
    Fields,
    Json,
    Money,
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
from ledger.queries.catalogue import OfferingView, PriceView, offering_view, price_view

router = APIRouter(prefix=CATALOG_API, tags=["TMF620 Product Catalog Management"])


# ---------------------------------------------------------------- bodies


class DayPeriod(Tmf):
    """A validity period in calendar days: startDateTime (first day) and endDateTime (last day; none: open)."""

    startDateTime: str | None = None
    endDateTime: str | None = None

    @field_validator("startDateTime", "endDateTime")
    @classmethod
    def _day(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value[:10]).isoformat()
        except ValueError:
            raise ValueError("a day (YYYY-MM-DD, or a date-time whose day is taken)") from None


class TaxItem(Tmf):
    taxCategory: str = Field(min_length=1, max_length=200)
    taxRate: str = Field(pattern=DECIMAL, description="percent, a decimal string, e.g. \"20\"")


class UnitOfMeasure(Tmf):
    amount: int = 1
    units: str = Field(min_length=1, max_length=200)


class PriceVersion(Tmf):
    version: int
    price: Money
    validFor: DayPeriod


class ProductOfferingPrice(Resource):
    """TMF620 ProductOfferingPrice; `timing` (advance or arrears), `productOffering` and `versions` are the
    ledger's extensions; `price`, `validFor` and `version` are those of the version valid today (or next)."""

    id: str
    href: str
    name: str
    priceType: Literal["recurring", "oneTime", "usage"]
    recurringChargePeriodType: Literal["monthly", "quarterly", "annual"] | None = None
    recurringChargePeriodLength: int | None = None
    timing: Literal["advance", "arrears"] | None = None
    unitOfMeasure: UnitOfMeasure | None = None
    tax: list[TaxItem]
    price: Money
    validFor: DayPeriod
    version: str
    versions: list[PriceVersion]
    isBundle: bool
    productOffering: Ref
    type_: str = Field("ProductOfferingPrice", alias="@type")

    @classmethod
    def of(cls, v: PriceView, today: dt.date) -> ProductOfferingPrice:
        versions = [PriceVersion(version=x["version"], price=Money.of(x["amount"], v.currency),
                                 validFor=DayPeriod(startDateTime=x["valid_from"], endDateTime=x["valid_to"]))
                    for x in v.versions]
        current = versions[v.versions.index(v.current_version(today))]
        price_ref = part_id(v.offering_id, v.price_id)
        return cls(id=price_ref, href=href("ProductOfferingPrice", price_ref), name=v.price_id,
                   priceType=v.price_type, recurringChargePeriodType=v.recurring_period,
                   recurringChargePeriodLength=1 if v.recurring_period else None, timing=v.timing,
                   unitOfMeasure=UnitOfMeasure(units=v.unit_of_measure) if v.unit_of_measure else None,
                   tax=[TaxItem(taxCategory=v.tax_category, taxRate=v.tax_rate)] if v.tax_category and v.tax_rate else [],
                   price=current.price, validFor=current.validFor, version=str(current.version), versions=versions,
                   isBundle=False, productOffering=Ref(**ref("ProductOffering", v.offering_id)))


class PriceValue(Extensible):
    """A price (or a new version of one) as given: `name` is its id within the offering (e.g. monthly)."""

    name: str = Field(min_length=1, max_length=200)
    priceType: Literal["recurring", "oneTime", "usage"]
    price: Money
    recurringChargePeriodType: Literal["monthly", "quarterly", "annual"] | None = None
    recurringChargePeriodLength: Literal[1] | None = None
    timing: Literal["advance", "arrears"] | None = None
    unitOfMeasure: UnitOfMeasure | None = None
    tax: list[TaxItem] = Field([], max_length=1)
    validFor: DayPeriod
    description: str | None = None
    isBundle: Literal[False] | None = None

    def command(self) -> dict[str, Any]:
        if self.validFor.startDateTime is None:
            raise InvalidInput(f"price {self.name}: validFor.startDateTime (its first day) is required")
        tax = self.tax[0] if self.tax else None
        return {"price_id": self.name, "price_type": self.priceType, "currency": self.price.unit,
                "amount": self.price.value, "recurring_period": self.recurringChargePeriodType, "timing": self.timing,
                "tax_category": tax.taxCategory if tax else None, "tax_rate": tax.taxRate if tax else None,
                "unit_of_measure": self.unitOfMeasure.units if self.unitOfMeasure else None,
                "valid_from": self.validFor.startDateTime, "valid_to": self.validFor.endDateTime}


class ProductOfferingPriceCreate(PriceValue):
    """A price of an offering (`productOffering`, an extension: prices belong to their offering), or a new
    version of it (the same name and terms, from a later day)."""

    productOffering: Ref


class ProductOfferingPriceUpdate(Tmf):
    """A new version of the price: its amount and validity (the first day after today at the earliest; the
    version before it, when open-ended, ends the day before)."""

    price: Money
    validFor: DayPeriod
    type_: str | None = Field(None, alias="@type")


class ProductOffering(Resource):
    """TMF620 ProductOffering with its prices (references; each a productOfferingPrice resource). `isSellable` (an
    Active or Launched offering: new subscriptions and changes to it are accepted) is the ledger's extension."""

    id: str
    href: str
    name: str
    description: str
    lifecycleStatus: LifecycleStatus
    isSellable: bool
    lastUpdate: str
    version: str
    productOfferingPrice: list[Ref]
    type_: str = Field("ProductOffering", alias="@type")

    @classmethod
    def of(cls, v: OfferingView) -> ProductOffering:
        return cls(id=v.offering_id, href=href("ProductOffering", v.offering_id), name=v.name,
                   description=v.description, lifecycleStatus=v.lifecycle_status,
                   isSellable=v.sellable, lastUpdate=v.last_modified, version=str(v.version),
                   productOfferingPrice=[Ref(**ref("ProductOfferingPrice", part_id(v.offering_id, p.price_id),
                                                   name=p.price_id)) for p in v.prices])


class ProductOfferingCreate(Extensible):
    """TMF620 ProductOffering_Create: `id` (default: generated), name, description and its prices as values; it
    starts Active."""

    id: str | None = None
    name: str = Field(min_length=1, max_length=2000)
    description: str = Field("", max_length=2000)
    productOfferingPrice: list[PriceValue] = Field([], max_length=50)
    lifecycleStatus: LifecycleStatus | None = Field(None, description="a new offering is Active (PATCH moves it)")
    isBundle: Literal[False] | None = None

    def command(self) -> CreateProductOffering:
        if self.lifecycleStatus not in (None, "Active"):
            raise InvalidInput(f"lifecycleStatus: a new offering is Active (not {self.lifecycleStatus}); PATCH "
                               "lifecycleStatus afterwards to move it")
        return CreateProductOffering.parse({"offering_id": self.id or f"PO-{uuid.uuid4().hex[:12]}", "name": self.name,
                                            "description": self.description,
                                            "prices": [p.command() for p in self.productOfferingPrice]})


class ProductOfferingUpdate(Tmf):
    """What PATCH may change: prices added (or new versions of them) and the lifecycleStatus (an allowed move:
    see the README); an offering's name and description stay."""

    productOfferingPrice: list[PriceValue] = Field([], max_length=50)
    lifecycleStatus: LifecycleStatus | None = None
    statusReason: str = Field("", max_length=2000, description="why the lifecycle status changes (an extension)")
    type_: str | None = Field(None, alias="@type")


# ---------------------------------------------------------------- helpers


def _today(svc: Services) -> dt.date:
    return svc.now().date()


def offering_doc(svc: Services, offering_id: str) -> dict[str, Any]:
    return dump(ProductOffering.of(offering_view(svc.reads, offering_id)))


def _price_parts(price_ref: str) -> tuple[str, str]:
    parts = split_part_id(price_ref)
    if parts is None:
        raise PriceNotFound(f"product offering price {price_ref!r} not found (its id is offering:price)")
    return parts


def price_doc(svc: Services, price_ref: str) -> dict[str, Any]:
    offering, price = _price_parts(price_ref)
    return dump(ProductOfferingPrice.of(price_view(svc.reads, offering, price), _today(svc)))


OfferingId = Annotated[str, Path(min_length=1, max_length=200, description="the product offering's id")]
PriceId = Annotated[str, Path(min_length=1, max_length=401, description="the price's id: <offering id>:<price id>")]


# ---------------------------------------------------------------- productOffering


@router.post("/productOffering", name="productOffering.create", status_code=201, response_model=ProductOffering,
             responses={**again(ProductOffering), **error_responses(400, 401, 403, 409, 422)})
def create_offering(svc: Services, caller: Allowed, once: Once, body: ProductOfferingCreate) -> Response:
    """Create an offering with its first prices (idempotent by its id: the same again answers 200)."""
    return once.create(caller, body, lambda: svc.execute(body.command(), OfferingSaved),
                       lambda r: offering_doc(svc, r.offering_id), fresh=lambda r: r.changed)


@router.get("/productOffering", name="productOffering.list", response_model=list[ProductOffering],
            responses={**LISTED, **error_responses(400, 401, 403)})
def list_offerings(svc: Services, caller: Allowed, paging: Paging,
                   name: Annotated[str | None, Query(max_length=2000, description="the exact name")] = None,
                   lifecycleStatus: Annotated[LifecycleStatus | None, Query()] = None) -> Json:
    """Offerings in the order they were created (selection from the read models, each offering as it stands)."""
    refs, total = select_offerings(svc, paging, {"name": name, "lifecycle_status": lifecycleStatus})
    return paging.respond([offering_doc(svc, r) for r in refs], total)


@router.get("/productOffering/{id}", name="productOffering.get", response_model=ProductOffering,
            responses=error_responses(401, 403, 404))
def get_offering(svc: Services, caller: Allowed, id: OfferingId, fields: Fields) -> Json:  # noqa: A002
    return one(offering_doc(svc, id), fields)


@router.patch("/productOffering/{id}", name="productOffering.patch", response_model=ProductOffering,
              openapi_extra=merge_patch_body(ProductOfferingUpdate),
              responses=error_responses(400, 401, 403, 404, 409, 415, 422))
def patch_offering(svc: Services, caller: Allowed, id: OfferingId,  # noqa: A002
                   body: Annotated[ProductOfferingUpdate, Body()]) -> Json:
    """Add prices, or new versions of prices, to the offering (each as POST productOfferingPrice would), then move
    its lifecycleStatus (each a command; one refused leaves the earlier ones done)."""
    offering_view(svc.reads, id)
    if not body.productOfferingPrice and body.lifecycleStatus is None:
        raise InvalidInput("nothing to change: give productOfferingPrice or lifecycleStatus")
    prices = [AddOfferingPrice.parse({"offering_id": id, "price": p.command()}) for p in body.productOfferingPrice]
    status = None if body.lifecycleStatus is None else ChangeOfferingLifecycle.parse(
        {"offering_id": id, "status": body.lifecycleStatus, "reason": body.statusReason})
    for price in prices:
        svc.execute(price, OfferingSaved)
    if status is not None:
        svc.execute(status, OfferingLifecycleChanged)
    return one(offering_doc(svc, id), None)


# ---------------------------------------------------------------- productOfferingPrice


@router.post("/productOfferingPrice", name="productOfferingPrice.create", status_code=201,
             response_model=ProductOfferingPrice,
             responses={**again(ProductOfferingPrice), **error_responses(400, 401, 403, 404, 409, 422)})
def create_price(svc: Services, caller: Allowed, once: Once, body: ProductOfferingPriceCreate) -> Response:
    """Add a price to an offering, or a new version of one of its prices (the same version again answers 200)."""

    def run() -> OfferingSaved:
        command = AddOfferingPrice.parse({"offering_id": body.productOffering.id, "price": body.command()})
        return svc.execute(command, OfferingSaved)

    return once.create(caller, body, run, lambda r: price_doc(svc, part_id(r.offering_id, body.name)), fresh=lambda r: r.changed)


@router.get("/productOfferingPrice", name="productOfferingPrice.list", response_model=list[ProductOfferingPrice],
            responses={**LISTED, **error_responses(400, 401, 403)})
def list_prices(svc: Services, caller: Allowed, paging: Paging,
                productOffering_id: Annotated[str | None, Query(alias="productOffering.id", max_length=200)] = None,
                priceType: Annotated[Literal["recurring", "oneTime", "usage"] | None, Query()] = None) -> Json:
    """Prices of every offering (or of one: an unknown offering filters to an empty list), by offering, then name."""
    found, total = select_prices(svc, paging, {"offering_ref": productOffering_id, "price_type": priceType})
    today = _today(svc)
    return paging.respond([dump(ProductOfferingPrice.of(price_view(svc.reads, o, p), today)) for o, p in found], total)


@router.get("/productOfferingPrice/{id}", name="productOfferingPrice.get", response_model=ProductOfferingPrice,
            responses=error_responses(401, 403, 404))
def get_price(svc: Services, caller: Allowed, id: PriceId, fields: Fields) -> Json:  # noqa: A002
    return one(price_doc(svc, id), fields)


@router.patch("/productOfferingPrice/{id}", name="productOfferingPrice.patch", response_model=ProductOfferingPrice,
              openapi_extra=merge_patch_body(ProductOfferingPriceUpdate),
              responses=error_responses(400, 401, 403, 404, 409, 415, 422))
def patch_price(svc: Services, caller: Allowed, id: PriceId,  # noqa: A002
                body: Annotated[ProductOfferingPriceUpdate, Body()]) -> Json:
    """A new version of the price (same terms, another amount, from a later day): what was billed never changes."""
    offering, price_id = _price_parts(id)
    current = price_view(svc.reads, offering, price_id)
    if body.price.unit != current.currency:
        raise InvalidInput(f"price: a Money value in {current.currency}, the price's currency")
    if body.validFor.startDateTime is None:
        raise InvalidInput("validFor.startDateTime (the new version's first day) is required")
    svc.execute(AddOfferingPrice.parse({"offering_id": offering, "price": {
        "price_id": price_id, "price_type": current.price_type, "currency": current.currency,
        "amount": body.price.value, "recurring_period": current.recurring_period, "timing": current.timing,
        "tax_category": current.tax_category, "tax_rate": current.tax_rate,
        "unit_of_measure": current.unit_of_measure, "valid_from": body.validFor.startDateTime,
        "valid_to": body.validFor.endDateTime}}), OfferingSaved)
    return one(price_doc(svc, id), None)
