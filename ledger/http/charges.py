"""TMF678 appliedCustomerBillingRate: a rating system posts one rated charge, or a batch of them, each idempotent
by its id (the charge id, per account); GET shows a charge with its amounts, taxes and the bill it went on."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field, ValidationError

from ledger.commands import PostCharge, PostCharges
from ledger.commands.results import ChargePosted, ChargesPosted
from ledger.contracts.rating import charge_command_input
from ledger.contracts.tmf import BILL_API, href, part_id, split_part_id
from ledger.errors import ChargeNotFound, InvalidInput, LedgerError
from ledger.http.deps import Allowed, Services
from ledger.http.errors import ApiError, error_responses
from ledger.http.idempotency import Once
from ledger.http.lean_charges import lean_post_charge
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
    TimePeriod,
    Tmf,
    again,
    dump,
    one,
    ref,
)
from ledger.queries.charges import ChargeView, account_charges, charge_view

router = APIRouter(prefix=BILL_API, tags=["TMF678 Customer Bill Management"])
TYPES = Literal["appliedBillingCharge", "appliedPenaltyCharge", "appliedBillingCredit"]


class AppliedTax(Tmf):
    taxCategory: str = Field(min_length=1, max_length=200)
    taxRate: str = Field(pattern=DECIMAL, description="percent, as a decimal string (e.g. \"20\", \"8.875\")")
    taxAmount: Money


class AppliedCustomerBillingRate(Resource):
    """TMF678 AppliedCustomerBillingRate (amounts positive; a credit is type appliedBillingCredit). Its id reads
    `<billing account>:<charge id>`; `net` (after adjustments) is an extension."""

    id: str
    href: str
    type: TYPES
    date: str
    description: str
    isBilled: bool
    billingAccount: Ref
    bill: Ref | None = None
    taxExcludedAmount: Money
    taxIncludedAmount: Money
    appliedTax: list[AppliedTax]
    net: Money
    product: Ref | None = None
    periodCoverage: TimePeriod | None = None
    type_: str = Field("AppliedCustomerBillingRate", alias="@type")

    @classmethod
    def of(cls, v: ChargeView) -> AppliedCustomerBillingRate:
        cur, own = v.currency, part_id(v.account_id, v.charge_id)
        return cls(id=own, href=href("AppliedCustomerBillingRate", own), type=v.type, date=v.date,
                   description=v.description, isBilled=v.bill_id is not None,
                   billingAccount=Ref(**ref("BillingAccount", v.account_id)),
                   bill=Ref(**ref("CustomerBill", v.bill_id)) if v.bill_id else None,
                   taxExcludedAmount=Money.of(v.tax_excluded_amount, cur), taxIncludedAmount=Money.of(v.tax_included_amount, cur),
                   appliedTax=[AppliedTax(taxCategory=t.tax_category, taxRate=str(t.tax_rate),
                                          taxAmount=Money.of(t.tax_amount, cur)) for t in v.taxes],
                   net=Money.of(v.net, cur), product=Ref(id=v.product_ref) if v.product_ref else None,
                   periodCoverage=TimePeriod(startDateTime=v.period_start, endDateTime=v.period_end)
                   if v.period_start or v.period_end else None)


class AppliedCustomerBillingRateCreate(Extensible):
    """A rated charge: `id` is the rating system's charge id (re-sending it is a duplicate, applied once)."""

    id: str = Field(min_length=1, max_length=200)
    billingAccount: Ref
    type: TYPES = "appliedBillingCharge"
    date: str = Field(description="when the charge happened, with a time zone offset")
    taxExcludedAmount: Money
    taxIncludedAmount: Money | None = None
    appliedTax: list[AppliedTax] = []
    product: Ref | None = None
    periodCoverage: TimePeriod | None = None
    description: str = Field("", max_length=2000)
    name: str | None = None
    isBilled: bool | None = None

    def command(self) -> PostCharge:
        """The same mapping as the rating topic's messages (ledger.contracts.rating), so a charge sent both ways
        is the same charge."""
        if self.isBilled:
            raise InvalidInput("a posted charge is not billed yet (isBilled must be false or absent)")
        record: dict[str, Any] = {
            "id": self.id, "billingAccount": {"id": self.billingAccount.id}, "type": self.type, "date": self.date,
            "description": self.description, "taxExcludedAmount": _money(self.taxExcludedAmount),
            "taxIncludedAmount": _money(self.taxIncludedAmount) if self.taxIncludedAmount else None,
            "appliedTax": [{"taxCategory": t.taxCategory, "taxRate": Decimal(t.taxRate), "taxAmount": _money(t.taxAmount)}
                           for t in self.appliedTax],
            "product": {"id": self.product.id} if self.product else None,
            "periodCoverage": _period(self.periodCoverage),
        }
        return PostCharge.parse(charge_command_input(record))


def _money(money: Money) -> dict[str, Any]:
    return {"unit": money.unit, "value": Decimal(money.value)}


def _period(period: TimePeriod | None) -> dict[str, Any] | None:
    if period is None:
        return None
    return {"startDateTime": (period.startDateTime or "")[:10] or None, "endDateTime": (period.endDateTime or "")[:10] or None}


class BatchRejection(Tmf):
    index: int
    id: str | None = None
    code: str
    message: str


class BatchResult(Tmf):
    """What a batch did: charges applied, duplicates (already applied), and each refused charge with its code."""

    applied: int
    duplicates: int
    rejected: list[BatchRejection]
    type_: str = Field("AppliedCustomerBillingRateBatchResult", alias="@type")


def charge_doc(svc: Services, charge_id: str) -> dict[str, Any]:
    parts = split_part_id(charge_id)
    if parts is None:
        raise ChargeNotFound(f"no charge {charge_id!r} (ids read <billing account>:<charge id>)")
    return dump(AppliedCustomerBillingRate.of(charge_view(svc.reads, *parts)))


@router.post("/appliedCustomerBillingRate", name="appliedCustomerBillingRate.create", status_code=201,
             response_model=AppliedCustomerBillingRate,
             responses={**again(AppliedCustomerBillingRate), **error_responses(400, 401, 403, 404, 409, 422)})
def post_charge(svc: Services, caller: Allowed, once: Once, body: AppliedCustomerBillingRateCreate) -> Response:
    """Post one charge: 201 when applied, 200 when it was applied before (the same id and content)."""

    def build() -> Json:
        result = svc.execute(body.command(), ChargePosted)
        doc = charge_doc(svc, part_id(result.account_id, result.charge_id))
        return Json(doc, status_code=201 if result.applied else 200, headers={"Location": doc["href"]})

    return once.once(caller, body, build)


_BATCH_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "array", "items": {"$ref": "#/components/schemas/AppliedCustomerBillingRateCreate"}}}}}}


@router.post("/appliedCustomerBillingRate/batch", name="appliedCustomerBillingRate.createBatch", response_model=BatchResult,
             openapi_extra=_BATCH_BODY, responses=error_responses(400, 401, 403, 409, 413))
async def post_charges(svc: Services, caller: Allowed, once: Once, request: Request) -> Response:
    """Post many charges (a JSON array, at most LEDGER_API_MAX_BATCH) in one transaction: each is applied, a
    duplicate, or rejected with the ledger's code (a rejected charge changes nothing; the others are applied)."""
    try:
        items = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "invalid_input", f"the body is not JSON: {error}") from None
    if not isinstance(items, list) or not items:
        raise ApiError(400, "invalid_input", "the body is a non-empty JSON array of AppliedCustomerBillingRate")
    if len(items) > svc.settings.api_max_batch:
        raise ApiError(400, "invalid_input", f"at most {svc.settings.api_max_batch} charges per batch")
    return await run_in_threadpool(once.once, caller, {"batch": items}, lambda: _post_batch(svc, items))


def _post_batch(svc: Services, items: list[Any]) -> Json:
    commands: list[PostCharge] = []
    rejected: list[BatchRejection] = []
    index_of: dict[tuple[str, str], list[int]] = {}
    for k, item in enumerate(items):
        given = item.get("id") if isinstance(item, dict) else None
        try:
            commands.append(lean_post_charge(item) or AppliedCustomerBillingRateCreate.model_validate(item).command())
            index_of.setdefault((commands[-1].account_id, commands[-1].charge_id), []).append(k)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in error.errors())
            rejected.append(BatchRejection(index=k, id=given if isinstance(given, str) else None, code="invalid_input",
                                           message=problems))
        except LedgerError as error:
            rejected.append(BatchRejection(index=k, id=given if isinstance(given, str) else None, code=error.code,
                                           message=error.message))
    applied = duplicates = 0
    if commands:
        by_charge = {c.charge_id: (c.account_id, c.charge_id) for c in commands}
        result = svc.execute(PostCharges(charges=commands), ChargesPosted)
        applied, duplicates = result.applied, result.duplicates
        for r in result.rejected:
            positions = index_of.get(by_charge.get(r.charge_id, ("", "")), [-1])
            rejected.append(BatchRejection(index=positions.pop(0) if positions else -1, id=r.charge_id, code=r.error,
                                           message=r.message))
    rejected.sort(key=lambda r: r.index)
    return Json(dump(BatchResult(applied=applied, duplicates=duplicates, rejected=rejected)))


@router.get("/appliedCustomerBillingRate", name="appliedCustomerBillingRate.list",
            response_model=list[AppliedCustomerBillingRate], responses={**LISTED, **error_responses(400, 401, 403, 404)})
def list_charges(svc: Services, caller: Allowed, paging: Paging,
                 billingAccount_id: Annotated[str | None, Query(alias="billingAccount.id", max_length=200)] = None,
                 isBilled: Annotated[bool | None, Query()] = None,
                 type: Annotated[TYPES | None, Query()] = None) -> Json:  # noqa: A002
    """An account's charges (billingAccount.id is required: charges are listed per account), in posting order."""
    if billingAccount_id is None:
        raise ApiError(400, "invalid_input", "billingAccount.id: charges are listed per billing account")
    views = [v for v in account_charges(svc.reads, billingAccount_id)
             if (isBilled is None or (v.bill_id is not None) == isBilled) and (type is None or v.type == type)]
    return paging.respond([dump(AppliedCustomerBillingRate.of(v)) for v in paging.window(views)], len(views))


@router.get("/appliedCustomerBillingRate/{id}", name="appliedCustomerBillingRate.get",
            response_model=AppliedCustomerBillingRate, responses=error_responses(401, 403, 404))
def get_charge(svc: Services, caller: Allowed, fields: Fields,
               id: Annotated[str, Path(min_length=1, max_length=500)]) -> Json:  # noqa: A002
    return one(charge_doc(svc, id), fields)
