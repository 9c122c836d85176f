"""TMF678 Customer Bill Management: customerBill (list, get, PATCH state), customerBillOnDemand (an off-cycle bill
on request) and billCycle (the v5 name for a cycle run: POST triggers it with who and why, GET shows progress)."""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field

from ledger.aggregates import ids
from ledger.commands import ChangeBillState, IssueOffCycleBill, TriggerBillingCycle
from ledger.commands.results import OffCycleBillIssued
from ledger.contracts.tmf import BILL_API, href, part_id, split_part_id
from ledger.errors import BillNotFound, CycleNotFound, InvalidInput
from ledger.http.auth import Caller
from ledger.http.deps import Allowed, Services
from ledger.http.errors import error_responses
from ledger.http.idempotency import Once
from ledger.http.listing import list_bills
from ledger.http.tmf import (
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
    merge_patch_body,
    one,
    ref,
)
from ledger.queries.bills import BillView, bill_view_by_id, on_demand_bill_view
from ledger.queries.cycles import CycleRunView, cycle_run_ids, cycle_run_view

router = APIRouter(prefix=BILL_API, tags=["TMF678 Customer Bill Management"])
BILL_STATES = Literal["new", "onHold", "validated", "sent", "partiallyPaid", "settled"]
ACTIONS = {"onHold": "hold", "new": "release", "validated": "validate", "sent": "send"}


# ---------------------------------------------------------------- customerBill


class TaxItem(Tmf):
    taxCategory: str
    taxRate: str = Field(description="percent, as a decimal string")
    taxAmount: Money


class AppliedPayment(Tmf):
    appliedAmount: Money
    payment: Ref | None = None
    source: str = Field(description="payment, creditBalance, chargePrepayment or reversal (the ledger's extension)")


class CustomerBill(Resource):
    """TMF678 CustomerBill; `overdue`, `roundingDifference`, `offCycleReason` and `billCycle` are extensions."""

    id: str
    href: str
    billNo: str
    billDate: str
    paymentDueDate: str
    lastUpdate: str
    runType: Literal["onCycle", "offCycle"]
    category: str
    state: BILL_STATES
    overdue: bool
    amountDue: Money
    remainingAmount: Money
    taxExcludedAmount: Money
    taxIncludedAmount: Money
    roundingDifference: Money
    taxItem: list[TaxItem]
    appliedPayment: list[AppliedPayment]
    billingAccount: Ref
    billingPeriod: TimePeriod | None = None
    offCycleReason: str | None = None
    billCycle: Ref | None = None
    type_: str = Field("CustomerBill", alias="@type")

    @classmethod
    def of(cls, v: BillView, cycle_key: str | None = None) -> CustomerBill:
        cur = v.currency
        payments = [AppliedPayment(appliedAmount=Money.of(p["amount"], cur), source=p["source"],
                                   payment=Ref(**ref("Payment", p["payment_id"])) if p["payment_id"] else None)
                    for p in v.applied_payments]
        period = TimePeriod(startDateTime=v.billing_period_start, endDateTime=v.billing_period_end) \
            if v.billing_period_start else None
        category = {"accountClose": "last", "customerRequest": "interim"}.get(v.off_cycle_reason or "", "normal")
        return cls(
            id=v.bill_id, href=href("CustomerBill", v.bill_id), billNo=v.bill_number, billDate=v.bill_date,
            paymentDueDate=v.payment_due_date, lastUpdate=v.last_update, runType=v.run_type,
            category=category, state=v.state, overdue=v.overdue, amountDue=Money.of(v.amount_due, cur),
            remainingAmount=Money.of(v.remaining_amount, cur), taxExcludedAmount=Money.of(v.tax_excluded_amount, cur),
            taxIncludedAmount=Money.of(v.tax_included_amount, cur), roundingDifference=Money.of(v.rounding_difference, cur),
            taxItem=[TaxItem(taxCategory=t["tax_category"], taxRate=str(t["tax_rate"]), taxAmount=Money.of(t["tax_amount"], cur))
                     for t in v.tax_items],
            appliedPayment=payments, billingAccount=Ref(**ref("BillingAccount", v.account_id)), billingPeriod=period,
            offCycleReason=v.off_cycle_reason,
            billCycle=Ref(**ref("BillCycle", cycle_key)) if cycle_key else None)


def cycle_key_of(spec: str, period_start: str) -> str:
    return part_id(spec, period_start)


def bill_doc(svc: Services, caller: Caller, bill_id: str) -> dict[str, Any]:
    """A bill as TMF; 404 for an unknown id, or a customer's look at another account's bill."""
    try:
        view = bill_view_by_id(svc.reads, svc.now, UUID(bill_id))
    except ValueError:
        raise BillNotFound(f"bill {bill_id!r} not found", bill=bill_id) from None
    if not caller.sees(view.account_id):
        raise BillNotFound(f"bill {bill_id!r} not found", bill=bill_id)
    cycle = cycle_key_of(view.cycle_specification, view.billing_period_start) \
        if view.cycle_specification and view.billing_period_start else None
    return dump(CustomerBill.of(view, cycle))


class CustomerBillUpdate(Tmf):
    """PATCH: `state` through the allowed transitions (onHold, new to release, validated, sent); partiallyPaid and
    settled follow payments. `reason` (an extension) is recorded."""

    state: BILL_STATES
    reason: str = Field("", max_length=2000)
    type_: str | None = Field(None, alias="@type")


BillId = Annotated[str, Path(min_length=1, max_length=200, description="the bill's id")]


@router.get("/customerBill", name="customerBill.list", response_model=list[CustomerBill],
            responses={**LISTED, **error_responses(400, 401, 403)})
def list_customer_bills(
        svc: Services, caller: Allowed, paging: Paging,
        billingAccount_id: Annotated[str | None, Query(alias="billingAccount.id", max_length=200)] = None,
        state: Annotated[BILL_STATES | None, Query()] = None,
        runType: Annotated[Literal["onCycle", "offCycle"] | None, Query()] = None,
        billDate_gte: Annotated[date | None, Query(alias="billDate.gte")] = None,
        billDate_lte: Annotated[date | None, Query(alias="billDate.lte")] = None) -> Json:
    """Bills, oldest bill date first (selection from the read models, each bill as it stands now)."""
    bill_ids, total = list_bills(svc, caller, paging, {"account_ref": billingAccount_id, "state": state, "run_type": runType},
                                 {("bill_date", "gte"): billDate_gte and billDate_gte.isoformat(),
                                  ("bill_date", "lte"): billDate_lte and billDate_lte.isoformat()})
    return paging.respond([bill_doc(svc, caller, b) for b in bill_ids], total)


@router.get("/customerBill/{id}", name="customerBill.get", response_model=CustomerBill,
            responses=error_responses(401, 403, 404))
def get_customer_bill(svc: Services, caller: Allowed, id: BillId, fields: Fields) -> Json:  # noqa: A002
    return one(bill_doc(svc, caller, id), fields)


@router.patch("/customerBill/{id}", name="customerBill.patch", response_model=CustomerBill,
              openapi_extra=merge_patch_body(CustomerBillUpdate),
              responses=error_responses(400, 401, 403, 404, 409, 422))
def patch_customer_bill(svc: Services, caller: Allowed, id: BillId, body: CustomerBillUpdate) -> Json:  # noqa: A002
    doc = bill_doc(svc, caller, id)
    if body.state != doc["state"]:
        action = ACTIONS.get(body.state)
        if action is None:
            raise InvalidInput(f"a bill becomes {body.state} by payments, not by PATCH; PATCH may set "
                               f"{', '.join(ACTIONS)}", state=body.state)
        svc.execute(ChangeBillState.parse({"account_id": doc["billingAccount"]["id"], "bill_number": doc["billNo"],
                                           "action": action, "reason": body.reason}))
    return one(bill_doc(svc, caller, id), None)


# ---------------------------------------------------------------- customerBillOnDemand


class CustomerBillOnDemand(Resource):
    id: str
    href: str
    state: Literal["done"]
    billingAccount: Ref
    customerBill: Ref
    lastUpdate: str
    name: str | None = None
    description: str | None = None
    type_: str = Field("CustomerBillOnDemand", alias="@type")


class CustomerBillOnDemandCreate(Extensible):
    """An off-cycle bill of the account's unbilled entries (those effective before `upTo`, an extension; default
    all). `requestId` (an extension) names the request; by default the Idempotency-Key, else a new id."""

    billingAccount: Ref
    requestId: str | None = Field(None, min_length=1, max_length=200)
    upTo: str | None = None
    send: bool = True
    name: str | None = None
    description: str | None = None


def on_demand_doc(svc: Services, caller: Caller, account: str, request_id: str, name: str | None = None,
                  description: str | None = None) -> dict[str, Any]:
    if not caller.sees(account):
        raise BillNotFound(f"no bill on demand {request_id!r} for account {account!r}")
    view = on_demand_bill_view(svc.reads, svc.now, account, request_id)
    own = part_id(account, request_id)
    return dump(CustomerBillOnDemand(id=own, href=href("CustomerBillOnDemand", own), state="done",
                                     billingAccount=Ref(**ref("BillingAccount", account)),
                                     customerBill=Ref(**ref("CustomerBill", view.bill_id)), lastUpdate=view.last_update,
                                     name=name, description=description))


@router.post("/customerBillOnDemand", name="customerBillOnDemand.create", status_code=201,
             response_model=CustomerBillOnDemand,
             responses={**again(CustomerBillOnDemand), **error_responses(400, 401, 403, 404, 409, 422)})
def create_bill_on_demand(svc: Services, caller: Allowed, once: Once, body: CustomerBillOnDemandCreate) -> Response:
    """Issue an off-cycle bill now (idempotent by the request id: the same request answers 200)."""
    request_id = body.requestId or once.key or uuid.uuid4().hex

    def run() -> OffCycleBillIssued:
        data: dict[str, Any] = {"account_id": body.billingAccount.id, "request_id": request_id, "send": body.send}
        if body.upTo is not None:
            data["up_to"] = body.upTo
        return svc.execute(IssueOffCycleBill.parse(data), OffCycleBillIssued)

    return once.create(caller, body, run,
                       lambda r: on_demand_doc(svc, caller, body.billingAccount.id, request_id, body.name, body.description),
                       fresh=lambda r: r.created)


@router.get("/customerBillOnDemand/{id}", name="customerBillOnDemand.get", response_model=CustomerBillOnDemand,
            responses=error_responses(401, 403, 404))
def get_bill_on_demand(svc: Services, caller: Allowed, fields: Fields,
                       id: Annotated[str, Path(min_length=1, max_length=500)]) -> Json:  # noqa: A002
    parts = split_part_id(id)
    if parts is None:
        raise BillNotFound(f"no bill on demand {id!r}")
    return one(on_demand_doc(svc, caller, *parts), fields)


# ---------------------------------------------------------------- billCycle


class Trigger(Tmf):
    type: Literal["person", "scheduler", "system"]
    by: str = Field(min_length=1, max_length=200)
    reason: str = Field("", max_length=2000)
    at: str | None = None


class BillCycle(Resource):
    """One billing cycle run (TMF678 v5 BillCycle, the ledger's PartyBillingCycle): its dates, every trigger
    (who, what, why, when), its progress and totals. `state`, `trigger`, `accounts*` and `totals` are extensions."""

    id: str
    href: str
    name: str
    state: Literal["inProgress", "done"]
    billingDate: str
    chargeDate: str
    creditDate: str
    mailingDate: str
    paymentDueDate: str
    validFor: TimePeriod
    billCycleSpecification: Ref
    trigger: list[Trigger]
    accountsTotal: int
    accountsBilled: int
    accountsSkipped: int
    totals: list[Money]
    completedAt: str | None = None
    type_: str = Field("BillCycle", alias="@type")

    @classmethod
    def of(cls, v: CycleRunView) -> BillCycle:
        key = cycle_key_of(v.specification, v.period_start)
        return cls(id=key, href=href("BillCycle", key), name=f"{v.specification} {v.period_start}",
                   state="done" if v.status == "completed" else "inProgress", billingDate=v.bill_date,
                   chargeDate=v.charge_date, creditDate=v.credit_date, mailingDate=v.mailing_date,
                   paymentDueDate=v.payment_due_date, validFor=TimePeriod(startDateTime=v.period_start, endDateTime=v.period_end),
                   billCycleSpecification=Ref(**ref("BillingCycleSpecification", v.specification)),
                   trigger=[Trigger(**t) for t in v.triggers], accountsTotal=v.accounts_total,
                   accountsBilled=v.accounts_billed, accountsSkipped=v.accounts_skipped,
                   totals=[Money.of(amount, unit) for unit, amount in sorted(v.totals.items())], completedAt=v.completed_at)


class BillCycleCreate(Tmf):
    """Trigger (or resume) the run of a specification for the period starting on `validFor.startDateTime`
    (a date), recording who or what triggered it and why. `send` false leaves its bills new."""

    billCycleSpecification: Ref
    validFor: TimePeriod
    trigger: Trigger
    send: bool = True
    name: str | None = None
    description: str | None = None
    type_: str | None = Field(None, alias="@type")

    def command(self) -> TriggerBillingCycle:
        return TriggerBillingCycle.parse({"specification": self.billCycleSpecification.id,
                                          "period_start": self.validFor.startDateTime, "trigger_type": self.trigger.type,
                                          "triggered_by": self.trigger.by, "reason": self.trigger.reason,
                                          "send": self.send})


def cycle_id_of(key: str) -> UUID:
    parts = split_part_id(key)
    try:
        if parts is None:
            raise ValueError(key)
        return ids.cycle_id(parts[0], date.fromisoformat(parts[1]))
    except ValueError:
        raise CycleNotFound(f"no bill cycle {key!r} (ids read <specification>:<period start>)") from None


@router.post("/billCycle", name="billCycle.create", status_code=202, response_model=BillCycle,
             responses={200: {"model": BillCycle, "description": "the run had completed already"},
                        **error_responses(400, 401, 403, 404, 409, 422)})
def create_bill_cycle(svc: Services, caller: Allowed, once: Once, body: BillCycleCreate) -> Response:
    """Start the run in the background (202, Location to follow its progress); a completed run answers 200."""
    command = body.command()
    cycle_id = ids.cycle_id(command.specification, command.period_start)

    def build() -> Json:
        try:
            view = cycle_run_view(svc.reads, cycle_id)
            if view.status == "completed":
                return one(dump(BillCycle.of(view)), None)
        except CycleNotFound:
            pass
        future = svc.start_run(str(cycle_id), command)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the run has recorded its trigger (or was refused)
            if future is not None and future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
            try:
                doc = dump(BillCycle.of(cycle_run_view(svc.reads, cycle_id)))
            except CycleNotFound:
                time.sleep(0.02)
                continue
            if future is None or doc["trigger"][-1]["by"] == command.triggered_by or future.done():
                return Json(doc, status_code=202 if doc["state"] == "inProgress" else 200, headers={"Location": doc["href"]})
            time.sleep(0.02)
        return Json(dump(BillCycle.of(cycle_run_view(svc.reads, cycle_id))), status_code=202)

    return once.once(caller, body, build)


@router.get("/billCycle", name="billCycle.list", response_model=list[BillCycle],
            responses={**LISTED, **error_responses(400, 401, 403)})
def list_bill_cycles(svc: Services, caller: Allowed, paging: Paging,
                     billCycleSpecification_id: Annotated[str | None, Query(alias="billCycleSpecification.id",
                                                                            max_length=200)] = None) -> Json:
    views = [cycle_run_view(svc.reads, c) for c in cycle_run_ids(svc.reads)]
    views = [v for v in views if billCycleSpecification_id is None or v.specification == billCycleSpecification_id]
    return paging.respond([dump(BillCycle.of(v)) for v in paging.window(views)], len(views))


@router.get("/billCycle/{id}", name="billCycle.get", response_model=BillCycle, responses=error_responses(401, 403, 404))
def get_bill_cycle(svc: Services, caller: Allowed, fields: Fields,
                   id: Annotated[str, Path(min_length=1, max_length=500)]) -> Json:  # noqa: A002
    return one(dump(BillCycle.of(cycle_run_view(svc.reads, cycle_id_of(id)))), fields)
