"""ProductOffering aggregate (TMF620 ProductOffering with its productOfferingPrice): what is sold, and its prices.

A price is recurring (an amount per period: monthly, quarterly or annual; billed in advance or in arrears),
one-time (charged once when a subscription starts) or usage (a reference rating systems price usage with; the
ledger does not rate usage). Prices are versioned: each version has a validity period, versions of a price never
overlap, and a new version starts no earlier than two days from now (so it never reprices a period that may
already be billed); adding one after an open-ended version closes that one the day before.

Its lifecycle status is TMF620's: In study, In design, In test, Rejected, Active, Launched, Retired, Obsolete (a new
offering is Active). Only the moves in TRANSITIONS are allowed. Only an Active or Launched offering is sellable: a new
subscription, or a change of offering, to any other is refused; the subscriptions it already has go on (and are
billed) until they are changed or terminated.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.money import currency, round_money
from ledger.errors import InvalidAmount, InvalidLifecycleTransition, OfferingNotSellable, RuleViolation

RECURRING, ONE_TIME, USAGE = "recurring", "oneTime", "usage"
PRICE_TYPES = (RECURRING, ONE_TIME, USAGE)
PERIODS = ("monthly", "quarterly", "annual")
ADVANCE, ARREARS = "advance", "arrears"
IN_STUDY, IN_DESIGN, IN_TEST, REJECTED = "In study", "In design", "In test", "Rejected"
ACTIVE, LAUNCHED, RETIRED, OBSOLETE = "Active", "Launched", "Retired", "Obsolete"
LIFECYCLE_STATUSES = (IN_STUDY, IN_DESIGN, IN_TEST, REJECTED, ACTIVE, LAUNCHED, RETIRED, OBSOLETE)
SELLABLE = frozenset((ACTIVE, LAUNCHED))
TRANSITIONS: dict[str, frozenset[str]] = {
    IN_STUDY: frozenset((IN_DESIGN, REJECTED)),
    IN_DESIGN: frozenset((IN_STUDY, IN_TEST, REJECTED)),
    IN_TEST: frozenset((IN_DESIGN, ACTIVE, REJECTED)),
    REJECTED: frozenset((IN_STUDY,)),
    ACTIVE: frozenset((IN_TEST, LAUNCHED, RETIRED)),
    LAUNCHED: frozenset((ACTIVE, RETIRED)),
    RETIRED: frozenset((LAUNCHED, OBSOLETE)),
    OBSOLETE: frozenset(),
}
"""The lifecycle moves allowed: from a status (key) to one of its values. Obsolete is the end."""
_TERMS = ("price_type", "currency", "recurring_period", "timing", "tax_category", "tax_rate", "unit_of_measure")


def earliest_new_version(now: datetime) -> date:
    """The first day a later price version may start: after today in every time zone (UTC+14 included), plus one."""
    return (now + timedelta(hours=14)).date() + timedelta(days=1)


class ProductOffering(LedgerAggregate):
    """An offering and its prices, each a list of versions ordered by validity."""

    if TYPE_CHECKING:  # the state the events set (declared for type checkers only: the library reads annotations)
        offering_ref: str
        name: str
        description: str
        prices: dict[str, dict[str, Any]]
        lifecycle_reason: str

    lifecycle_status = ACTIVE  # a class default: offerings (and snapshots) from before the lifecycle are Active

    class Defined(LedgerAggregate.Created):
        offering_ref: str
        name: str
        description: str

        def apply(self, o: ProductOffering) -> None:
            o.offering_ref = self.offering_ref
            o.name = self.name
            o.description = self.description
            o.prices = {}

    @classmethod
    def create(cls, now: datetime, *, id: UUID, offering_ref: str, name: str, description: str) -> ProductOffering:  # noqa: A002
        return cls._create(cls.Defined, id=id, timestamp=now, offering_ref=offering_ref, name=name,
                           description=description)

    class PriceVersionAdded(LedgerAggregate.Event):
        price_id: str
        terms: dict[str, str | None]
        version: int
        amount: str
        valid_from: str
        valid_to: str | None

        def apply(self, o: ProductOffering) -> None:
            price = o.prices.setdefault(self.price_id, {**self.terms, "versions": []})
            versions = price["versions"]
            if versions and versions[-1]["valid_to"] is None and versions[-1]["valid_from"] < self.valid_from:
                versions[-1]["valid_to"] = (date.fromisoformat(self.valid_from) - timedelta(days=1)).isoformat()
            versions.append({"version": self.version, "amount": self.amount, "valid_from": self.valid_from,
                             "valid_to": self.valid_to})

    def add_price_version(self, now: datetime, *, price_id: str, terms: dict[str, str | None], amount: Decimal,
                          valid_from: date, valid_to: date | None) -> int:
        """Add a version of a price (the first one creates the price); returns its version number."""
        _check_terms(terms)
        cur = currency(str(terms["currency"]))
        if amount < 0 or (terms["price_type"] != USAGE and round_money(amount, cur) != amount):
            raise InvalidAmount(f"price {price_id}: amount {amount} must be >= 0 in whole {cur.code} minor units",
                                price=price_id)
        if valid_to is not None and valid_to < valid_from:
            raise RuleViolation(f"price {price_id}: valid_to is before valid_from", price=price_id)
        price = self.prices.get(price_id)
        if price is not None:
            fixed = {k: price.get(k) for k in _TERMS}
            if fixed != {k: terms.get(k) for k in _TERMS}:
                raise RuleViolation(f"price {price_id}: a new version keeps the price's type, currency, period, "
                                    "timing and tax; define another price for other terms", price=price_id)
            if valid_from < earliest_new_version(now):
                raise RuleViolation(f"price {price_id}: a new version must start on {earliest_new_version(now)} or "
                                    "later (it must not reprice what may already be billed)", price=price_id)
            for v in price["versions"]:
                start, end = date.fromisoformat(v["valid_from"]), v["valid_to"] and date.fromisoformat(v["valid_to"])
                superseded = end is None and v is price["versions"][-1] and start < valid_from
                if not superseded and start <= (valid_to or date.max) and valid_from <= (end or date.max):
                    raise RuleViolation(f"price {price_id}: version valid from {valid_from} overlaps version "
                                        f"{v['version']} ({v['valid_from']} .. {v['valid_to'] or 'open'})", price=price_id)
        version = 1 + (len(price["versions"]) if price else 0)
        self._record(self.PriceVersionAdded, now, price_id=price_id, terms=dict(terms), version=version,
                     amount=str(amount), valid_from=valid_from.isoformat(),
                     valid_to=valid_to.isoformat() if valid_to else None)
        return version

    class LifecycleStatusChanged(LedgerAggregate.Event):
        from_status: str
        to_status: str
        reason: str

        def apply(self, o: ProductOffering) -> None:
            o.lifecycle_status = self.to_status
            o.lifecycle_reason = self.reason

    def change_lifecycle(self, now: datetime, status: str, reason: str) -> bool:
        """Move to another lifecycle status (one of TRANSITIONS'); False when it already has that one."""
        if status not in LIFECYCLE_STATUSES:
            raise InvalidLifecycleTransition(f"product offering {self.offering_ref}: lifecycle status {status!r} is "
                                             f"not one of {', '.join(LIFECYCLE_STATUSES)}", offering=self.offering_ref)
        if status == self.lifecycle_status:
            return False
        allowed = TRANSITIONS[self.lifecycle_status]
        if status not in allowed:
            then = ", ".join(s for s in LIFECYCLE_STATUSES if s in allowed) or "nothing (it is final)"
            raise InvalidLifecycleTransition(
                f"product offering {self.offering_ref} is {self.lifecycle_status}: it cannot become {status} "
                f"(from {self.lifecycle_status}: {then})", offering=self.offering_ref,
                from_status=self.lifecycle_status, to_status=status)
        self._record(self.LifecycleStatusChanged, now, from_status=self.lifecycle_status, to_status=status,
                     reason=reason)
        return True

    @property
    def sellable(self) -> bool:
        return self.lifecycle_status in SELLABLE

    def require_sellable(self, what: str) -> None:
        """Refuse `what` (a new subscription, a change of offering) unless the offering is Active or Launched."""
        if not self.sellable:
            raise OfferingNotSellable(f"product offering {self.offering_ref} is {self.lifecycle_status}: only an Active "
                                      f"or Launched offering can be sold ({what} refused)", offering=self.offering_ref,
                                      lifecycle_status=self.lifecycle_status)

    def prices_of(self, price_type: str) -> dict[str, dict[str, Any]]:
        return {pid: p for pid, p in self.prices.items() if p["price_type"] == price_type}

    def version_on(self, price_id: str, day: date) -> dict[str, Any] | None:
        """The version of a price valid on `day`, or None."""
        text = day.isoformat()
        for v in self.prices[price_id]["versions"]:
            if v["valid_from"] <= text and (v["valid_to"] is None or text <= v["valid_to"]):
                return v
        return None


def _check_terms(terms: dict[str, str | None]) -> None:
    kind = terms.get("price_type")
    if kind not in PRICE_TYPES:
        raise RuleViolation(f"price type must be one of {', '.join(PRICE_TYPES)}")
    if kind == RECURRING:
        if terms.get("recurring_period") not in PERIODS:
            raise RuleViolation(f"a recurring price needs a period: {', '.join(PERIODS)}")
        if terms.get("timing") not in (ADVANCE, ARREARS):
            raise RuleViolation("a recurring price is billed in advance or in arrears")
    elif terms.get("recurring_period") or terms.get("timing"):
        raise RuleViolation("only a recurring price has a period and a timing")
    if (terms.get("tax_category") is None) != (terms.get("tax_rate") is None):
        raise RuleViolation("a price's tax needs both a category and a rate")
