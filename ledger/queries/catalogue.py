"""Product offerings and their prices (TMF620) as entry points show them: one offering, every offering, one price."""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.utils import get_topic

from ledger.aggregates.product_offering import ProductOffering
from ledger.commands.catalogue import load_offering
from ledger.errors import PriceNotFound
from ledger.ports import AggregateStore
from ledger.queries.views import View


class PriceView(View):
    """One price of an offering with its versions (amount and validity each), oldest first."""

    offering_id: str
    price_id: str
    price_type: str
    currency: str
    recurring_period: str | None
    timing: str | None
    tax_category: str | None
    tax_rate: str | None
    unit_of_measure: str | None
    versions: list[dict[str, Any]]

    def current_version(self, today: date) -> dict[str, Any]:
        """The version valid today, or else the next one, or else the last one."""
        day = today.isoformat()
        return next((v for v in self.versions if (v["valid_to"] or "9999") >= day), self.versions[-1])


class OfferingView(View):
    offering_id: str
    name: str
    description: str
    lifecycle_status: str
    sellable: bool
    created_at: str
    last_modified: str
    version: int
    prices: list[PriceView]


def _price(offering: ProductOffering, price_id: str) -> PriceView:
    price = offering.prices[price_id]
    return PriceView(offering_id=offering.offering_ref, price_id=price_id, price_type=price["price_type"],
                     currency=price["currency"], recurring_period=price.get("recurring_period"),
                     timing=price.get("timing"), tax_category=price.get("tax_category"),
                     tax_rate=price.get("tax_rate"), unit_of_measure=price.get("unit_of_measure"),
                     versions=[dict(v) for v in price["versions"]])


def view_of(offering: ProductOffering) -> OfferingView:
    return OfferingView(offering_id=offering.offering_ref, name=offering.name, description=offering.description,
                        lifecycle_status=offering.lifecycle_status, sellable=offering.sellable,
                        created_at=offering.created_on.isoformat(), last_modified=offering.modified_on.isoformat(),
                        version=offering.version, prices=[_price(offering, p) for p in sorted(offering.prices)])


def offering_view(store: AggregateStore, offering_ref: str) -> OfferingView:
    return view_of(load_offering(store, offering_ref))


def price_view(store: AggregateStore, offering_ref: str, price_id: str) -> PriceView:
    offering = load_offering(store, offering_ref)
    if price_id not in offering.prices:
        raise PriceNotFound(f"price {price_id!r} of product offering {offering_ref!r} not found",
                            offering=offering_ref, price=price_id)
    return _price(offering, price_id)


def offering_refs(store: AggregateStore) -> list[str]:
    """Every offering's id, in the order they were created (from their creation events)."""
    return [event.offering_ref for event in store.created([get_topic(ProductOffering.Defined)])]


def offering_views(store: AggregateStore) -> list[OfferingView]:
    """Every offering as it stands, in the order they were created."""
    return [offering_view(store, ref) for ref in offering_refs(store)]
