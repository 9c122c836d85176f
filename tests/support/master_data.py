"""Building the master-data aggregates (customers, catalogue, subscriptions, payment methods, groups) directly,
without a store: every one of their event types, for the contract tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.aggregates import ids
from ledger.aggregates.customer import CLOSED, Customer
from ledger.aggregates.customer_group import CustomerGroup
from ledger.aggregates.payment_method import PaymentMethod
from ledger.aggregates.product_offering import ProductOffering
from ledger.aggregates.subscription import Subscription

MASTER_DATA_AGGREGATES: tuple[type, ...] = (Customer, ProductOffering, Subscription, PaymentMethod, CustomerGroup)
MONTHLY = {"price_type": "recurring", "currency": "EUR", "recurring_period": "monthly", "timing": "advance",
           "tax_category": "VAT", "tax_rate": "20", "unit_of_measure": None}

SEALED = "v1.c2VhbGVkLXZhbHVlLW5vdC1pbi1jbGVhcg"  # what a sealed value looks like (never the clear text)


def new_customer(at: datetime, ref: str = "CUST-ACME") -> Customer:
    return Customer.register(at, id=ids.customer_id(ref), customer_ref=ref, party_type="organization",
                             status="approved", personal={"name": SEALED, "contact_medium": SEALED},
                             preferences={"language": "fr"}, related_parties=[{"id": "CUST-PARENT", "role": "parent"}])


def master_data_events(clock: Callable[[], datetime], account: Any) -> list[tuple[Any, UUID | None]]:
    """(event, its billing account id or None) of every master-data event type, each at its own moment."""
    customer = new_customer(clock())
    customer.update(clock(), personal={"billing_address": SEALED}, preferences={"bill_presentation_media": "email"},
                    related_parties=[])
    customer.change_status(clock(), CLOSED, "left")
    customer.erase(clock(), "request 42")
    offering = ProductOffering.create(clock(), id=ids.offering_id("BASIC"), offering_ref="BASIC", name="Basic",
                                      description="basic plan")
    offering.add_price_version(clock(), price_id="monthly", terms=MONTHLY, amount=Decimal("31.00"),
                               valid_from=date(2026, 1, 1), valid_to=None)
    offering.change_lifecycle(clock(), "Launched", "go to market")
    sub = Subscription.create(clock(), id=ids.subscription_id("S-1"), subscription_ref="S-1",
                              account_ref=account.account_ref, account_id=account.id, offering_ref="BASIC", quantity=2,
                              start_date=date(2026, 10, 15), end_date=None)
    sub.record_charges(clock(), date(2026, 10, 31), [{
        "key": "2026-10-01|BASIC/monthly", "charge_id": "rc:S-1:2026-10-01|BASIC/monthly",
        "entry_id": "rc:S-1:2026-10-01|BASIC/monthly", "tax_excluded": "34.000000", "tax_amount": "6.800000",
        "corrections": "0", "period_start": "2026-10-01", "period_end": "2026-10-31", "version": "1", "days": "31",
        "tax_category": "VAT", "tax_rate": "20"}])
    sub.change(clock(), effective=date(2026, 11, 16), offering_ref="BASIC", quantity=3)
    sub.suspend(clock(), date(2026, 11, 20), "holiday")
    sub.record_discounts(clock(), [{
        "key": "2026-10-01|BASIC/monthly", "credit_id": "gd:rc:S-1:2026-10-01|BASIC/monthly",
        "entry_id": "gd:rc:S-1:2026-10-01|BASIC/monthly", "tax_excluded": "3.400000", "tax_amount": "0.680000",
        "corrections": "0"}])
    events = [(event, None) for aggregate in (customer, offering) for event in aggregate.collect_events()]
    method = PaymentMethod.add(clock(), id=ids.payment_method_id("PM-1"), method_ref="PM-1", owner_type="billingAccount",
                               owner_ref=account.account_ref, method_type="bankAccountDebit", name="main account",
                               masked={"iban": "DE89**************3000"}, sealed={"iban": SEALED}, gateway_token=None,
                               valid_to=date(2030, 12, 31))
    method.disable(clock(), "closed")
    events += [(event, None) for event in method.collect_events()]
    today = date(2026, 10, 1)
    group = CustomerGroup.create(clock(), id=ids.group_id("GOLD"), group_ref="GOLD", name="Gold", description="best",
                                 discount_rate=Decimal("10"), preferences={"bill_presentation_media": "email"})
    group.update(clock(), name="Gold customers", description=None, preferences={"bill_presentation_media": "paper"})
    group.change_rate(clock(), Decimal("12.5"), date(2026, 11, 1), today)
    group.assign(clock(), "CUST-ACME", date(2026, 10, 15), None, today)
    group.remove(clock(), "CUST-ACME", date(2026, 12, 31), today, "moved")
    group.delete(clock(), date(2027, 1, 1), "closed")
    events += [(event, None) for event in group.collect_events()]
    return events + [(event, account.id) for event in sub.collect_events()]


# ---------------------------------------------------------------- through a ledger (commands)


def recurring_price(amount: str, *, price_id: str = "monthly", timing: str = "advance", period: str = "monthly",
                    currency: str = "EUR", tax_rate: str | None = "20", valid_from: str = "2026-01-01",
                    **extra: Any) -> dict[str, Any]:
    price = {"price_id": price_id, "price_type": "recurring", "currency": currency, "amount": amount,
             "recurring_period": period, "timing": timing, "valid_from": valid_from, **extra}
    if tax_rate is not None:
        price |= {"tax_category": "VAT", "tax_rate": tax_rate}
    return price


def define_offering(ledger: Any, ref: str, *prices: dict[str, Any]) -> Any:
    from ledger.commands import CreateProductOffering

    return ledger.execute(CreateProductOffering.parse({"offering_id": ref, "name": ref.title(), "prices": list(prices)}))


def subscribe(ledger: Any, ref: str, account: str, offering: str, start: str, **extra: Any) -> Any:
    from ledger.commands import CreateSubscription

    return ledger.execute(CreateSubscription.parse({"subscription_id": ref, "account_id": account,
                                                    "offering_id": offering, "start_date": start, **extra}))


def bill_lines(ledger: Any, account: str, number: str) -> list[tuple[str, str, str]]:
    """(kind, charge id, tax-excluded) of a bill's items, in order."""
    from ledger.queries.bills import bill_view

    return [(i["kind"], i["charge_id"], i["tax_excluded"])
            for i in bill_view(ledger.store, ledger.now, account, number).to_dict()["items"]]


def create_customer(ledger: Any, ref: str, name: str = "A customer") -> Any:
    from ledger.commands import CreateCustomer

    return ledger.execute(CreateCustomer.parse({"customer_id": ref, "name": name}))


def create_group(ledger: Any, ref: str, rate: str = "10", **extra: Any) -> Any:
    from ledger.commands import CreateGroup

    return ledger.execute(CreateGroup.parse({"group_id": ref, "name": ref.title(), "discount_rate": rate, **extra}))


def assign(ledger: Any, group: str, customer: str, start: str, until: str | None = None) -> Any:
    from ledger.commands import AssignMember

    return ledger.execute(AssignMember.parse({"group_id": group, "customer_id": customer, "from_date": start,
                                              **({"until_date": until} if until else {})}))


def apply_moves(sub: Subscription, at: datetime, start: date, moves: list[tuple[int, str, int]],
                offerings: str = "") -> None:
    """Apply drawn moves (days after `start`, move, value) to a subscription in day order: "qty" sets the quantity,
    "offering" (when `offerings` names some) changes to offerings[value % len], "suspend", "resume", and any other
    terminates; a move the rules refuse changes nothing and is passed over."""
    for offset, move, value in sorted(moves):
        day = start + timedelta(days=offset)
        try:
            if move == "qty":
                sub.change(at, effective=day, offering_ref=sub.phases[-1]["offering"], quantity=value)
            elif move == "offering" and offerings:
                sub.change(at, effective=day, offering_ref=offerings[value % len(offerings)],
                           quantity=sub.phases[-1]["quantity"])
            elif move == "suspend":
                sub.suspend(at, day, "")
            elif move == "resume":
                sub.resume(at, day, "")
            else:
                sub.terminate(at, day, "")
        except Exception:  # noqa: BLE001  (a move the rules refuse changes nothing)
            continue
