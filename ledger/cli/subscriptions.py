"""`ledger offering ...` (TMF620 product offerings: create, price, lifecycle, list, show), `ledger price list`
and `ledger subscription ...` (TMF637 products). The lists select from the read models, as the HTTP lists do
(ledger.projections.listing), and show each item as it stands in the event store (ledger.queries)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from ledger.aggregates.product_offering import LIFECYCLE_STATUSES
from ledger.cli.context import App, Outcome
from ledger.cli.options import given
from ledger.cli.output import money, table
from ledger.commands import (
    AddOfferingPrice,
    ChangeOfferingLifecycle,
    ChangeSubscription,
    CreateProductOffering,
    CreateSubscription,
    ResumeSubscription,
    SuspendSubscription,
    TerminateSubscription,
)
from ledger.commands.base import Command
from ledger.projections.listing import select_offerings, select_prices, select_subscriptions
from ledger.queries.catalogue import offering_view, price_view
from ledger.queries.subscriptions import subscription_view

SUBSCRIPTION_STATUSES = ("created", "active", "suspended", "terminated")


def _price(a: argparse.Namespace) -> dict[str, Any]:
    return given(a, price_id="price_id", price_type="type", currency="currency", amount="amount",
                 recurring_period="period", timing="timing", tax_category="tax_category", tax_rate="tax_rate",
                 unit_of_measure="unit", valid_from="valid_from", valid_to="valid_to")


def do_offering_create(app: App, a: argparse.Namespace) -> Outcome:
    prices = [_price(a)] if a.price_id else []
    r = app.ledger.execute(CreateProductOffering.parse({"offering_id": a.offering, "prices": prices,
                                                        **given(a, name="name", description="description")}))
    return Outcome(r, f"product offering {r.offering_id} {'created' if r.changed else 'unchanged'}; prices: "
                      f"{', '.join(r.prices) or 'none'}")


def do_offering_price(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(AddOfferingPrice.parse({"offering_id": a.offering, "price": _price(a)}))
    return Outcome(r, f"product offering {r.offering_id}: price {a.price_id} {'added' if r.changed else 'unchanged'}")


def do_offering_lifecycle(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(ChangeOfferingLifecycle.parse({"offering_id": a.offering, "status": a.status,
                                                          **given(a, reason="reason")}))
    what = f"{r.from_status} -> {r.status}" if r.changed else f"already {r.status} (nothing changed)"
    return Outcome(r, f"product offering {r.offering_id}: {what}; " + ("sellable" if r.sellable else "not sellable"))


def _page(what: str, items: list[dict[str, Any]], total: int, a: argparse.Namespace) -> dict[str, Any]:
    return {"total": total, "offset": a.offset, "limit": a.limit, what: items}


def _shown(total: int, count: int, a: argparse.Namespace, what: str) -> str:
    return f"{total} {what}; showing {a.offset + 1 if count else 0}-{a.offset + count}"


def do_offering_list(app: App, a: argparse.Namespace) -> Outcome:
    with app.read_models() as db:
        refs, total = select_offerings(db, equal={"lifecycle_status": a.status}, offset=a.offset, limit=a.limit)
    views = [offering_view(app.ledger.store, r).to_dict() for r in refs]
    rows = [[v["offering_id"], v["name"], v["lifecycle_status"], "yes" if v["sellable"] else "no",
             ", ".join(p["price_id"] for p in v["prices"]) or "-"] for v in views]
    text = _shown(total, len(rows), a, "product offering(s)")
    if rows:
        text += "\n" + table(["OFFERING", "NAME", "STATUS", "SELLABLE", "PRICES"], rows)
    return Outcome(_page("offerings", views, total, a), text)


def _price_row(p: dict[str, Any], today: date, current: dict[str, Any]) -> list[str]:
    return [f"{p['offering_id']}:{p['price_id']}", p["price_type"], p["recurring_period"] or "-", p["timing"] or "-",
            money(current["amount"], p["currency"]), p["currency"], current["valid_from"], current["valid_to"] or "",
            str(len(p["versions"]))]


_PRICE_HEAD = ["PRICE", "TYPE", "PERIOD", "TIMING", "AMOUNT", "CURRENCY", "FROM", "TO", "VERSIONS"]


def do_offering_show(app: App, a: argparse.Namespace) -> Outcome:
    view = offering_view(app.ledger.store, a.offering)
    today = app.ledger.now().date()
    lines = [f"product offering {view.offering_id}: {view.name} ({view.lifecycle_status}, "
             f"{'sellable' if view.sellable else 'not sellable'})"]
    if view.description:
        lines.append(f"  {view.description}")
    rows = [_price_row(p.to_dict(), today, p.current_version(today)) for p in view.prices]
    lines.append(table(_PRICE_HEAD, rows) if rows else "  no prices")
    return Outcome(view.to_dict(), "\n".join(lines))


def do_price_list(app: App, a: argparse.Namespace) -> Outcome:
    with app.read_models() as db:
        found, total = select_prices(db, equal={"offering_ref": a.offering, "price_type": a.type}, offset=a.offset,
                                     limit=a.limit)
    today = app.ledger.now().date()
    views = [price_view(app.ledger.store, o, p) for o, p in found]
    rows = [_price_row(v.to_dict(), today, v.current_version(today)) for v in views]
    text = _shown(total, len(rows), a, "price(s)") + ("\n" + table(_PRICE_HEAD, rows) if rows else "")
    return Outcome(_page("prices", [v.to_dict() for v in views], total, a), text)


def do_subscription_list(app: App, a: argparse.Namespace) -> Outcome:
    now = app.ledger.now()

    def today_in(zone: str) -> date:
        return now.astimezone(ZoneInfo(zone)).date()

    with app.read_models() as db:
        refs, total = select_subscriptions(db, equal={"account_ref": a.account}, within=None, status=a.status,
                                           offering=a.offering, today_in=today_in, offset=a.offset, limit=a.limit)
    views = [subscription_view(app.ledger.store, app.ledger.now, r).to_dict() for r in refs]
    rows = [[v["subscription_id"], v["account_id"], v["offering_id"], str(v["quantity"]), v["status"],
             v["start_date"], v["end_date"] or "", v["reconciled_until"] or ""] for v in views]
    text = _shown(total, len(rows), a, "subscription(s)")
    if rows:
        text += "\n" + table(["SUBSCRIPTION", "ACCOUNT", "OFFERING", "QTY", "STATUS", "START", "END", "BILLED TO"],
                             rows, right=[3])
    return Outcome(_page("subscriptions", views, total, a), text)


def do_subscription_show(app: App, a: argparse.Namespace) -> Outcome:
    v = subscription_view(app.ledger.store, app.ledger.now, a.subscription)
    lines = [f"subscription {v.subscription_id} of account {v.account_id}: {v.offering_id} x{v.quantity}, {v.status} "
             f"today ({v.today}), from {v.start_date}" + (f" until {v.end_date}" if v.end_date else "")]
    if v.reconciled_until:
        lines.append(f"  billed up to     {v.reconciled_until}")
    for phase in v.phases:
        lines.append(f"  from {phase['from']}  {phase['offering']} x{phase['quantity']} {phase['state']}")
    return Outcome(v.to_dict(), "\n".join(lines))


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"a whole number from {low} to {high}")
        return int(text)

    return parse


def _paging(s: argparse.ArgumentParser) -> None:
    s.add_argument("--limit", type=_count(1, 1000), default=50, help="page size (default 50, at most 1000)")
    s.add_argument("--offset", type=_count(0, 10**9), default=0, help="items to skip (paging)")


def _render(r: Any) -> str:
    end = f" until {r.end_date}" if r.end_date else ""
    return (f"subscription {r.subscription_id} of account {r.account_id}: {r.offering_id} x{r.quantity}, "
            f"{r.status}, from {r.start_date}{end}" + ("" if r.changed else " (nothing changed)"))


def _run(model: type[Command], fields: dict[str, str]) -> Callable[[App, argparse.Namespace], Outcome]:
    def run(app: App, a: argparse.Namespace) -> Outcome:
        data = {"subscription_id": a.subscription, **given(a, **fields)}
        if getattr(a, "at_period_end", False):
            data["at_period_end"] = True
        r = app.ledger.execute(model.parse(data))
        return Outcome(r, _render(r))

    return run


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    g = group("offering", "product offerings and their prices (TMF620)")

    def price_options(s: argparse.ArgumentParser) -> None:
        s.add_argument("--price-id", help="the price's id within the offering, e.g. monthly")
        s.add_argument("--type", help="recurring, oneTime or usage")
        s.add_argument("--currency", help="ISO 4217 code")
        s.add_argument("--amount", help="tax-excluded amount (per period, once, or per unit)")
        s.add_argument("--period", help="recurring: monthly, quarterly or annual")
        s.add_argument("--timing", help="recurring: advance or arrears")
        s.add_argument("--tax-category", help="e.g. VAT")
        s.add_argument("--tax-rate", help="percent, e.g. 20")
        s.add_argument("--unit", help="usage: unit of measure")
        s.add_argument("--valid-from", help="first day the price (version) is valid")
        s.add_argument("--valid-to", help="last day it is valid (default: open-ended)")

    s = leaf(g, "create", do_offering_create, "create a product offering, optionally with its first price")
    s.add_argument("offering")
    s.add_argument("--name")
    s.add_argument("--description")
    price_options(s)
    s = leaf(g, "price", do_offering_price, "add a price, or a new version of one (from a future day)")
    s.add_argument("offering")
    price_options(s)
    s = leaf(g, "lifecycle", do_offering_lifecycle, "move an offering's TMF620 lifecycle status (only Active and "
                                                   "Launched offerings are sold)")
    s.add_argument("offering")
    s.add_argument("--status", required=True, choices=LIFECYCLE_STATUSES, help="the new status")
    s.add_argument("--reason")
    s = leaf(g, "list", do_offering_list, "product offerings in the order they were created (from the read models)")
    s.add_argument("--status", choices=LIFECYCLE_STATUSES, help="only those with this lifecycle status")
    _paging(s)
    s = leaf(g, "show", do_offering_show, "an offering: its status and its prices (the version valid today)")
    s.add_argument("offering")

    g = group("price", "prices of product offerings (TMF620 productOfferingPrice)")
    s = leaf(g, "list", do_price_list, "prices by offering then price id (from the read models)")
    s.add_argument("--offering", help="only this offering's")
    s.add_argument("--type", choices=("recurring", "oneTime", "usage"))
    _paging(s)

    g = group("subscription", "subscriptions of billing accounts to offerings (TMF637 product)")
    s = leaf(g, "create", _run(CreateSubscription, {"account_id": "account", "offering_id": "offering",
                                                    "quantity": "quantity", "start_date": "start",
                                                    "end_date": "end"}), "subscribe an account to an offering")
    s.add_argument("subscription", help="subscription id (your reference)")
    s.add_argument("--account")
    s.add_argument("--offering")
    s.add_argument("--quantity", help="a positive integer (default 1)")
    s.add_argument("--start", help="first day served (the account's local day)")
    s.add_argument("--end", help="last day served (default: until terminated)")
    s = leaf(g, "change", _run(ChangeSubscription, {"offering_id": "offering", "quantity": "quantity",
                                                    "effective_date": "effective"}),
             "change offering and/or quantity from a day (or at the end of its billing period)")
    s.add_argument("subscription")
    s.add_argument("--offering")
    s.add_argument("--quantity")
    s.add_argument("--effective", help="first day of the change")
    s.add_argument("--at-period-end", action="store_true", help="from the billing period after the effective day")
    for name, model, text in [("suspend", SuspendSubscription, "no recurring charges from a day"),
                              ("resume", ResumeSubscription, "recurring charges again from a day")]:
        s = leaf(g, name, _run(model, {"effective_date": "effective", "reason": "reason"}), text)
        s.add_argument("subscription")
        s.add_argument("--effective")
        s.add_argument("--reason")
    s = leaf(g, "terminate", _run(TerminateSubscription, {"end_date": "end", "reason": "reason"}),
             "cancel a subscription: its last day served")
    s.add_argument("subscription")
    s.add_argument("--end", help="last day served")
    s.add_argument("--at-period-end", action="store_true", help="serve to the end of that day's billing period")
    s.add_argument("--reason")
    s = leaf(g, "list", do_subscription_list, "subscriptions in the order they were made (from the read models; "
                                             "status and offering as of today in each account's time zone)")
    s.add_argument("--account", help="only this billing account's")
    s.add_argument("--status", choices=SUBSCRIPTION_STATUSES)
    s.add_argument("--offering", help="only those on this offering today")
    _paging(s)
    s = leaf(g, "show", do_subscription_show, "a subscription: status today and its phases")
    s.add_argument("subscription")
