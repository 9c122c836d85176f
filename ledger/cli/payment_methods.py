"""`ledger payment-method add|disable|list|show`: payment methods (TMF670) of customers and billing accounts.

Only masked details are ever printed (brand, last four digits, expiry, a masked IBAN); the gateway token is shown by
its last four characters only. A full card number is never taken: given in any option (or as --card-number) it is
refused with the option named and without repeating the number.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ledger.cli.context import App, Outcome
from ledger.cli.options import given
from ledger.cli.output import table
from ledger.commands import ChangeAccountTerms
from ledger.commands.payment_methods import AS_PAID_WITH, AddPaymentMethod, DisablePaymentMethod, holds_full_pan
from ledger.errors import InvalidInput
from ledger.queries.payment_methods import PaymentMethodView, payment_method_view

CARD_REFUSED = "a full card number is refused: give --brand, --last4, --expiry and the gateway's --token"
_ADD_OPTIONS = {"method_id": "method", "customer_id": "customer", "account_id": "account", "type": "type",
                "name": "name", "card_brand": "brand", "card_last4": "last4", "expiry": "expiry", "iban": "iban",
                "gateway_token": "token"}


def _refuse_card_numbers(a: argparse.Namespace) -> None:
    """InvalidInput naming the option that holds a full card number (never the number itself)."""
    options = a.__dict__.get("cli_options", {})
    if a.card_number is not None:
        raise InvalidInput(f"--card-number: {CARD_REFUSED}", option="--card-number")
    for attr in _ADD_OPTIONS.values():
        value = getattr(a, attr, None)
        if isinstance(value, str) and attr != "iban" and holds_full_pan(value):
            option = options.get(attr, attr)
            raise InvalidInput(f"{option}: {CARD_REFUSED}", option=option)


def shown(view: PaymentMethodView) -> dict[str, Any]:
    """A method as the CLI prints it: the view with the gateway token cut to its last four characters."""
    doc = view.to_dict()
    token = doc.pop("gateway_token")
    doc["gateway_token_end"] = token[-4:] if token else None
    return doc


def do_add(app: App, a: argparse.Namespace) -> Outcome:
    _refuse_card_numbers(a)
    r = app.ledger.execute(AddPaymentMethod.parse(given(a, **_ADD_OPTIONS)))
    if a.default:
        if r.owner_type != "billingAccount":
            raise InvalidInput("--default: only a billing account's payment method is its default", option="--default")
        app.ledger.execute(ChangeAccountTerms.parse({
            "account_id": r.owner_id, "default_payment_method": {"id": r.method_id, "type": AS_PAID_WITH[r.type]},
            "reason": "default payment method"}))
    view = shown(payment_method_view(app.ledger.store, app.ledger.now, r.method_id))
    what = "added" if r.changed else "already exists with the same values (nothing changed)"
    return Outcome(view, f"payment method {r.method_id} {what}\n{render_method(view)}")


def do_disable(app: App, a: argparse.Namespace) -> Outcome:
    r = app.ledger.execute(DisablePaymentMethod.parse(given(a, method_id="method", reason="reason")))
    view = shown(payment_method_view(app.ledger.store, app.ledger.now, r.method_id))
    what = "disabled" if r.changed else "was already disabled (nothing changed)"
    return Outcome(view, f"payment method {r.method_id} {what}")


def do_show(app: App, a: argparse.Namespace) -> Outcome:
    view = shown(payment_method_view(app.ledger.store, app.ledger.now, a.method))
    return Outcome(view, render_method(view))


def do_list(app: App, a: argparse.Namespace) -> Outcome:
    from ledger.projections.listing import select_payment_methods

    owners = None
    if a.account or a.customer:
        owners = {("billingAccount", x) for x in a.account or ()} | {("customer", x) for x in a.customer or ()}
    ledger = app.ledger
    with app.read_models() as db:
        refs, total = select_payment_methods(db, owners=owners, method_type=a.type, status=a.status,
                                             today=ledger.now().date(), offset=max(a.offset, 0),
                                             limit=max(min(a.limit, 500), 1))
    views = [shown(payment_method_view(ledger.store, ledger.now, ref)) for ref in refs]
    rows = [[v["method_id"], v["type"], f"{v['owner_type']} {v['owner_id']}", _details(v), v["status"],
             "yes" if v["is_default"] else ""] for v in views]
    head = f"{total} payment method(s); showing {a.offset + 1 if rows else 0}-{a.offset + len(rows)}"
    text = head + ("\n" + table(["METHOD", "TYPE", "OWNER", "DETAILS", "STATUS", "DEFAULT"], rows) if rows else "")
    return Outcome({"total": total, "offset": a.offset, "payment_methods": views}, text)


def _details(view: dict[str, Any]) -> str:
    m = view["masked"]
    parts = [m.get("brand"), f"**** {m['last4']}" if m.get("last4") else None, m.get("expiry"), m.get("iban")]
    return " ".join(p for p in parts if p)


def render_method(view: dict[str, Any]) -> str:
    lines = [f"payment method {view['method_id']} ({view['type']}): {view['status']}"
             + ("  [default of its account]" if view["is_default"] else ""),
             f"  owner            {view['owner_type']} {view['owner_id']}"]
    if view["name"]:
        lines.append(f"  name             {view['name']}")
    if _details(view):
        lines.append(f"  details          {_details(view)}")
    if view["valid_to"]:
        lines.append(f"  valid to         {view['valid_to']}")
    if view["gateway_token_end"]:
        lines.append(f"  gateway token    ...{view['gateway_token_end']}")
    if view["status_reason"]:
        lines.append(f"  status reason    {view['status_reason']}")
    return "\n".join(lines)


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    g = group("payment-method", "payment methods (TMF670): masked details and a gateway token, never a card number")
    s = leaf(g, "add", do_add, "add a payment method for a billing account or a customer (idempotent by its id)")
    s.add_argument("method", help="payment method id (your reference)")
    owner = s.add_mutually_exclusive_group(required=True)
    owner.add_argument("--account", help="the billing account that owns it")
    owner.add_argument("--customer", help="the customer that owns it")
    s.add_argument("--type", required=True, help="bankCard, bankAccountDebit, check, cash, voucher, loyaltyAccount, "
                                                 "thirdParty or digitalWallet")
    s.add_argument("--name", help="display name")
    s.add_argument("--brand", help="card brand, e.g. visa")
    s.add_argument("--last4", help="the card's last four digits")
    s.add_argument("--expiry", help="the card's expiry MM/YYYY")
    s.add_argument("--token", help="the payment gateway's token for the card")
    s.add_argument("--iban", help="bankAccountDebit: the IBAN (checked, kept masked, sealed with the customer's key)")
    s.add_argument("--card-number", help=argparse.SUPPRESS)  # refused: named so the refusal can say what to give
    s.add_argument("--default", action="store_true", help="make it its billing account's default payment method")
    s = leaf(g, "disable", do_disable, "disable a payment method for good (an account's default is no longer one)")
    s.add_argument("method")
    s.add_argument("--reason")
    s = leaf(g, "show", do_show, "a payment method (masked details only)")
    s.add_argument("method")
    s = leaf(g, "list", do_list, "payment methods in the order they were added (from the read models)")
    s.add_argument("--account", action="append", help="of this billing account (repeatable)")
    s.add_argument("--customer", action="append", help="of this customer (repeatable)")
    s.add_argument("--type", help="only this type")
    s.add_argument("--status", choices=["active", "disabled", "expired"], help="only this status today")
    s.add_argument("--limit", type=int, default=50, help="page size (default 50, at most 500)")
    s.add_argument("--offset", type=int, default=0, help="methods to skip (paging)")
