"""Customer groups (a TMF-style extension beside TMF629 Customer Management): customerGroup (create, list, get,
patch, delete when empty), its members (assign, remove) and its totals (billed, paid, outstanding per currency,
from the read models). billing-ops changes them; the readers (billing-ops, auditor, reporting) read them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import Response
from pydantic import Field

from ledger.commands import AssignMember, CreateGroup, DeleteGroup, RemoveMember, UpdateGroup
from ledger.commands.results import GroupSaved, MembershipSaved
from ledger.http.deps import Allowed, Services
from ledger.http.errors import error_responses
from ledger.http.idempotency import Once
from ledger.http.tmf import (
    DECIMAL,
    LISTED,
    Extensible,
    Fields,
    Json,
    Money,
    Paging,
    Resource,
    Tmf,
    again,
    dump,
    merge_patch_body,
    one,
)
from ledger.projections.reader import group_totals
from ledger.queries.groups import GroupView, group_view, list_groups, totals_views

GROUP_API = "/tmf-api/customerManagement/v4"
router = APIRouter(prefix=GROUP_API, tags=["Customer groups (extension)"])
Media = Literal["email", "paper", "electronic", "portal"]
Rate = Annotated[str, Field(pattern=DECIMAL, description="a percentage 0..100 as a decimal string, e.g. \"12.5\"")]


def group_href(group_id: str) -> str:
    return f"{GROUP_API}/customerGroup/{quote(group_id, safe='')}"


class DiscountRateVersion(Tmf):
    rate: str
    validFrom: str | None = None


class GroupMember(Tmf):
    id: str
    href: str
    referredType: str = Field("Customer", alias="@referredType")
    validFor: dict[str, str | None]
    current: bool


class CustomerGroup(Resource):
    """A group of customers: its discount rate on members' recurring charges (today's and its versions), its
    preferred bill presentation media, its state and its memberships."""

    id: str
    href: str
    name: str
    description: str
    state: Literal["active", "deleted"]
    discountRate: str
    discountRates: list[DiscountRateVersion]
    billPresentationMedia: str | None = None
    member: list[GroupMember]
    type_: str = Field("CustomerGroup", alias="@type")

    @classmethod
    def of(cls, view: GroupView) -> CustomerGroup:
        return cls(
            id=view.group_id, href=group_href(view.group_id), name=view.name, description=view.description,
            state=view.state, discountRate=f"{view.discount_rate.normalize():f}",
            discountRates=[DiscountRateVersion(rate=v["rate"], validFrom=v["from"] or None) for v in view.discount_rates],
            billPresentationMedia=view.preferences.get("bill_presentation_media"),
            member=[GroupMember(id=m.customer_id, href=f"{GROUP_API}/customer/{quote(m.customer_id, safe='')}",
                                validFor={"startDate": m.from_date, "endDate": m.until_date}, current=m.current)
                    for m in view.members])


class CustomerGroupCreate(Extensible):
    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    discountRate: Rate = "0"
    billPresentationMedia: Media | None = None

    def command(self) -> CreateGroup:
        data: dict[str, Any] = {"group_id": self.id, "name": self.name, "description": self.description,
                                "discount_rate": self.discountRate}
        if self.billPresentationMedia is not None:
            data["bill_presentation_media"] = self.billPresentationMedia
        return CreateGroup.parse(data)


class CustomerGroupUpdate(Tmf):
    """What PATCH may change: name, description, media; a discount rate from `discountRateValidFrom` (default:
    today) on."""

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=2000)
    billPresentationMedia: Media | None = None
    discountRate: Rate | None = None
    discountRateValidFrom: dt.date | None = None
    type_: str | None = Field(None, alias="@type")

    def command(self, group_id: str) -> UpdateGroup:
        data: dict[str, Any] = {"group_id": group_id, "name": self.name, "description": self.description,
                                "bill_presentation_media": self.billPresentationMedia,
                                "discount_rate": self.discountRate, "rate_effective_date": self.discountRateValidFrom}
        return UpdateGroup.parse({k: v for k, v in data.items() if v is not None})


class MemberCreate(Extensible):
    """A customer joining the group: `id` the customer; validFor's days (start: default today; end: its last day,
    none: open-ended)."""

    id: str = Field(min_length=1, max_length=200)
    startDate: dt.date | None = None
    endDate: dt.date | None = None


class GroupTotals(Tmf):
    currency: str | None = None
    bills: int
    billed: Money | None = None
    paid: Money | None = None
    outstanding: Money | None = None


class CustomerGroupTotals(Resource):
    """The group's bills (those of its members' accounts dated within a membership), per currency."""

    id: str
    href: str
    name: str
    totals: list[GroupTotals]
    type_: str = Field("CustomerGroupTotals", alias="@type")


GroupId = Annotated[str, Path(min_length=1, max_length=200, description="the group's id (its reference)")]
CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="the customer's id")]


def _today(svc: Services) -> dt.date:
    return svc.now().astimezone(dt.UTC).date()


def group_doc(svc: Services, group_id: str) -> dict[str, Any]:
    return dump(CustomerGroup.of(group_view(svc.reads, group_id, _today(svc))))


@router.post("/customerGroup", name="customerGroup.create", status_code=201, response_model=CustomerGroup,
             responses={**again(CustomerGroup), **error_responses(400, 401, 403, 409, 422)})
def create_customer_group(svc: Services, caller: Allowed, once: Once, body: CustomerGroupCreate) -> Response:
    """Create a group (idempotent by its id: the same group again answers 200)."""
    return once.create(caller, body, lambda: svc.execute(body.command(), GroupSaved),
                       lambda r: group_doc(svc, r.group_id), fresh=lambda r: r.changed)


@router.get("/customerGroup", name="customerGroup.list", response_model=list[CustomerGroup],
            responses={**LISTED, **error_responses(400, 401, 403)})
def list_customer_groups(svc: Services, caller: Allowed, paging: Paging,
                         state: Annotated[Literal["active", "deleted"] | None, Query()] = None) -> Json:
    """Every group (by creation), deleted ones only when state=deleted is asked for."""
    views = [v for v in list_groups(svc.reads, _today(svc), include_deleted=state == "deleted")
             if state is None or v.state == state]
    return paging.respond([dump(CustomerGroup.of(v)) for v in paging.window(views)], len(views))


@router.get("/customerGroup/{id}", name="customerGroup.get", response_model=CustomerGroup,
            responses=error_responses(401, 403, 404))
def get_customer_group(svc: Services, caller: Allowed, id: GroupId, fields: Fields) -> Json:  # noqa: A002
    return one(group_doc(svc, id), fields)


@router.patch("/customerGroup/{id}", name="customerGroup.patch", response_model=CustomerGroup,
              openapi_extra=merge_patch_body(CustomerGroupUpdate),
              responses=error_responses(400, 401, 403, 404, 409, 415, 422))
def patch_customer_group(svc: Services, caller: Allowed, id: GroupId,  # noqa: A002
                         body: Annotated[CustomerGroupUpdate, Body()]) -> Json:
    svc.execute(body.command(id), GroupSaved)
    return one(group_doc(svc, id), None)


@router.delete("/customerGroup/{id}", name="customerGroup.delete", status_code=204,
               responses=error_responses(401, 403, 404, 422))
def delete_customer_group(svc: Services, caller: Allowed, id: GroupId) -> Response:  # noqa: A002
    """Delete a group with no current or future member (422 otherwise); deleting again is a no-op."""
    svc.execute(DeleteGroup.parse({"group_id": id}), GroupSaved)
    return Response(status_code=204)


@router.post("/customerGroup/{id}/member", name="customerGroup.assign", status_code=201, response_model=CustomerGroup,
             responses={**again(CustomerGroup), **error_responses(400, 401, 403, 404, 409, 422)})
def assign_group_member(svc: Services, caller: Allowed, once: Once, id: GroupId,  # noqa: A002
                        body: MemberCreate) -> Response:
    """Make a customer a member for its days (a customer is in at most one group on any day)."""

    def build() -> Json:
        data: dict[str, Any] = {"group_id": id, "customer_id": body.id, "from_date": body.startDate,
                                "until_date": body.endDate}
        result = svc.execute(AssignMember.parse({k: v for k, v in data.items() if v is not None}), MembershipSaved)
        doc = group_doc(svc, id)
        return Json(doc, status_code=201 if result.changed else 200)

    return once.once(caller, body, build)


@router.delete("/customerGroup/{id}/member/{customerId}", name="customerGroup.remove", response_model=CustomerGroup,
               responses=error_responses(400, 401, 403, 404, 422))
def remove_group_member(svc: Services, caller: Allowed, id: GroupId, customerId: CustomerId,  # noqa: A002
                        endDate: Annotated[dt.date | None, Query(description="its last day in the group "
                                                                             "(default: yesterday)")] = None) -> Json:
    """End the customer's membership after endDate."""
    data: dict[str, Any] = {"group_id": id, "customer_id": customerId, "until_date": endDate}
    svc.execute(RemoveMember.parse({k: v for k, v in data.items() if v is not None}), MembershipSaved)
    return one(group_doc(svc, id), None)


@router.get("/customerGroup/{id}/totals", name="customerGroup.totals", response_model=CustomerGroupTotals,
            responses=error_responses(401, 403, 404))
def customer_group_totals(svc: Services, caller: Allowed, id: GroupId) -> Json:  # noqa: A002
    """Billed, paid and outstanding of the group's bills per currency (from the read models)."""
    view = group_view(svc.reads, id, _today(svc))  # 404 for an unknown group
    with svc.parts.listing() as db:
        rows = totals_views(group_totals(db, id))
    totals = [GroupTotals(currency=r.currency, bills=r.bills,
                          **({k: Money.of(Decimal(getattr(r, k)), r.currency) for k in ("billed", "paid", "outstanding")}
                             if r.currency else {}))
              for r in rows]
    doc = CustomerGroupTotals(id=view.group_id, href=group_href(view.group_id) + "/totals", name=view.name,
                              totals=totals)
    return one(dump(doc), None)
