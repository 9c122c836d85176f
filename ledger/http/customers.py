"""TMF629 Customer Management: customer (create, list with search filters, get, patch: merge update and status,
delete: close and erase the personal data). Personal values are never logged nor quoted in an error body."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import Response
from pydantic import Field

from ledger.commands.api_keys import CUSTOMER
from ledger.commands.customers import CloseCustomer, CreateCustomer, EraseCustomer, UpdateCustomer
from ledger.commands.results import CustomerSaved
from ledger.contracts.tmf import CUSTOMER_API, href
from ledger.errors import CustomerNotFound
from ledger.http.auth import Caller
from ledger.http.deps import Allowed, Services
from ledger.http.errors import error_responses
from ledger.http.idempotency import Once
from ledger.http.tmf import BOUNDED, Extensible, Fields, Json, Paging, Resource, Tmf, again, dump, merge_patch_body, one
from ledger.queries.customers import CustomerView, customer_view, customers_of_accounts, find_customers

router = APIRouter(prefix=CUSTOMER_API, tags=["TMF629 Customer Management"])
PARTY_TYPES = {"individual": "Individual", "organization": "Organization"}


# ---------------------------------------------------------------- bodies


class MediumCharacteristic(Tmf):
    """TMF629 MediumCharacteristic: an email address, a phone number or a postal address."""

    emailAddress: str | None = Field(None, max_length=320)
    phoneNumber: str | None = Field(None, max_length=40)
    street1: str | None = Field(None, max_length=2000)
    street2: str | None = Field(None, max_length=2000)
    postCode: str | None = Field(None, max_length=2000)
    city: str | None = Field(None, max_length=2000)
    stateOrProvince: str | None = Field(None, max_length=2000)
    country: str | None = Field(None, max_length=2)
    contactType: str | None = Field(None, max_length=200)
    type_: str | None = Field(None, alias="@type")

    def address(self) -> dict[str, Any]:
        return {k: v for k, v in (("street1", self.street1), ("street2", self.street2), ("post_code", self.postCode),
                                  ("city", self.city), ("state_or_province", self.stateOrProvince),
                                  ("country", self.country)) if v is not None}

    @classmethod
    def of_address(cls, address: dict[str, Any]) -> MediumCharacteristic:
        return cls(street1=address.get("street1"), street2=address.get("street2") or None,
                   postCode=address.get("post_code") or None, city=address.get("city"),
                   stateOrProvince=address.get("state_or_province") or None, country=address.get("country"))


class ContactMedium(Tmf):
    mediumType: Literal["email", "phone", "postalAddress"]
    preferred: bool = False
    characteristic: MediumCharacteristic
    type_: str | None = Field(None, alias="@type")

    def command(self) -> dict[str, Any]:
        c = self.characteristic
        data: dict[str, Any] = {"medium_type": self.mediumType, "preferred": self.preferred}
        if self.mediumType == "email":
            data["email_address"] = c.emailAddress
        elif self.mediumType == "phone":
            data["phone_number"] = c.phoneNumber
        else:
            data["address"] = c.address()
        return data

    @classmethod
    def of(cls, medium: dict[str, Any]) -> ContactMedium:
        kind = medium["medium_type"]
        if kind == "email":
            characteristic = MediumCharacteristic(emailAddress=medium.get("email_address"))
        elif kind == "phone":
            characteristic = MediumCharacteristic(phoneNumber=medium.get("phone_number"))
        else:
            characteristic = MediumCharacteristic.of_address(medium.get("address") or {})
        return cls(mediumType=kind, preferred=bool(medium.get("preferred")), characteristic=characteristic)


class Preferences(Tmf):
    """The ledger's extension: how bills are presented, and in which language (e.g. fr, en-GB)."""

    billPresentationMedia: Literal["email", "paper", "electronic", "portal"] | None = None
    language: str | None = Field(None, max_length=10)

    def command(self) -> dict[str, Any]:
        return {k: v for k, v in (("bill_presentation_media", self.billPresentationMedia),
                                  ("language", self.language)) if v is not None}


class PartyRef(Extensible):
    id: str = Field(min_length=1, max_length=200)
    href: str | None = None
    name: str | None = None
    role: str = Field("related", min_length=1, max_length=200)
    referredType: str | None = Field(None, alias="@referredType")


class EngagedParty(Tmf):
    """Who the customer is: an Individual or an Organization (its details are the customer's own)."""

    id: str | None = Field(None, max_length=200)
    href: str | None = None
    name: str | None = None
    referredType: Literal["Individual", "Organization"] = Field("Individual", alias="@referredType")


class Customer(Resource):
    """TMF629 Customer; `billingAddress` and `preferences` are the ledger's extensions. Erased customers read
    `name` "[erased]", without contact media or address."""

    id: str
    href: str
    name: str
    status: Literal["initialized", "approved", "suspended", "closed"]
    statusReason: str | None = None
    engagedParty: EngagedParty
    contactMedium: list[ContactMedium]
    billingAddress: MediumCharacteristic | None = None
    preferences: Preferences
    relatedParty: list[PartyRef]
    erased: bool
    type_: str = Field("Customer", alias="@type")

    @classmethod
    def of(cls, v: CustomerView) -> Customer:
        prefs = v.preferences
        return cls(id=v.customer_id, href=href("Customer", v.customer_id), name=v.name, status=v.status,
                   statusReason=v.status_reason or None,
                   engagedParty=EngagedParty(id=v.customer_id, referredType=PARTY_TYPES[v.party_type]),
                   contactMedium=[ContactMedium.of(m) for m in v.contact_medium],
                   billingAddress=MediumCharacteristic.of_address(v.billing_address) if v.billing_address else None,
                   preferences=Preferences(billPresentationMedia=prefs.get("bill_presentation_media"),
                                           language=prefs.get("language")),
                   relatedParty=[PartyRef(id=p["id"], role=p["role"]) for p in v.related_party], erased=v.erased)


class CustomerCreate(Extensible):
    """TMF629 Customer_Create. `id` (the customer's reference, default: generated), `billingAddress` and
    `preferences` are the ledger's extensions; engagedParty's @referredType says Individual or Organization."""

    id: str | None = None
    name: str = Field(min_length=1, max_length=2000)
    status: Literal["initialized", "approved"] = "approved"
    engagedParty: EngagedParty | None = None
    contactMedium: list[ContactMedium] = Field([], max_length=20)
    billingAddress: MediumCharacteristic | None = None
    preferences: Preferences | None = None
    relatedParty: list[PartyRef] = Field([], max_length=50)
    description: str | None = None

    def command(self) -> CreateCustomer:
        party = self.engagedParty.referredType if self.engagedParty else "Individual"
        data: dict[str, Any] = {
            "customer_id": self.id or f"CU-{uuid.uuid4().hex[:12]}", "name": self.name, "status": self.status,
            "party_type": party.lower(), "contact_medium": [m.command() for m in self.contactMedium],
            "preferences": self.preferences.command() if self.preferences else {},
            "related_party": [{"id": p.id, "role": p.role} for p in self.relatedParty]}
        if self.billingAddress is not None:
            data["billing_address"] = self.billingAddress.address()
        return CreateCustomer.parse(data)


class CustomerUpdate(Tmf):
    """What PATCH may change (a merge: the attributes given replace the stored ones; contactMedium and
    relatedParty as whole lists): name, contact media, billing address, preferences, related parties, and the
    status (initialized, approved, suspended; closed closes it, for good) with its statusReason."""

    name: str | None = Field(None, min_length=1, max_length=2000)
    contactMedium: list[ContactMedium] | None = Field(None, max_length=20)
    billingAddress: MediumCharacteristic | None = None
    preferences: Preferences | None = None
    relatedParty: list[PartyRef] | None = Field(None, max_length=50)
    status: Literal["initialized", "approved", "suspended", "closed"] | None = None
    statusReason: str = Field("", max_length=2000)
    type_: str | None = Field(None, alias="@type")

    def update(self, customer_id: str) -> UpdateCustomer | None:
        data: dict[str, Any] = {"customer_id": customer_id}
        if self.name is not None:
            data["name"] = self.name
        if self.contactMedium is not None:
            data["contact_medium"] = [m.command() for m in self.contactMedium]
        if self.billingAddress is not None:
            data["billing_address"] = self.billingAddress.address()
        if self.preferences is not None:
            data["preferences"] = self.preferences.command()
        if self.relatedParty is not None:
            data["related_party"] = [{"id": p.id, "role": p.role} for p in self.relatedParty]
        if self.status is not None and self.status != "closed":
            data["status"], data["status_reason"] = self.status, self.statusReason
        return UpdateCustomer.parse(data) if len(data) > 1 else None


# ---------------------------------------------------------------- scope


def own_customers(svc: Services, caller: Caller) -> set[str] | None:
    """The customers a customer caller may see (those of its accounts); None for the other roles (all)."""
    return customers_of_accounts(svc.reads, caller.accounts or ()) if caller.role == CUSTOMER else None


def visible_customer(svc: Services, caller: Caller, customer_id: str) -> CustomerView:
    """The customer, or 404 for a customer caller asking for another customer (its existence is not leaked)."""
    own = own_customers(svc, caller)
    if own is not None and customer_id not in own:
        raise CustomerNotFound(f"customer {customer_id!r} not found", customer=customer_id)
    return customer_view(svc.reads, svc.personal, customer_id)


def customer_doc(svc: Services, customer_id: str) -> dict[str, Any]:
    return dump(Customer.of(customer_view(svc.reads, svc.personal, customer_id)))


CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="the customer's id (its reference)")]
_SEARCH = "contains, case and accents ignored"


# ---------------------------------------------------------------- routes


@router.post("/customer", name="customer.create", status_code=201, response_model=Customer,
             responses={**again(Customer), **error_responses(400, 401, 403, 409, 422)})
def create_customer(svc: Services, caller: Allowed, once: Once, body: CustomerCreate) -> Response:
    """Create a customer (idempotent by its id: the same customer again answers 200; other values are 409)."""
    return once.create(caller, body, lambda: svc.execute(body.command(), CustomerSaved),
                       lambda r: customer_doc(svc, r.customer_id), fresh=lambda r: r.changed)


@router.get("/customer", name="customer.list", response_model=list[Customer],
            responses={**BOUNDED, **error_responses(400, 401, 403)})
def list_customers(
        svc: Services, caller: Allowed, paging: Paging,
        id_: Annotated[str | None, Query(alias="id", max_length=200, description=f"customer id {_SEARCH}")] = None,
        name: Annotated[str | None, Query(max_length=200, description=f"name {_SEARCH}")] = None,
        email: Annotated[str | None, Query(max_length=320, description=f"email address {_SEARCH}")] = None,
        phone: Annotated[str | None, Query(max_length=40, description=f"phone number {_SEARCH}")] = None) -> Json:
    """Customers, prefix matches first then by name (erased customers are not listed); a whole id, email or phone
    finds only the customers it equals. The number of matches is counted up to 500: past it X-Total-Count is left
    out and X-Total-Count-Lower-Bound says how many at least match (exact again on the last page)."""
    views, total, exact = find_customers(svc.reads, svc.personal, {"customer_id": id_, "name": name, "email": email,
                                                            "phone": phone},
                                  offset=paging.offset, limit=paging.limit, within=own_customers(svc, caller))
    return paging.respond([dump(Customer.of(v)) for v in views], total, exact)


@router.get("/customer/{id}", name="customer.get", response_model=Customer, responses=error_responses(401, 403, 404))
def get_customer(svc: Services, caller: Allowed, id: CustomerId, fields: Fields) -> Json:  # noqa: A002
    return one(dump(Customer.of(visible_customer(svc, caller, id))), fields)


@router.patch("/customer/{id}", name="customer.patch", response_model=Customer,
              openapi_extra=merge_patch_body(CustomerUpdate),
              responses=error_responses(400, 401, 403, 404, 409, 415, 422))
def patch_customer(svc: Services, caller: Allowed, id: CustomerId,  # noqa: A002
                   body: Annotated[CustomerUpdate, Body()]) -> Json:
    """Merge the attributes given (application/merge-patch+json or application/json), then close it if asked."""
    visible_customer(svc, caller, id)
    update = body.update(id)
    if update is not None:
        svc.execute(update)
    if body.status == "closed":
        svc.execute(CloseCustomer.parse({"customer_id": id, "reason": body.statusReason}))
    return one(customer_doc(svc, id), None)


@router.delete("/customer/{id}", name="customer.delete", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def delete_customer(svc: Services, caller: Allowed, id: CustomerId) -> Response:  # noqa: A002
    """Close the customer and erase its personal data (its key is destroyed); again: nothing changes, 204."""
    visible_customer(svc, caller, id)
    svc.execute(EraseCustomer.parse({"customer_id": id, "reason": "deleted over the API"}))
    return Response(status_code=204)
