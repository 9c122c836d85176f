"""Payment methods (TMF670) as entry points show them: masked details only (never a sealed value, never a full
number), the status as of today, and whether it is its billing account's default."""

from __future__ import annotations

from collections.abc import Collection

from eventsourcing.utils import get_topic

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.payment_method import PaymentMethod
from ledger.errors import PaymentMethodNotFound
from ledger.ports import AggregateStore, Clock
from ledger.queries.views import View


class PaymentMethodView(View):
    method_id: str
    owner_type: str
    owner_id: str
    type: str
    name: str
    masked: dict[str, str]
    gateway_token: str | None
    valid_to: str | None
    status: str
    status_reason: str
    is_default: bool
    status_date: str


def view_of(store: AggregateStore, clock: Clock, method: PaymentMethod) -> PaymentMethodView:
    default = False
    if method.owner_type == "billingAccount":
        account = store.find(BillingAccount, ids.account_id(method.owner_ref))
        chosen = account.default_payment_method if account is not None else None
        default = bool(chosen) and chosen.get("id") == method.method_ref  # type: ignore[union-attr]
    return PaymentMethodView(method_id=method.method_ref, owner_type=method.owner_type, owner_id=method.owner_ref,
                             type=method.method_type, name=method.name, masked=dict(method.masked),
                             gateway_token=method.gateway_token, valid_to=method.valid_to,
                             status=method.status_on(clock().date()), status_reason=method.status_reason,
                             is_default=default, status_date=method.modified_on.isoformat())


def load_method(store: AggregateStore, method_ref: str) -> PaymentMethod:
    return store.load(PaymentMethod, ids.payment_method_id(method_ref), PaymentMethodNotFound,
                      f"payment method {method_ref!r}")


def payment_method_view(store: AggregateStore, clock: Clock, method_ref: str) -> PaymentMethodView:
    return view_of(store, clock, load_method(store, method_ref))


def payment_method_refs(store: AggregateStore, *, accounts: Collection[str] | None = None,
                        customers: Collection[str] | None = None) -> list[str]:
    """The ids of the payment methods, in the order they were added; with `accounts` and/or `customers`, only those
    these accounts or customers own."""
    owners = None if accounts is None and customers is None else \
        {("billingAccount", a) for a in accounts or ()} | {("customer", c) for c in customers or ()}
    return [e.method_ref for e in store.created([get_topic(PaymentMethod.Added)])
            if owners is None or (e.owner_type, e.owner_ref) in owners]
