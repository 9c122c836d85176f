"""Commands on subscriptions (TMF637 Product): subscribe an account to an offering, change offering or quantity
(from a day, or at the end of the billing period), suspend, resume, terminate. Days are the account's local days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.billing_calendar import occurrence_containing
from ledger.aggregates.product_offering import USAGE, ProductOffering
from ledger.aggregates.subscription import Subscription
from ledger.commands.base import Command, Id, Text
from ledger.commands.catalogue import load_offering
from ledger.commands.lookups import load_account, load_specification
from ledger.commands.results import SubscriptionSaved
from ledger.errors import CurrencyMismatch, IdempotencyConflict, InvalidInput, RuleViolation, SubscriptionNotFound
from ledger.ports import AggregateStore, HandlerContext


def _positive_int(value: Any) -> Any:
    """A quantity: an integer (or its digits as text), never a float or a bool."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("quantity must be a positive integer")
    if isinstance(value, str) and not value.strip().isdigit():
        raise ValueError("quantity must be a positive integer")
    return value


class _Quantity(Command):
    @field_validator("quantity", mode="before", check_fields=False)
    @classmethod
    def _whole(cls, value: Any) -> Any:
        return value if value is None else _positive_int(value)


class CreateSubscription(_Quantity, Command[SubscriptionSaved]):
    subscription_id: Id
    account_id: Id
    offering_id: Id
    quantity: int = Field(default=1, ge=1, le=1_000_000)
    start_date: dt.date
    end_date: dt.date | None = None


class ChangeSubscription(_Quantity, Command[SubscriptionSaved]):
    """Another offering and/or quantity from `effective_date` (or from the next billing period with at_period_end)."""

    subscription_id: Id
    offering_id: Id | None = None
    quantity: int | None = Field(default=None, ge=1, le=1_000_000)
    effective_date: dt.date
    at_period_end: bool = False


class SuspendSubscription(Command[SubscriptionSaved]):
    subscription_id: Id
    effective_date: dt.date
    reason: Text = ""


class ResumeSubscription(Command[SubscriptionSaved]):
    subscription_id: Id
    effective_date: dt.date
    reason: Text = ""


class TerminateSubscription(Command[SubscriptionSaved]):
    """Cancel: `end_date` is the last day served (with at_period_end: the end of the billing period containing it)."""

    subscription_id: Id
    end_date: dt.date
    at_period_end: bool = False
    reason: Text = ""


def load_subscription(store: AggregateStore, subscription_ref: str) -> Subscription:
    return store.load(Subscription, ids.subscription_id(subscription_ref), SubscriptionNotFound,
                      f"subscription {subscription_ref!r}")


def _check_offering(account: BillingAccount, offering: ProductOffering, what: str) -> None:
    offering.require_sellable(what)
    others = sorted({p["currency"] for p in offering.prices.values() if p["price_type"] != USAGE} - {account.currency})
    if others:
        raise CurrencyMismatch(f"offering {offering.offering_ref} is priced in {', '.join(others)}; account "
                               f"{account.account_ref} bills in {account.currency}", offering=offering.offering_ref)


def _saved(ctx: HandlerContext, sub: Subscription, changed: bool) -> SubscriptionSaved:
    account = ctx.store.load(BillingAccount, sub.account_id, SubscriptionNotFound, "billing account")
    today = ctx.now().astimezone(_zone(account.time_zone)).date()
    phase = sub.phases[-1]
    return SubscriptionSaved(subscription_id=sub.subscription_ref, account_id=sub.account_ref,
                             offering_id=phase["offering"], quantity=phase["quantity"], status=sub.status_on(today),
                             start_date=sub.start_date, end_date=sub.end_date, changed=changed)


def _zone(name: str) -> dt.tzinfo:
    return ZoneInfo(name)


def create_subscription(ctx: HandlerContext, cmd: CreateSubscription) -> SubscriptionSaved:
    existing = ctx.store.find(Subscription, ids.subscription_id(cmd.subscription_id))
    if existing is not None:
        check_same_subscription(existing, cmd)
        return _saved(ctx, existing, False)
    account = load_account(ctx.store, cmd.account_id)
    sub = new_subscription(ctx.now(), cmd, account, lambda: load_offering(ctx.store, cmd.offering_id))
    ctx.store.save(sub)
    return _saved(ctx, sub, True)


def check_same_subscription(existing: Subscription, cmd: CreateSubscription) -> None:
    """Creating a subscription that exists is a no-op with the same account, offering, quantity and start."""
    first = existing.phases[0]
    same = (existing.account_ref, first["offering"], first["quantity"], existing.start_date) == (
        cmd.account_id, cmd.offering_id, cmd.quantity, cmd.start_date.isoformat())
    if not same:
        raise IdempotencyConflict(f"subscription {cmd.subscription_id!r} already exists with other values",
                                  subscription=cmd.subscription_id)


def new_subscription(now: dt.datetime, cmd: CreateSubscription, account: BillingAccount,
                     offering: Callable[[], ProductOffering]) -> Subscription:
    """The subscription the command creates on `account` (not saved), once the rules hold: a postpaid account, a
    start on or after the account opened, a sellable offering (Active or Launched) priced in the account's currency
    (`offering()` loads it)."""
    if account.is_prepaid:
        raise RuleViolation(f"account {cmd.account_id} is prepaid: subscriptions are billed on postpaid accounts",
                            account=cmd.account_id)
    opened = account.created_on.astimezone(_zone(account.time_zone)).date()
    if cmd.start_date < opened:
        raise RuleViolation(f"subscription {cmd.subscription_id} cannot start on {cmd.start_date}, before account "
                            f"{cmd.account_id} opened ({opened})", subscription=cmd.subscription_id)
    _check_offering(account, offering(), f"subscription {cmd.subscription_id}")
    return Subscription.create(now, id=ids.subscription_id(cmd.subscription_id), subscription_ref=cmd.subscription_id,
                               account_ref=cmd.account_id, account_id=account.id, offering_ref=cmd.offering_id,
                               quantity=cmd.quantity, start_date=cmd.start_date, end_date=cmd.end_date)


def _period_after(ctx: HandlerContext, sub: Subscription, day: dt.date) -> dt.date:
    """The first day of the billing period after the one containing `day` (the account's calendar)."""
    account = ctx.store.load(BillingAccount, sub.account_id, SubscriptionNotFound, "billing account")
    spec = load_specification(ctx.store, account.cycle_specification).specification
    return occurrence_containing(spec, day).period_end + dt.timedelta(days=1)


def change_subscription(ctx: HandlerContext, cmd: ChangeSubscription) -> SubscriptionSaved:
    if cmd.offering_id is None and cmd.quantity is None:
        raise InvalidInput("a change needs a new offering_id or quantity", subscription=cmd.subscription_id)
    sub = load_subscription(ctx.store, cmd.subscription_id)
    last = sub.phases[-1]
    offering = cmd.offering_id or last["offering"]
    if cmd.offering_id is not None and cmd.offering_id != last["offering"]:
        account = ctx.store.load(BillingAccount, sub.account_id, SubscriptionNotFound, "billing account")
        _check_offering(account, load_offering(ctx.store, cmd.offering_id),
                        f"change of subscription {cmd.subscription_id} to it")
    effective = _period_after(ctx, sub, cmd.effective_date) if cmd.at_period_end else cmd.effective_date
    changed = sub.change(ctx.now(), effective=effective, offering_ref=offering, quantity=cmd.quantity or last["quantity"])
    if changed:
        ctx.store.save(sub)
    return _saved(ctx, sub, changed)


def suspend_subscription(ctx: HandlerContext, cmd: SuspendSubscription) -> SubscriptionSaved:
    sub = load_subscription(ctx.store, cmd.subscription_id)
    sub.suspend(ctx.now(), cmd.effective_date, cmd.reason)
    ctx.store.save(sub)
    return _saved(ctx, sub, True)


def resume_subscription(ctx: HandlerContext, cmd: ResumeSubscription) -> SubscriptionSaved:
    sub = load_subscription(ctx.store, cmd.subscription_id)
    sub.resume(ctx.now(), cmd.effective_date, cmd.reason)
    ctx.store.save(sub)
    return _saved(ctx, sub, True)


def terminate_subscription(ctx: HandlerContext, cmd: TerminateSubscription) -> SubscriptionSaved:
    sub = load_subscription(ctx.store, cmd.subscription_id)
    end = _period_after(ctx, sub, cmd.end_date) - dt.timedelta(days=1) if cmd.at_period_end else cmd.end_date
    changed = sub.terminate(ctx.now(), end, cmd.reason)
    if changed:
        ctx.store.save(sub)
    return _saved(ctx, sub, changed)
