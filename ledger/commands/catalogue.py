"""Commands on the product catalogue (TMF620): product offerings, their versioned prices and lifecycle status."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from ledger.aggregates import ids
from ledger.aggregates.product_offering import ProductOffering
from ledger.commands.base import Command, Id, NonNegativeAmount, Text
from ledger.commands.results import OfferingLifecycleChanged, OfferingSaved
from ledger.errors import IdempotencyConflict, OfferingNotFound
from ledger.ports import AggregateStore, HandlerContext


class OfferingPrice(Command):
    """TMF620 productOfferingPrice: a recurring, one-time or usage price, one version of it."""

    price_id: Id
    price_type: Literal["recurring", "oneTime", "usage"]
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount: NonNegativeAmount
    recurring_period: Literal["monthly", "quarterly", "annual"] | None = None
    timing: Literal["advance", "arrears"] | None = None
    tax_category: Id | None = None
    tax_rate: NonNegativeAmount | None = None
    unit_of_measure: Id | None = None
    valid_from: dt.date
    valid_to: dt.date | None = None

    @model_validator(mode="after")
    def _terms(self) -> OfferingPrice:
        if self.price_type == "recurring" and (self.recurring_period is None or self.timing is None):
            raise ValueError("a recurring price needs recurring_period and timing (advance or arrears)")
        return self

    def terms(self) -> dict[str, str | None]:
        return {"price_type": self.price_type, "currency": self.currency, "recurring_period": self.recurring_period,
                "timing": self.timing, "tax_category": self.tax_category,
                "tax_rate": None if self.tax_rate is None else str(self.tax_rate), "unit_of_measure": self.unit_of_measure}

    def same_version(self, offering: ProductOffering) -> bool:
        """The offering already has exactly this version of the price."""
        price = offering.prices.get(self.price_id)
        if price is None or {k: price.get(k) for k in self.terms()} != self.terms():
            return False
        return any((v["amount"], v["valid_from"], v["valid_to"]) == (str(self.amount), self.valid_from.isoformat(),
                                                                      self.valid_to and self.valid_to.isoformat())
                   for v in price["versions"])


class CreateProductOffering(Command[OfferingSaved]):
    offering_id: Id
    name: Text = Field(min_length=1)
    description: Text = ""
    prices: list[OfferingPrice] = Field(default=[], max_length=50)


class AddOfferingPrice(Command[OfferingSaved]):
    """A new price of an offering, or a new version of one of its prices (from a future date)."""

    offering_id: Id
    price: OfferingPrice


LifecycleStatus = Literal["In study", "In design", "In test", "Rejected", "Active", "Launched", "Retired", "Obsolete"]


class ChangeOfferingLifecycle(Command[OfferingLifecycleChanged]):
    """Move an offering to another TMF620 lifecycle status (the allowed moves: product_offering.TRANSITIONS);
    the status it already has is a no-op."""

    offering_id: Id
    status: LifecycleStatus
    reason: Text = ""


def load_offering(store: AggregateStore, offering_ref: str) -> ProductOffering:
    return store.load(ProductOffering, ids.offering_id(offering_ref), OfferingNotFound,
                      f"product offering {offering_ref!r}")


def create_offering(ctx: HandlerContext, cmd: CreateProductOffering) -> OfferingSaved:
    existing = ctx.store.find(ProductOffering, ids.offering_id(cmd.offering_id))
    if existing is not None:
        same = (existing.name, existing.description) == (cmd.name, cmd.description) and \
            len(existing.prices) == len({p.price_id for p in cmd.prices}) and all(p.same_version(existing) for p in cmd.prices)
        if not same:
            raise IdempotencyConflict(f"product offering {cmd.offering_id!r} already exists with other values",
                                      offering=cmd.offering_id)
        return OfferingSaved(offering_id=cmd.offering_id, changed=False, prices=sorted(existing.prices))
    now = ctx.now()
    offering = ProductOffering.create(now, id=ids.offering_id(cmd.offering_id), offering_ref=cmd.offering_id,
                                      name=cmd.name, description=cmd.description)
    for price in cmd.prices:
        offering.add_price_version(now, price_id=price.price_id, terms=price.terms(), amount=price.amount,
                                   valid_from=price.valid_from, valid_to=price.valid_to)
    ctx.store.save(offering)
    return OfferingSaved(offering_id=cmd.offering_id, changed=True, prices=sorted(offering.prices))


def add_offering_price(ctx: HandlerContext, cmd: AddOfferingPrice) -> OfferingSaved:
    offering = load_offering(ctx.store, cmd.offering_id)
    if cmd.price.same_version(offering):
        return OfferingSaved(offering_id=cmd.offering_id, changed=False, prices=sorted(offering.prices))
    p = cmd.price
    offering.add_price_version(ctx.now(), price_id=p.price_id, terms=p.terms(), amount=p.amount,
                               valid_from=p.valid_from, valid_to=p.valid_to)
    ctx.store.save(offering)
    return OfferingSaved(offering_id=cmd.offering_id, changed=True, prices=sorted(offering.prices))


def change_offering_lifecycle(ctx: HandlerContext, cmd: ChangeOfferingLifecycle) -> OfferingLifecycleChanged:
    offering = load_offering(ctx.store, cmd.offering_id)
    before = offering.lifecycle_status
    changed = offering.change_lifecycle(ctx.now(), cmd.status, cmd.reason)
    if changed:
        ctx.store.save(offering)
    return OfferingLifecycleChanged(offering_id=cmd.offering_id, from_status=before,
                                    status=offering.lifecycle_status, sellable=offering.sellable, changed=changed)
