"""`ledger customer ...`: customers (TMF629): create, update (merge), show, search, close, erase personal data."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ledger.cli.context import App, Outcome
from ledger.cli.options import given
from ledger.cli.output import table
from ledger.commands.customers import (
    CloseCustomer,
    CreateCustomer,
    EraseCustomer,
    UpdateCustomer,
    contact_media,
    related_parties,
)
from ledger.queries.customers import customer_view, search_customers


def _contact(a: argparse.Namespace) -> list[dict[str, Any]] | None:
    return contact_media(a.email or [], a.phone or []) or None


def _address(a: argparse.Namespace) -> dict[str, Any] | None:
    address = given(a, street1="street", street2="street2", post_code="post_code", city="city",
                    state_or_province="state", country="country")
    return address or None


def _input(a: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {"customer_id": a.customer, **given(a, name="name")}
    media, address = _contact(a), _address(a)
    if media is not None:
        data["contact_medium"] = media
    if address is not None:
        data["billing_address"] = address
    preferences = given(a, bill_presentation_media="bill_media", language="language")
    if preferences:
        data["preferences"] = preferences
    if a.related:
        data["related_party"] = related_parties(a.related)
    return data


def do_create(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(CreateCustomer.parse({**_input(a), **given(a, party_type="party_type", status="status")}))
    what = "created" if r.changed else "already exists with the same values (nothing changed)"
    return Outcome(r, f"customer {r.customer_id} {what} ({r.status})")


def do_update(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(UpdateCustomer.parse({**_input(a), **given(a, status="status", status_reason="reason")}))
    return Outcome(r, f"customer {r.customer_id} {'updated' if r.changed else 'unchanged (same values)'} ({r.status})")


def do_show(app: App, a: argparse.Namespace) -> Outcome:
    view = customer_view(app.ledger.store, app.ledger.personal, a.customer).to_dict()
    return Outcome(view, render_customer(view))


def do_search(app: App, a: argparse.Namespace) -> Outcome:
    page = search_customers(app.ledger.store, app.ledger.personal, a.text, limit=a.limit, offset=a.offset).to_dict()
    rows = [[c["customer_id"], c["name"], _first(c, "email"), _first(c, "phone"), c["status"]] for c in page["customers"]]
    many = f"{page['total']}" if page["total_exact"] else f"at least {page['total']:,}"
    head = f"{many} customer(s) match {page['query']!r}; showing {page['offset'] + 1 if rows else 0}" \
           f"-{page['offset'] + len(rows)}"
    return Outcome(page, head + ("\n" + table(["CUSTOMER", "NAME", "EMAIL", "PHONE", "STATUS"], rows) if rows else ""))


def do_close(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(CloseCustomer.parse({"customer_id": a.customer, **given(a, reason="reason")}))
    return Outcome(r, f"customer {r.customer_id} is {r.status}" + ("" if r.changed else " (already)"))


def do_erase(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(EraseCustomer.parse({"customer_id": a.customer, **given(a, reason="reason")}))
    what = "closed and its personal data erased" if r.erased else "was already erased (nothing changed)"
    return Outcome(r, f"customer {r.customer_id} {what}")


def _first(view: dict[str, Any], kind: str) -> str:
    key = {"email": "email_address", "phone": "phone_number"}[kind]
    return next((m[key] for m in view["contact_medium"] if m["medium_type"] == kind), "")


def render_customer(view: dict[str, Any]) -> str:
    lines = [f"customer {view['customer_id']} ({view['party_type']}): {view['status']}"
             + ("  [personal data erased]" if view["erased"] else ""),
             f"  name             {view['name']}"]
    for medium in view["contact_medium"]:
        value = medium.get("email_address") or medium.get("phone_number") or _one_line(medium.get("address") or {})
        lines.append(f"  {medium['medium_type']:<16} {value}" + ("  (preferred)" if medium.get("preferred") else ""))
    if view["billing_address"]:
        lines.append(f"  billing address  {_one_line(view['billing_address'])}")
    for name, value in sorted(view["preferences"].items()):
        lines.append(f"  {name.replace('_', ' '):<16} {value}")
    for party in view["related_party"]:
        lines.append(f"  related party    {party['role']}: {party['id']}")
    return "\n".join(lines)


def _one_line(address: dict[str, Any]) -> str:
    parts = [address.get(k) for k in ("street1", "street2", "post_code", "city", "state_or_province", "country")]
    return ", ".join(p for p in parts if p)


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    g = group("customer", "customers (TMF629); personal data is stored encrypted and can be erased")

    def fields(s: argparse.ArgumentParser) -> None:
        s.add_argument("customer", help="customer id (your reference)")
        s.add_argument("--name", help="the customer's name (personal data)")
        s.add_argument("--email", action="append", help="email address (repeatable; the first is preferred)")
        s.add_argument("--phone", action="append", help="phone number (repeatable)")
        for opt, dest in [("street", "street"), ("street2", "street2"), ("post-code", "post_code"), ("city", "city"),
                          ("state", "state"), ("country", "country")]:
            s.add_argument(f"--{opt}", dest=dest, help=f"billing address: {opt} (country: ISO 3166 alpha-2)")
        s.add_argument("--bill-media", help="preferred bill presentation media: email, paper, electronic, portal")
        s.add_argument("--language", help="preferred language, e.g. fr or fr-FR")
        s.add_argument("--related", action="append", metavar="ROLE:ID", help="a related party (repeatable)")
        s.add_argument("--status", help="initialized or approved (update: also suspended)")

    s = leaf(g, "create", do_create, "create a customer")
    fields(s)
    s.add_argument("--party-type", help="individual (default) or organization")
    s = leaf(g, "update", do_update, "update a customer: the fields given replace the stored ones")
    fields(s)
    s.add_argument("--reason", help="why the status changed")
    s = leaf(g, "show", do_show, "a customer, its personal data opened (or shown as erased)")
    s.add_argument("customer")
    s = leaf(g, "search", do_search, "search customers by id, name, email or phone (case and accents ignored)")
    s.add_argument("text")
    s.add_argument("--limit", type=int, default=20, help="page size (default 20, at most 500)")
    s.add_argument("--offset", type=int, default=0, help="matches to skip (paging)")
    s = leaf(g, "close", do_close, "close a customer")
    s.add_argument("customer")
    s.add_argument("--reason")
    s = leaf(g, "erase", do_erase, "close a customer and erase its personal data for good (TMF629 delete)")
    s.add_argument("customer")
    s.add_argument("--reason")
