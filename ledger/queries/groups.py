"""Customer groups as entry points show them: one group (rules, preferences, memberships), the list, and the totals
read model's rows shaped for output (billed, paid, outstanding per group and currency)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ledger.aggregates.customer_group import CustomerGroup
from ledger.aggregates.money import at_minor_unit
from ledger.commands.groups import all_groups, load_group
from ledger.ports import AggregateStore
from ledger.queries.views import View


class MemberView(View):
    customer_id: str
    from_date: str
    until_date: str | None
    current: bool


class GroupView(View):
    group_id: str
    name: str
    description: str
    state: str
    discount_rate: Decimal
    discount_rates: list[dict[str, str]]
    preferences: dict[str, str]
    members: list[MemberView]
    current_members: int
    version: int


class GroupTotalsView(View):
    """One group's bills in one currency: billed (amount due), paid (what payments and credits covered) and
    outstanding (what remains), and how many bills."""

    group_id: str
    name: str
    currency: str | None
    bills: int
    billed: Decimal
    paid: Decimal
    outstanding: Decimal


def view_of(group: CustomerGroup, today: date) -> GroupView:
    members = [MemberView(customer_id=c, from_date=f.isoformat(), until_date=u.isoformat() if u else None,
                          current=f <= today and (u is None or today <= u))
               for c, f, u in sorted(group.memberships(), key=lambda m: (m[0], m[1]))]
    rates = [{"from": v["from"], "rate": v["rate"]} for v in group.rates]
    rates[0]["from"] = ""  # the first version holds from the beginning
    return GroupView(group_id=group.group_ref, name=group.name, description=group.description, state=group.state,
                     discount_rate=group.rate_on(today), discount_rates=rates, preferences=dict(group.preferences),
                     members=members, current_members=sum(m.current for m in members), version=group.version)


def group_view(store: AggregateStore, group_ref: str, today: date) -> GroupView:
    return view_of(load_group(store, group_ref), today)


def list_groups(store: AggregateStore, today: date, include_deleted: bool = False) -> list[GroupView]:
    return [view_of(g, today) for g in all_groups(store) if include_deleted or not g.is_deleted]


def totals_views(rows: list[dict[str, Any]]) -> list[GroupTotalsView]:
    """The totals read model's rows (see `projections.reader.group_totals`), amounts at the currency's minor unit."""
    return [GroupTotalsView(group_id=r["group_ref"], name=r["name"] or "", currency=r["currency"], bills=int(r["bills"]),
                            **{k: at_minor_unit(Decimal(r[k]), r["currency"]) if r["currency"] else Decimal(r[k])
                               for k in ("billed", "paid", "outstanding")})
            for r in rows]
