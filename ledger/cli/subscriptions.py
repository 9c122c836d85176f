"""`ledger offering ...` (TMF620 product offerings and prices) and `ledger subscription ...` (TMF637 products)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ledger.cli.context import App, Outcome
from ledger.cli.options import given
from ledger.commands import (
    AddOfferingPrice,
    ChangeSubscription,
    CreateProductOffering,
    CreateSubscription,
    ResumeSubscription,
    SuspendSubscription,
    TerminateSubscription,
)
from ledger.commands.base import Command


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
