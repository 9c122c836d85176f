"""Commands on customer groups: create, update (merge; a discount rate change from a day), delete (only when empty),
assign and remove members.

Days are calendar days; "today" is the ledger clock's UTC day, and no change reaches a day before it (so what a
cycle run already settled is never reopened). A customer is a member of at most one group on any day: an
assignment overlapping the customer's membership in this group is refused by the group itself, and one overlapping a
membership in another group is refused here, after reading every group (the groups are few). Two assignments of the
same customer to two different groups at the same moment are not serialized against each other (each group is its
own aggregate); should that happen, the cycle run applies, on the days of the overlap, the membership that starts
first (never both).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Literal

from eventsourcing.utils import get_topic
from pydantic import Field

from ledger.aggregates import ids
from ledger.aggregates.customer import CLOSED
from ledger.aggregates.customer_group import CustomerGroup
from ledger.commands.base import Amount, Command, Id, Text
from ledger.commands.customers import load_customer
from ledger.commands.results import GroupSaved, MembershipSaved
from ledger.errors import GroupNotFound, IdempotencyConflict, RuleViolation
from ledger.ports import AggregateStore, HandlerContext

Media = Literal["email", "paper", "electronic", "portal"]
Rate = Amount
_FORMED = get_topic(CustomerGroup.Formed)


class CreateGroup(Command[GroupSaved]):
    """A new customer group; re-sending the same content is a no-op."""

    group_id: Id
    name: Text = Field(min_length=1, max_length=200)
    description: Text = ""
    discount_rate: Rate = Field(default=Decimal(0), ge=0, le=100)
    bill_presentation_media: Media | None = None


class UpdateGroup(Command[GroupSaved]):
    """Merge the fields given; a discount rate holds from `rate_effective_date` (default: today) on."""

    group_id: Id
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    description: Text | None = None
    bill_presentation_media: Media | None = None
    discount_rate: Rate | None = Field(default=None, ge=0, le=100)
    rate_effective_date: dt.date | None = None


class DeleteGroup(Command[GroupSaved]):
    """Delete a group with no current or future member; again is a no-op."""

    group_id: Id
    reason: Text = ""


class AssignMember(Command[MembershipSaved]):
    """Make a customer a member from `from_date` (default: today) until `until_date` (its last day; none: open)."""

    group_id: Id
    customer_id: Id
    from_date: dt.date | None = None
    until_date: dt.date | None = None


class RemoveMember(Command[MembershipSaved]):
    """End a customer's membership after `until_date` (its last day in the group; default: yesterday)."""

    group_id: Id
    customer_id: Id
    until_date: dt.date | None = None
    reason: Text = ""


def _today(ctx: HandlerContext) -> dt.date:
    return ctx.now().astimezone(dt.UTC).date()


def load_group(store: AggregateStore, group_ref: str) -> CustomerGroup:
    return store.load(CustomerGroup, ids.group_id(group_ref), GroupNotFound, f"customer group {group_ref!r}")


def all_groups(store: AggregateStore) -> Iterator[CustomerGroup]:
    """Every customer group (deleted ones too), in the order they were created."""
    group_ids = [event.originator_id for event in store.created([_FORMED])]
    found = store.load_many(CustomerGroup, group_ids) if group_ids else {}
    return (g for g in (found[i] for i in group_ids) if g is not None)


def _preferences(media: str | None) -> dict[str, str]:
    return {} if media is None else {"bill_presentation_media": media}


def _saved(group: CustomerGroup, changed: bool) -> GroupSaved:
    return GroupSaved(group_id=group.group_ref, name=group.name, state=group.state,
                      discount_rate=group.discount_rate, changed=changed)


def create_group(ctx: HandlerContext, cmd: CreateGroup) -> GroupSaved:
    group_id = ids.group_id(cmd.group_id)
    preferences = _preferences(cmd.bill_presentation_media)
    existing = ctx.store.find(CustomerGroup, group_id)
    if existing is not None:
        same = (existing.name, existing.description, existing.rates[0]["rate"] if len(existing.rates) == 1 else None,
                existing.preferences, existing.state) == (cmd.name, cmd.description, str(cmd.discount_rate),
                                                         preferences, "active")
        if not same:
            raise IdempotencyConflict(f"customer group {cmd.group_id!r} already exists with other values",
                                      group=cmd.group_id)
        return _saved(existing, False)
    group = CustomerGroup.create(ctx.now(), id=group_id, group_ref=cmd.group_id, name=cmd.name,
                                 description=cmd.description, discount_rate=cmd.discount_rate, preferences=preferences)
    ctx.store.save(group)
    return _saved(group, True)


def update_group(ctx: HandlerContext, cmd: UpdateGroup) -> GroupSaved:
    if cmd.rate_effective_date is not None and cmd.discount_rate is None:
        raise RuleViolation("a rate effective date needs the discount rate it brings", group=cmd.group_id)
    group = load_group(ctx.store, cmd.group_id)
    now, today = ctx.now(), _today(ctx)
    changed = group.update(now, name=cmd.name, description=cmd.description,
                           preferences=_preferences(cmd.bill_presentation_media))
    if cmd.discount_rate is not None:
        changed = group.change_rate(now, cmd.discount_rate, cmd.rate_effective_date or today, today) or changed
    if changed:
        ctx.store.save(group)
    return _saved(group, changed)


def delete_group(ctx: HandlerContext, cmd: DeleteGroup) -> GroupSaved:
    group = load_group(ctx.store, cmd.group_id)
    changed = group.delete(ctx.now(), _today(ctx), cmd.reason)
    if changed:
        ctx.store.save(group)
    return _saved(group, changed)


def assign_member(ctx: HandlerContext, cmd: AssignMember) -> MembershipSaved:
    group = load_group(ctx.store, cmd.group_id)
    customer = load_customer(ctx.store, cmd.customer_id)
    if customer.status == CLOSED:
        raise RuleViolation(f"customer {cmd.customer_id} is closed: it cannot join a group", customer=cmd.customer_id)
    today = _today(ctx)
    first = cmd.from_date or today
    last = cmd.until_date
    for other in all_groups(ctx.store):
        if other.id == group.id:
            continue
        for _, f, u in other.memberships(cmd.customer_id):
            if f <= (last or dt.date.max) and first <= (u or dt.date.max):
                raise RuleViolation(
                    f"customer {cmd.customer_id} is a member of group {other.group_ref} from {f}"
                    + (f" until {u}" if u else "") + ": a customer is in at most one group on any day",
                    group=cmd.group_id, customer=cmd.customer_id, other_group=other.group_ref)
    changed = group.assign(ctx.now(), cmd.customer_id, first, last, today)
    if changed:
        ctx.store.save(group)
    return MembershipSaved.of(group, cmd.customer_id, changed)


def remove_member(ctx: HandlerContext, cmd: RemoveMember) -> MembershipSaved:
    group = load_group(ctx.store, cmd.group_id)
    today = _today(ctx)
    until = cmd.until_date or today - dt.timedelta(days=1)
    changed = group.remove(ctx.now(), cmd.customer_id, until, today, cmd.reason)
    if changed:
        ctx.store.save(group)
    return MembershipSaved.of(group, cmd.customer_id, changed)
