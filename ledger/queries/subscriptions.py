"""Subscriptions (TMF637 product) as entry points show them: one, or those of some accounts; status as of today
in the account's time zone, and the timeline of its phases (offering, quantity, state from a day)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.utils import get_topic

from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.subscription import Subscription
from ledger.commands.subscriptions import load_subscription
from ledger.errors import SubscriptionNotFound
from ledger.ports import AggregateStore, Clock
from ledger.queries.views import View


class SubscriptionView(View):
    subscription_id: str
    account_id: str
    offering_id: str
    quantity: int
    status: str
    start_date: str
    end_date: str | None
    reconciled_until: str | None
    phases: list[dict[str, Any]]
    created_at: str
    last_modified: str
    today: str  # the account's local day the status is judged on


def local_today(store: AggregateStore, clock: Clock, sub: Subscription) -> date:
    """Today in the subscription's account's time zone (the days a subscription lives by)."""
    account = store.load(BillingAccount, sub.account_id, SubscriptionNotFound, "billing account")
    return clock().astimezone(ZoneInfo(account.time_zone)).date()


def view_of(store: AggregateStore, clock: Clock, sub: Subscription) -> SubscriptionView:
    today = local_today(store, clock, sub)
    current = sub.phase_on(today) or sub.phases[-1 if today >= sub.start else 0]
    return SubscriptionView(subscription_id=sub.subscription_ref, account_id=sub.account_ref,
                            offering_id=current["offering"], quantity=current["quantity"], status=sub.status_on(today),
                            start_date=sub.start_date, end_date=sub.end_date, reconciled_until=sub.reconciled_until,
                            phases=[dict(p) for p in sub.phases], created_at=sub.created_on.isoformat(),
                            last_modified=sub.modified_on.isoformat(), today=today.isoformat())


def subscription_view(store: AggregateStore, clock: Clock, subscription_ref: str) -> SubscriptionView:
    return view_of(store, clock, load_subscription(store, subscription_ref))


def subscription_refs(store: AggregateStore, accounts: Collection[str] | None = None) -> list[str]:
    """The ids of the subscriptions (of these accounts, when given), in the order they were made."""
    return [e.subscription_ref for e in store.created([get_topic(Subscription.Subscribed)])
            if accounts is None or e.account_ref in accounts]
