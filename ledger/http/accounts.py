"""TMF666 Account Management: billingAccount (open, list, get, patch state; never deleted) and
billingCycleSpecification (define, list, get)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import Field

from ledger.commands import (
    ChangeAccountTerms,
    CloseAccount,
    DefineCycleSpecification,
    LinkAccountToCustomer,
    OpenBillingAccount,
    ResumeAccount,
    SuspendAccount,
)
from ledger.commands.lookups import load_account
from ledger.commands.results import AccountOpened, SpecificationDefined
from ledger.contracts.tmf import ACCOUNT_API, href
from ledger.errors import AccountNotFound, InvalidInput
from ledger.http.auth import Caller
from ledger.http.deps import Allowed, Services
from ledger.http.errors import ApiError, error_responses
from ledger.http.idempotency import Once
from ledger.http.lean_accounts import lean_account_body
from ledger.http.listing import list_accounts
from ledger.http.services import ApiServices
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
    render,
)
from ledger.queries.accounts import (
    AccountSummary,
    account_aggregate_id,
    account_day,
    account_summary,
    summary_fields,
)
from ledger.queries.cycles import SpecificationView, specification_view, specification_views

router = APIRouter(prefix=ACCOUNT_API, tags=["TMF666 Account Management"])
STATES = ("active", "suspended", "closed")


# ---------------------------------------------------------------- billingAccount


class AccountBalance(Tmf):
    balanceType: str
    amount: Money
    validFor: TimePeriod


class CycleSpecificationRef(Tmf):
    id: str | None = None
    href: str | None = None
    name: str | None = None
    isRef: bool | None = True
    referredType: str | None = Field(None, alias="@referredType")


class BillStructure(Tmf):
    cycleSpecification: CycleSpecificationRef


class BillingAccount(Resource):
    """TMF666 BillingAccount, with the ledger's extensions (currency, ratingType, paymentTermsDays, timeZone)."""

    id: str
    href: str
    name: str
    state: Literal["active", "suspended", "closed"]
    paymentStatus: Literal["paid", "due", "inArrears"]
    lastModified: str
    currency: str
    ratingType: Literal["prepaid", "postpaid"]
    timeZone: str
    paymentTermsDays: int | None = None
    creditLimit: Money
    defaultPaymentMethod: Ref | None = None
    relatedParty: list[Ref]
    billStructure: BillStructure
    accountBalance: list[AccountBalance]
    type_: str = Field("BillingAccount", alias="@type")

    @classmethod
    def of(cls, view: AccountSummary) -> BillingAccount:
        cur = view.currency
        since = TimePeriod(startDateTime=view.status_since)
        balances = [("balance", view.balance), ("unbilled", view.unbilled), ("receivable", view.receivable),
                    ("creditBalance", view.credit_balance), ("prepaidBalance", view.prepaid_balance)]
        overdue = any(b.overdue for b in view.open_bills)
        method = view.default_payment_method
        return cls(
            id=view.account_id, href=href("BillingAccount", view.account_id), name=view.name or view.account_id,
            state=view.status, paymentStatus="inArrears" if overdue else "due" if view.receivable > 0 else "paid",
            lastModified=view.last_modified, currency=cur, ratingType=view.rating_type,
            timeZone=view.time_zone, paymentTermsDays=view.payment_terms_days,
            creditLimit=Money.of(view.credit_limit, cur),
            defaultPaymentMethod=Ref(id=method["id"], referredType=method["type"]) if method else None,
            relatedParty=[Ref(id=view.customer_id, name=view.customer_id, role="customer", referredType="Customer")],
            billStructure=BillStructure(cycleSpecification=CycleSpecificationRef(
                id=view.cycle_specification, name=view.cycle_specification, isRef=True,
                href=href("BillingCycleSpecification", view.cycle_specification))),
            accountBalance=[AccountBalance(balanceType=kind, amount=Money.of(amount, cur), validFor=since)
                            for kind, amount in balances],
        )


class BillingAccountCreate(Extensible):
    """TMF666 BillingAccount_Create. `id` (the account's reference, default: generated), `currency`, `ratingType`,
    `paymentTermsDays` and `timeZone` are the ledger's extensions; the customer is the relatedParty with role
    customer (or the first); the cycle specification is billStructure.cycleSpecification (id or name)."""

    id: str | None = None
    name: str = Field(max_length=2000)
    relatedParty: list[Ref] = Field(min_length=1)
    billStructure: BillStructure
    currency: str | None = None
    ratingType: Literal["prepaid", "postpaid"] = "postpaid"
    paymentTermsDays: int | None = None
    creditLimit: Money | None = None
    defaultPaymentMethod: Ref | None = None
    timeZone: str = "UTC"
    description: str | None = None
    accountType: str | None = None

    def command(self) -> OpenBillingAccount:
        customer = next((p for p in self.relatedParty if p.role == "customer"), self.relatedParty[0])
        spec = self.billStructure.cycleSpecification.id or self.billStructure.cycleSpecification.name
        currency = self.currency or (self.creditLimit.unit if self.creditLimit else None)
        data: dict[str, Any] = {
            "account_id": self.id or f"BA-{uuid.uuid4().hex[:12]}", "customer_id": customer.id, "currency": currency,
            "rating_type": self.ratingType, "cycle_specification": spec, "payment_terms_days": self.paymentTermsDays,
            "time_zone": self.timeZone, "name": self.name,
        }
        if self.creditLimit is not None:
            if currency and self.creditLimit.unit != currency:
                raise InvalidInput(f"creditLimit is in {self.creditLimit.unit}, the account in {currency}")
            data["credit_limit"] = self.creditLimit.value
        if self.defaultPaymentMethod is not None:
            data["default_payment_method"] = {"id": self.defaultPaymentMethod.id,
                                              "type": self.defaultPaymentMethod.referredType}
        return OpenBillingAccount.parse(data)


class BillingAccountUpdate(Tmf):
    """What PATCH may change: the state (suspended, active to resume, closed: a postpaid account gets its final
    bill), the credit limit, the payment terms (`paymentTermsDays`; null: the specification's offset again), the
    default payment method (null removes it) and the customer (`relatedParty` with role customer: the account is
    linked to that existing, open customer; moving it from another existing customer needs `relink` true and a
    reason, an extension). `reason` (an extension) is recorded with the change."""

    state: Literal["active", "suspended", "closed"] | None = None
    relatedParty: list[Ref] | None = None
    relink: bool = False
    creditLimit: Money | None = None
    paymentTermsDays: int | None = None
    defaultPaymentMethod: Ref | None = None
    reason: str = Field("", max_length=2000)
    type_: str | None = Field(None, alias="@type")

    def terms(self, account: AccountSummary) -> ChangeAccountTerms | None:
        """The terms command of this PATCH, or None when it changes no term."""
        given = self.model_fields_set
        data: dict[str, Any] = {"account_id": account.account_id, "reason": self.reason}
        if "creditLimit" in given:
            if self.creditLimit is None or self.creditLimit.unit != account.currency:
                raise InvalidInput(f"creditLimit: a Money value in {account.currency}")
            data["credit_limit"] = self.creditLimit.value
        if "paymentTermsDays" in given:
            data["payment_terms_days"] = self.paymentTermsDays
        if "defaultPaymentMethod" in given:
            method = self.defaultPaymentMethod
            data["default_payment_method"] = None if method is None else {"id": method.id, "type": method.referredType
                                                                          or method.type_}
        return ChangeAccountTerms.parse(data) if len(data) > 2 else None

    def link(self, account: AccountSummary) -> LinkAccountToCustomer | None:
        """The link command of this PATCH (its relatedParty's customer), or None when it names no customer."""
        if self.relatedParty is None:
            return None
        customers = [p for p in self.relatedParty if p.role == "customer"]
        if len(customers) != 1 or not customers[0].id:
            raise InvalidInput("relatedParty: exactly one party with role customer and its id (the account's customer)")
        return LinkAccountToCustomer.parse({"account_id": account.account_id, "customer_id": customers[0].id,
                                            "relink": self.relink, "reason": self.reason})


def visible_account(svc: Services, caller: Caller, account_id: str) -> AccountSummary:
    """The account, or 404 for a customer asking for another customer's account (its existence is not leaked)."""
    if not caller.sees(account_id):
        raise AccountNotFound(f"billing account {account_id!r} not found", account=account_id)
    return account_summary(svc.reads, svc.now, account_id)


def account_doc(svc: Services, account_id: str) -> dict[str, Any]:
    return dump(BillingAccount.of(account_summary(svc.reads, svc.now, account_id)))


AccountId = Annotated[str, Path(min_length=1, max_length=200, description="the billing account's id (its reference)")]


@router.post("/billingAccount", name="billingAccount.create", status_code=201, response_model=BillingAccount,
             responses={**again(BillingAccount), **error_responses(400, 401, 403, 404, 409, 422)})
def create_billing_account(svc: Services, caller: Allowed, once: Once, body: BillingAccountCreate) -> Response:
    """Open a billing account (idempotent by its id: the same account again answers 200)."""
    return once.create(caller, body, lambda: svc.execute(body.command(), AccountOpened),
                       lambda r: account_doc(svc, r.account_id), fresh=lambda r: r.created)


@router.get("/billingAccount", name="billingAccount.list", response_model=list[BillingAccount],
            responses={**LISTED, **error_responses(400, 401, 403)})
def list_billing_accounts(
        svc: Services, caller: Allowed, paging: Paging,
        state: Annotated[Literal["active", "suspended", "closed"] | None, Query()] = None,
        currency: Annotated[str | None, Query(max_length=3)] = None,
        ratingType: Annotated[Literal["prepaid", "postpaid"] | None, Query()] = None,
        relatedParty_id: Annotated[str | None, Query(alias="relatedParty.id", max_length=200)] = None) -> Json:
    """Billing accounts (from the read models: selection and order; each item as it stands now)."""
    refs, total = list_accounts(svc, caller, paging, {"status": state, "currency": currency, "rating_type": ratingType,
                                                      "customer_id": relatedParty_id})
    docs = []
    for account_ref in refs:
        try:
            docs.append(account_doc(svc, account_ref))
        except AccountNotFound:  # a read model row of an account the store no longer has (a different store?)
            total -= 1
    return paging.respond(docs, total)


@router.get("/billingAccount/{id}", name="billingAccount.get", response_model=BillingAccount,
            responses=error_responses(401, 403, 404))
async def get_billing_account(svc: Services, caller: Allowed, id: AccountId, fields: Fields) -> Json:  # noqa: A002
    """The account as it stands now. On the event loop when the body built for the account's stored version is
    cached (one select on the primary key's index, awaited and shared with the GETs waiting at the same moment;
    no thread hop); else built in a thread and cached. With a recently checked API key and no query string,
    ledger.http.fast_reads.AccountGet answers before FastAPI does (the same steps, without FastAPI's)."""
    if not caller.sees(id):
        raise AccountNotFound(f"billing account {id!r} not found", account=id)
    aggregate_id = account_aggregate_id(id)
    version = await svc.versions.version(aggregate_id)
    cached: CachedAccount | None = svc.views.get(aggregate_id, version, lambda c: account_day(svc.now, c[0]))
    if cached is None:
        cached = await run_in_threadpool(build_account_body, svc, id, aggregate_id)
    return Json(cached[1]) if fields is None else one(orjson.loads(cached[1]), fields)


CachedAccount = tuple[str, bytes]
"""What the view cache keeps for an account version: its time zone (the day its overdue bills depend on) and its
rendered body (bytes: nothing for the garbage collector to traverse, nothing to render again)."""


def build_account_body(svc: ApiServices, account_id: str, aggregate_id: uuid.UUID) -> CachedAccount:
    """The account's body built from its stored state (a thread: store I/O), cached for the version it was built at:
    by `lean_account_body` (no pydantic models: ledger/http/lean_accounts.py), else the plain way."""
    account = load_account(svc.reads, account_id)
    today = account_day(svc.now, account.time_zone)
    body = lean_account_body(account, today)
    if body is None:
        view = AccountSummary(**summary_fields(account, svc.now))
        today, body = view.as_of, plain_account_body(view)
    cached = (account.time_zone, body)
    svc.views.put(aggregate_id, account.version, today, cached)
    return cached


def plain_account_body(view: AccountSummary) -> bytes:
    """The account's body through the TMF model (what `lean_account_body` is pinned equal to)."""
    return render(dump(BillingAccount.of(view)))


@router.patch("/billingAccount/{id}", name="billingAccount.patch", response_model=BillingAccount,
              openapi_extra=merge_patch_body(BillingAccountUpdate),
              responses=error_responses(400, 401, 403, 404, 409, 415, 422))
def patch_billing_account(svc: Services, caller: Allowed, id: AccountId,  # noqa: A002
                          body: Annotated[BillingAccountUpdate, Body()]) -> Json:
    """Change what may change (application/merge-patch+json or application/json): the customer first, then the
    terms, then the state."""
    account = visible_account(svc, caller, id)
    link, terms = body.link(account), body.terms(account)
    if link is not None:
        svc.execute(link)
    if terms is not None:
        svc.execute(terms)
    if body.state is not None and body.state != account.status:
        model = {"suspended": SuspendAccount, "active": ResumeAccount, "closed": CloseAccount}[body.state]
        svc.execute(model.parse({"account_id": id, "reason": body.reason}))
    return one(account_doc(svc, id), None)


@router.delete("/billingAccount/{id}", name="billingAccount.delete", status_code=405,
               responses=error_responses(401, 403, 405))
def delete_billing_account(caller: Allowed, id: AccountId) -> Response:  # noqa: A002
    """Always 405: accounts are closed (PATCH state closed), never deleted."""
    raise ApiError(405, "method_not_allowed", "billing accounts are never deleted: PATCH its state to closed",
                   {"Allow": "GET, PATCH"})


# ---------------------------------------------------------------- billingCycleSpecification


class BillingCycleSpecification(Resource):
    """TMF666 BillingCycleSpecification; `billingDay` and `anchorMonth` (when periods start) and
    `billDateOffset` are the ledger's extensions (billingDateShift is the same as billDateOffset)."""

    id: str
    href: str
    name: str
    frequency: Literal["monthly", "bimonthly", "quarterly", "semiannual", "annual"]
    billingDay: int
    anchorMonth: int
    chargeDateOffset: int
    creditDateOffset: int
    billingDateShift: int
    mailingDateOffset: int
    paymentDueDateOffset: int
    validFor: TimePeriod
    type_: str = Field("BillingCycleSpecification", alias="@type")

    @classmethod
    def of(cls, view: SpecificationView) -> BillingCycleSpecification:
        return cls(id=view.name, href=href("BillingCycleSpecification", view.name), name=view.name,
                   frequency=view.frequency, billingDay=view.billing_day, anchorMonth=view.anchor_month,
                   chargeDateOffset=view.charge_date_offset, creditDateOffset=view.credit_date_offset,
                   billingDateShift=view.bill_date_offset, mailingDateOffset=view.mailing_date_offset,
                   paymentDueDateOffset=view.payment_due_date_offset, validFor=TimePeriod(startDateTime=view.defined_at))


class BillingCycleSpecificationCreate(Extensible):
    name: str = Field(min_length=1, max_length=200)
    frequency: str = "monthly"
    billingDay: int = 1
    anchorMonth: int = 1
    chargeDateOffset: int = 0
    creditDateOffset: int = 0
    billingDateShift: int = 0
    mailingDateOffset: int = 2
    paymentDueDateOffset: int = 14
    billingPeriod: str | None = None
    description: str | None = None
    validFor: TimePeriod | None = None

    def command(self) -> DefineCycleSpecification:
        return DefineCycleSpecification.parse({
            "name": self.name, "frequency": self.frequency, "billing_day": self.billingDay,
            "anchor_month": self.anchorMonth, "charge_date_offset": self.chargeDateOffset,
            "credit_date_offset": self.creditDateOffset, "bill_date_offset": self.billingDateShift,
            "mailing_date_offset": self.mailingDateOffset, "payment_due_date_offset": self.paymentDueDateOffset})


@router.post("/billingCycleSpecification", name="billingCycleSpecification.create", status_code=201,
             response_model=BillingCycleSpecification,
             responses={**again(BillingCycleSpecification), **error_responses(400, 401, 403, 409, 422)})
def create_cycle_specification(svc: Services, caller: Allowed, once: Once, body: BillingCycleSpecificationCreate) -> Response:
    """Define a specification (immutable: the same name with other values is 409; the same again answers 200)."""
    return once.create(caller, body, lambda: svc.execute(body.command(), SpecificationDefined),
                       lambda r: dump(BillingCycleSpecification.of(specification_view(svc.reads, r.specification))),
                       fresh=lambda r: r.created)


@router.get("/billingCycleSpecification", name="billingCycleSpecification.list",
            response_model=list[BillingCycleSpecification], responses={**LISTED, **error_responses(400, 401, 403)})
def list_cycle_specifications(svc: Services, caller: Allowed, paging: Paging,
                              frequency: Annotated[str | None, Query(max_length=20)] = None) -> Json:
    views = [v for v in specification_views(svc.reads) if frequency is None or v.frequency == frequency]
    return paging.respond([dump(BillingCycleSpecification.of(v)) for v in paging.window(views)], len(views))


@router.get("/billingCycleSpecification/{id}", name="billingCycleSpecification.get",
            response_model=BillingCycleSpecification, responses=error_responses(401, 403, 404))
def get_cycle_specification(svc: Services, caller: Allowed, fields: Fields,
                            id: Annotated[str, Path(min_length=1, max_length=200)]) -> Json:  # noqa: A002
    return one(dump(BillingCycleSpecification.of(specification_view(svc.reads, id))), fields)
