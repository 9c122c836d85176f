"""`ledger group ...`: customer groups: create, update, delete (only when empty), show, list, assign and remove
members, and the totals read model (billed, paid, outstanding per group)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import Any

from ledger.cli.context import App, Outcome
from ledger.cli.options import given
from ledger.cli.output import money, table
from ledger.commands import AssignMember, CreateGroup, DeleteGroup, RemoveMember, UpdateGroup
from ledger.queries.groups import group_view, list_groups, totals_views

_FIELDS = {"name": "name", "description": "description", "discount_rate": "rate",
           "bill_presentation_media": "bill_media"}


def _today(app: App) -> dt.date:
    return app.ledger.now().astimezone(dt.UTC).date()


def _saved(r: Any, what: str) -> str:
    return (f"customer group {r.group_id} ({r.name}) {what if r.changed else 'unchanged (same values)'}: {r.state}, "
            f"discount {r.discount_rate.normalize():f}%")


def do_create(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(CreateGroup.parse({"group_id": a.group, **given(a, **_FIELDS)}))
    return Outcome(r, _saved(r, "created"))


def do_update(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(UpdateGroup.parse({"group_id": a.group,
                                              **given(a, **_FIELDS, rate_effective_date="rate_from")}))
    return Outcome(r, _saved(r, "updated"))


def do_delete(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(DeleteGroup.parse({"group_id": a.group, **given(a, reason="reason")}))
    return Outcome(r, f"customer group {r.group_id} " + ("deleted" if r.changed else "was already deleted"))


def _memberships(r: Any) -> str:
    spans = [f"{m['from']}..{m['until'] or ''}" for m in r.memberships]
    return ", ".join(spans) or "none"


def do_assign(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(AssignMember.parse({"group_id": a.group, "customer_id": a.customer,
                                               **given(a, from_date="from_date", until_date="until")}))
    what = "assigned" if r.changed else "already assigned so (nothing changed)"
    return Outcome(r, f"customer {r.customer_id} {what} to group {r.group_id}; memberships: {_memberships(r)}")


def do_remove(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(RemoveMember.parse({"group_id": a.group, "customer_id": a.customer,
                                               **given(a, until_date="until", reason="reason")}))
    what = "removed" if r.changed else "had no membership past that day (nothing changed)"
    return Outcome(r, f"customer {r.customer_id} {what} from group {r.group_id}; memberships: {_memberships(r)}")


def do_show(app: App, a: argparse.Namespace) -> Outcome:
    view = group_view(app.ledger.store, a.group, _today(app)).to_dict()
    return Outcome(view, render_group(view))


def do_list(app: App, a: argparse.Namespace) -> Outcome:
    views = [v.to_dict() for v in list_groups(app.ledger.store, _today(app), include_deleted=a.all)]
    rows = [[v["group_id"], v["name"], v["state"], f"{v['discount_rate'].normalize():f}%",
             v["preferences"].get("bill_presentation_media", ""), str(v["current_members"])] for v in views]
    text = table(["GROUP", "NAME", "STATE", "DISCOUNT", "BILL MEDIA", "MEMBERS"], rows) if rows else "no customer groups"
    return Outcome(views, text)


def do_totals(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.bootstrap import local_projection, read_model_db
    from ledger.projections.reader import group_totals

    db = read_model_db(app.settings)
    try:
        if not app.settings.kafka_bootstrap:  # nobody else feeds the read models: bring them up to date first
            local_projection(app.ledger, db)
        rows = [v.to_dict() for v in totals_views(group_totals(db, a.group))]
    finally:
        db.close()
    if a.group and not rows:
        group_view(app.ledger.store, a.group, _today(app))  # an unknown group: its not-found error
    body = [[r["group_id"], r["currency"] or "-", str(r["bills"]),
             *(money(r[k], r["currency"]) if r["currency"] else "0" for k in ("billed", "paid", "outstanding"))]
            for r in rows]
    text = table(["GROUP", "CURRENCY", "BILLS", "BILLED", "PAID", "OUTSTANDING"], body, right=range(2, 6)) \
        if body else "no customer groups"
    return Outcome(rows, text)


def render_group(view: dict[str, Any]) -> str:
    lines = [f"customer group {view['group_id']}: {view['name']} ({view['state']})"]
    if view["description"]:
        lines.append(f"  description      {view['description']}")
    lines.append(f"  discount today   {view['discount_rate'].normalize():f}%")
    for version in view["discount_rates"][1:]:
        lines.append(f"  discount from    {version['from']}: {version['rate']}%")
    for name, value in sorted(view["preferences"].items()):
        lines.append(f"  {name.replace('_', ' '):<16} {value}")
    for m in view["members"]:
        lines.append(f"  member           {m['customer_id']} {m['from_date']}..{m['until_date'] or ''}"
                     + ("  (current)" if m["current"] else ""))
    return "\n".join(lines)


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    g = group("group", "customer groups: a discount on members' recurring charges, preferences, totals")

    def fields(s: argparse.ArgumentParser) -> None:
        s.add_argument("group", help="group id (your reference)")
        s.add_argument("--name", help="the group's name")
        s.add_argument("--description")
        s.add_argument("--discount-rate", dest="rate", help="discount in percent (0 to 100) on members' recurring charges")
        s.add_argument("--bill-media", help="preferred bill presentation media: email, paper, electronic, portal")

    s = leaf(g, "create", do_create, "create a customer group")
    fields(s)
    s = leaf(g, "update", do_update, "update a group: the fields given replace the stored ones")
    fields(s)
    s.add_argument("--rate-from", metavar="DATE", help="the day a new discount rate holds from (default: today)")
    s = leaf(g, "delete", do_delete, "delete a group that has no current or future member")
    s.add_argument("group")
    s.add_argument("--reason")
    s = leaf(g, "show", do_show, "a group: its rules, preferences and memberships")
    s.add_argument("group")
    s = leaf(g, "list", do_list, "every customer group")
    s.add_argument("--all", action="store_true", help="deleted groups too")
    s = leaf(g, "assign", do_assign, "make a customer a member of a group (from a day, until a day)")
    s.add_argument("group")
    s.add_argument("customer")
    s.add_argument("--from", dest="from_date", metavar="DATE", help="first day of the membership (default: today)")
    s.add_argument("--until", metavar="DATE", help="last day of the membership (default: open-ended)")
    s = leaf(g, "remove", do_remove, "end a customer's membership of a group")
    s.add_argument("group")
    s.add_argument("customer")
    s.add_argument("--until", metavar="DATE", help="its last day in the group (default: yesterday)")
    s.add_argument("--reason")
    s = leaf(g, "totals", do_totals, "billed, paid and outstanding per group (the read model; bills by membership "
                                     "on their bill date)")
    s.add_argument("group", nargs="?", help="one group id (default: all)")
