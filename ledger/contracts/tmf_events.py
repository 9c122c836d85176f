"""TMF event notifications (the hub's outbound contract): each domain event as the TMF events it means, each with
a stable id, and the listener query filter (`eventType=...&billingAccount.id=...`) that selects them."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID, uuid5

from ledger.aggregates.money import currency, fmt
from ledger.contracts.ledger_events import event_id
from ledger.contracts.tmf import href, part_id

EVENT_TYPES = ("BillingAccountCreateEvent", "BillingAccountStateChangeEvent", "BillingAccountAttributeValueChangeEvent",
               "AppliedCustomerBillingRateCreateEvent",
               "CustomerBillCreateEvent", "CustomerBillStateChangeEvent", "PaymentCreateEvent", "PaymentStateChangeEvent",
               "RefundCreateEvent")
QUERY_KEYS = ("eventType", "billingAccount.id")

Owner = Callable[[UUID], str | None]
"""The billing account (its reference) of a bill or payment, by the bill's or payment's id."""


def _money(amount: str | Decimal, unit: str) -> dict[str, str]:
    return {"unit": unit, "value": fmt(Decimal(amount), currency(unit))}


def _account(account_ref: str) -> dict[str, str]:
    return {"id": account_ref, "href": href("BillingAccount", account_ref), "@referredType": "BillingAccount"}


def notifications(event: Any, owner: Owner, currency_of: Callable[[str], str]) -> list[dict[str, Any]]:
    """The TMF events of one domain event (none for the ledger's internal ones), each as the body a listener gets.
    `currency_of(account_ref)` gives an account's currency for the amounts of its events."""
    kind = type(event).__qualname__
    own_id = event_id(event.originator_id, event.originator_version)
    if kind == "BillingAccount.PlanChargesApplied":  # one notification per charge, as their own events would give
        found = []
        for n, charge in enumerate(event.applied()):
            built = _charge(charge, owner, currency_of)
            if built is not None:  # the first charge's id is the event's; the others' derived from it, as stable
                found.append(_body(event, built, own_id if not n else uuid5(own_id, f"charge:{n}")))
        return found
    if kind == "CustomerBill.StatesChanged":  # one state change notification per step, as StateChanged ones
        ref = owner(event.originator_id)
        return [] if ref is None else [
            _body(event, _bill_step(event, ref, step["to_state"]), own_id if not n else uuid5(own_id, f"step:{n}"))
            for n, step in enumerate(event.steps)]
    builder = _BUILDERS.get(kind)
    if builder is None:
        return []
    built = builder(event, owner, currency_of)
    return [] if built is None else [_body(event, built, own_id)]


def _body(event: Any, built: tuple[str, str, str, dict[str, Any]], own_id: UUID) -> dict[str, Any]:
    event_type, account_ref, resource_name, resource = built
    return {
        "eventId": str(own_id),
        "eventTime": event.timestamp.isoformat(),
        "eventType": event_type,
        "correlationId": str(event.originator_id),
        "domain": "ledger",
        "billingAccount": _account(account_ref),
        "event": {resource_name: resource},
    }


def _opened(e: Any, owner: Owner, currency_of: Callable[[str], str]) -> Any:
    return ("BillingAccountCreateEvent", e.account_ref, "billingAccount", {
        "id": e.account_ref, "href": href("BillingAccount", e.account_ref), "name": e.name or e.account_ref,
        "state": "active", "currency": e.currency, "ratingType": e.rating_type,
        "relatedParty": [{"id": e.customer_id, "role": "customer", "@referredType": "Customer"}],
        "@type": "BillingAccount"})


def _status(e: Any, owner: Owner, currency_of: Callable[[str], str]) -> Any:
    ref = owner(e.originator_id)
    return None if ref is None else ("BillingAccountStateChangeEvent", ref, "billingAccount", {
        "id": ref, "href": href("BillingAccount", ref), "state": e.status, "@type": "BillingAccount"})


def _terms(e: Any, owner: Owner, currency_of: Callable[[str], str]) -> Any:
    ref = owner(e.originator_id)
    if ref is None:
        return None
    method = e.default_payment_method
    resource = {"id": ref, "href": href("BillingAccount", ref), "creditLimit": _money(e.credit_limit, currency_of(ref)),
                "@type": "BillingAccount"}
    if e.payment_terms_days is not None:
        resource["paymentTermsDays"] = e.payment_terms_days
    if method:
        resource["defaultPaymentMethod"] = {"id": method["id"], "@referredType": method["type"]}
    return "BillingAccountAttributeValueChangeEvent", ref, "billingAccount", resource


def _customer_linked(e: Any, owner: Owner, currency_of: Callable[[str], str]) -> Any:
    ref = owner(e.originator_id)
    return None if ref is None else ("BillingAccountAttributeValueChangeEvent", ref, "billingAccount", {
        "id": ref, "href": href("BillingAccount", ref),
        "relatedParty": [{"id": e.customer_id, "role": "customer", "@referredType": "Customer"}],
        "@type": "BillingAccount"})


def _charge(e: Any, owner: Owner, currency_of: Callable[[str], str]) -> Any:
    ref = owner(e.originator_id)
    if ref is None:
        return None
    cur, own = currency_of(ref), part_id(ref, e.charge_id)
    return ("AppliedCustomerBillingRateCreateEvent", ref, "appliedCustomerBillingRate", {
        "id": own, "href": href("AppliedCustomerBillingRate", own), "type": e.charge_type, "date": e.effective_at,
        "isBilled": False, "billingAccount": _account(ref), "taxExcludedAmount": _money(e.tax_excluded, cur),
        "taxIncludedAmount": _money(e.tax_included, cur), "@type": "AppliedCustomerBillingRate"})


def _refund(e: Any, owner: Owner, currency_of: Callable[[str], str]) -> Any:
    ref = owner(e.originator_id)
    if ref is None:
        return None
    own = part_id(ref, e.refund_id)
    return ("RefundCreateEvent", ref, "refund", {
        "id": own, "href": href("Refund", own), "correlatorId": e.refund_id, "status": "done",
        "refundDate": e.effective_at, "totalAmount": _money(e.amount, currency_of(ref)), "account": _account(ref),
        "@type": "Refund"})


def _bill_issued(e: Any, owner: Owner, currency_of: Callable[[str], str]) -> Any:
    bill_id = str(e.originator_id)
    return ("CustomerBillCreateEvent", e.account_ref, "customerBill", {
        "id": bill_id, "href": href("CustomerBill", bill_id), "billNo": e.bill_number, "state": "new",
        "runType": e.run_type, "billDate": e.bill_date, "paymentDueDate": e.payment_due_date,
        "amountDue": _money(e.amount_due, e.currency), "billingAccount": _account(e.account_ref), "@type": "CustomerBill"})


def _bill_state(e: Any, owner: Owner, currency_of: Callable[[str], str]) -> Any:
    ref = owner(e.originator_id)
    return None if ref is None else _bill_step(e, ref, getattr(e, "to_state", None) or e.new_state)


def _bill_step(e: Any, ref: str, state: str) -> tuple[str, str, str, dict[str, Any]]:
    bill_id = str(e.originator_id)
    return ("CustomerBillStateChangeEvent", ref, "customerBill", {
        "id": bill_id, "href": href("CustomerBill", bill_id), "state": state, "billingAccount": _account(ref),
        "@type": "CustomerBill"})


def _payment(e: Any, owner: Owner, currency_of: Callable[[str], str]) -> Any:
    payment_id = str(e.originator_id)
    return ("PaymentCreateEvent", e.account_ref, "payment", {
        "id": payment_id, "href": href("Payment", payment_id), "correlatorId": e.external_reference, "status": "done",
        "paymentDate": e.payment_date, "totalAmount": _money(e.amount, e.currency), "account": _account(e.account_ref),
        "@type": "Payment"})


def _payment_reversed(e: Any, owner: Owner, currency_of: Callable[[str], str]) -> Any:
    ref = owner(e.originator_id)
    payment_id = str(e.originator_id)
    return None if ref is None else ("PaymentStateChangeEvent", ref, "payment", {
        "id": payment_id, "href": href("Payment", payment_id), "status": "canceled", "account": _account(ref),
        "@type": "Payment"})


_BUILDERS: dict[str, Callable[[Any, Owner, Callable[[str], str]], Any]] = {
    "BillingAccount.Opened": _opened,
    "BillingAccount.StatusChanged": _status,
    "BillingAccount.TermsChanged": _terms,
    "BillingAccount.CustomerLinked": _customer_linked,
    "BillingAccount.ChargeApplied": _charge,
    "BillingAccount.CreditRefunded": _refund,
    "CustomerBill.Issued": _bill_issued,
    "CustomerBill.StateChanged": _bill_state,
    "CustomerBill.PaymentApplied": _bill_state,
    "CustomerBill.PaymentUndone": _bill_state,
    "CustomerPayment.Received": _payment,
    "CustomerPayment.Reversed": _payment_reversed,
}


def parse_query(query: str) -> dict[str, frozenset[str]]:
    """A listener's filter: `eventType=A,B&billingAccount.id=X` (each key optional; values comma-separated).
    ValueError for an unknown key or event type."""
    wanted: dict[str, frozenset[str]] = {}
    for key, values in parse_qs(query or "", keep_blank_values=False, strict_parsing=False).items():
        if key not in QUERY_KEYS:
            raise ValueError(f"query: unknown key {key!r} (use {', '.join(QUERY_KEYS)})")
        wanted[key] = frozenset(v.strip() for value in values for v in value.split(",") if v.strip())
    unknown = wanted.get("eventType", frozenset()) - set(EVENT_TYPES)
    if unknown:
        raise ValueError(f"query: unknown event types {sorted(unknown)} (known: {', '.join(EVENT_TYPES)})")
    return wanted


def matches(wanted: dict[str, frozenset[str]], note: dict[str, Any]) -> bool:
    return ("eventType" not in wanted or note["eventType"] in wanted["eventType"]) and (
        "billingAccount.id" not in wanted or note["billingAccount"]["id"] in wanted["billingAccount.id"])
