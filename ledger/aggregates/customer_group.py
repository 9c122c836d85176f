"""CustomerGroup aggregate: a named group of customers with billing rules (a discount rate on its members' recurring
charges) and preferences (a preferred bill presentation media).

Days are calendar days (a member's account reads them in its own time zone, like a subscription's days):
- the discount rate is versioned by effective day: a change holds from its day on (the first version from the
  beginning); the rate in force on a day is the version with the latest day on or before it;
- a membership is a customer and its days `from`..`until` (inclusive; no `until`: open-ended). A customer has no two
  overlapping memberships in one group (the commands also refuse an overlap with another group's: a customer is in at
  most one group on any day);
- changes never reach into the past: a membership starts, ends (its first day out) and a rate changes on `today` or
  later, so what a cycle run already settled is never reopened;
- a group is deleted only when no membership is current or future; a deleted group takes no change. Its past
  memberships keep giving their discount to the days they covered.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import RuleViolation

ACTIVE, DELETED = "active", "deleted"
BILL_MEDIA = ("email", "paper", "electronic", "portal")
PREFERENCES = ("bill_presentation_media",)
FIRST_DAY = "0001-01-01"
HUNDRED = Decimal(100)
_ONE_DAY = timedelta(days=1)


class CustomerGroup(LedgerAggregate):
    """A customer group: name, description, discount rate versions, preferences, state and memberships."""

    if TYPE_CHECKING:  # the state the events set (declared for type checkers only: the library reads annotations)
        group_ref: str
        name: str
        description: str
        rates: list[dict[str, str]]
        preferences: dict[str, str]
        state: str
        members: list[dict[str, Any]]

    class Formed(LedgerAggregate.Created):
        group_ref: str
        name: str
        description: str
        discount_rate: str
        preferences: dict[str, str]

        def apply(self, g: CustomerGroup) -> None:
            g.group_ref = self.group_ref
            g.name = self.name
            g.description = self.description
            g.rates = [{"from": FIRST_DAY, "rate": self.discount_rate}]
            g.preferences = dict(self.preferences)
            g.state = ACTIVE
            g.members = []

    @classmethod
    def create(cls, now: datetime, *, id: UUID, group_ref: str, name: str, description: str,  # noqa: A002
               discount_rate: Decimal, preferences: dict[str, str]) -> CustomerGroup:
        check_rate(discount_rate, group_ref)
        if not name.strip():
            raise RuleViolation("a customer group needs a name", group=group_ref)
        _check_preferences(preferences, group_ref)
        return cls._create(cls.Formed, id=id, timestamp=now, group_ref=group_ref, name=name, description=description,
                           discount_rate=str(discount_rate), preferences=preferences)

    # ---------------------------------------------------------------- reads

    @property
    def is_deleted(self) -> bool:
        return self.state == DELETED

    @property
    def discount_rate(self) -> Decimal:
        """The latest rate version (the one in force from its day on)."""
        return Decimal(self.rates[-1]["rate"])

    def rate_on(self, day: date) -> Decimal:
        text, found = day.isoformat(), self.rates[0]["rate"]
        for version in self.rates:
            if version["from"] <= text:
                found = version["rate"]
        return Decimal(found)

    def rate_pieces(self, first: date, last: date) -> list[tuple[date, date, Decimal]]:
        """(from, to, rate) pieces of the days first..last, in order, one per rate version in force."""
        pieces = []
        for k, version in enumerate(self.rates):
            begin = max(first, date.fromisoformat(version["from"]))
            stop = last if k + 1 == len(self.rates) else min(last, date.fromisoformat(self.rates[k + 1]["from"]) - _ONE_DAY)
            if begin <= stop:
                pieces.append((begin, stop, Decimal(version["rate"])))
        return pieces

    def memberships(self, customer_ref: str | None = None) -> list[tuple[str, date, date | None]]:
        """(customer, from, until) of every membership (of one customer), in the order they were assigned."""
        return [(m["customer"], date.fromisoformat(m["from"]), date.fromisoformat(m["until"]) if m["until"] else None)
                for m in self.members if customer_ref is None or m["customer"] == customer_ref]

    def member_on(self, customer_ref: str, day: date) -> bool:
        return any(f <= day and (u is None or day <= u) for _, f, u in self.memberships(customer_ref))

    def current_or_future(self, today: date) -> list[tuple[str, date, date | None]]:
        """Memberships that cover today or a later day."""
        return [m for m in self.memberships() if m[2] is None or m[2] >= today]

    # ---------------------------------------------------------------- changes

    class Updated(LedgerAggregate.Event):
        name: str | None
        description: str | None
        preferences: dict[str, str]

        def apply(self, g: CustomerGroup) -> None:
            if self.name is not None:
                g.name = self.name
            if self.description is not None:
                g.description = self.description
            g.preferences.update(self.preferences)

    def update(self, now: datetime, *, name: str | None, description: str | None, preferences: dict[str, str]) -> bool:
        """Merge the given fields in (the others stay); False when nothing would change."""
        self._require_active("update")
        if name is not None and not name.strip():
            raise RuleViolation("a customer group needs a name", group=self.group_ref)
        _check_preferences(preferences, self.group_ref)
        name = None if name == self.name else name
        description = None if description == self.description else description
        changed = {k: v for k, v in preferences.items() if self.preferences.get(k) != v}
        if name is None and description is None and not changed:
            return False
        self._record(self.Updated, now, name=name, description=description, preferences=changed)
        return True

    class DiscountRateChanged(LedgerAggregate.Event):
        discount_rate: str
        effective_date: str

        def apply(self, g: CustomerGroup) -> None:
            # versions from that day on give way (the first one, from the beginning, is always earlier)
            g.rates = [v for v in g.rates if v["from"] < self.effective_date]
            g.rates.append({"from": self.effective_date, "rate": self.discount_rate})

    def change_rate(self, now: datetime, rate: Decimal, effective: date, today: date) -> bool:
        """The discount rate from `effective` on (today or later); a later version set before is replaced. False
        when that rate is already the one in force from that day on."""
        self._require_active("change the discount rate of")
        check_rate(rate, self.group_ref)
        _not_past(effective, today, f"group {self.group_ref}: a discount rate change", self.group_ref)
        later = [v for v in self.rates if v["from"] > effective.isoformat()]
        if not later and self.rate_on(effective) == rate:
            return False
        self._record(self.DiscountRateChanged, now, discount_rate=str(rate), effective_date=effective.isoformat())
        return True

    class MemberAssigned(LedgerAggregate.Event):
        customer_ref: str
        from_date: str
        until_date: str | None

        def apply(self, g: CustomerGroup) -> None:
            g.members.append({"customer": self.customer_ref, "from": self.from_date, "until": self.until_date})

    def assign(self, now: datetime, customer_ref: str, first: date, until: date | None, today: date) -> bool:
        """Make the customer a member for the days first..until (no until: open-ended). False when exactly that
        membership exists; an overlap with another of its memberships here is refused."""
        self._require_active("assign members to")
        if until is not None and until < first:
            raise RuleViolation(f"a membership cannot end ({until}) before it starts ({first})", group=self.group_ref,
                                customer=customer_ref)
        for _, f, u in self.memberships(customer_ref):
            if (f, u) == (first, until):
                return False
            if f <= (until or date.max) and first <= (u or date.max):
                raise RuleViolation(
                    f"customer {customer_ref} is already a member of group {self.group_ref} from {f}"
                    + (f" until {u}" if u else "") + f": the membership from {first} would overlap it",
                    group=self.group_ref, customer=customer_ref)
        _not_past(first, today, f"group {self.group_ref}: a membership", self.group_ref)
        self._record(self.MemberAssigned, now, customer_ref=customer_ref, from_date=first.isoformat(),
                     until_date=until.isoformat() if until else None)
        return True

    class MemberRemoved(LedgerAggregate.Event):
        customer_ref: str
        from_date: str
        until_date: str
        reason: str

        def apply(self, g: CustomerGroup) -> None:
            for k, m in enumerate(g.members):
                if m["customer"] == self.customer_ref and m["from"] == self.from_date:
                    if self.until_date < self.from_date:  # it had not started: cancelled
                        del g.members[k]
                    else:
                        g.members[k] = {**m, "until": self.until_date}
                    return

    def remove(self, now: datetime, customer_ref: str, until: date, today: date, reason: str) -> bool:
        """End the customer's membership after `until` (its last day in the group, yesterday at the earliest): a
        membership going on past it ends then, one starting later is cancelled. False when none goes past it."""
        self._require_active("remove members from")
        mine = self.memberships(customer_ref)
        if not mine:
            raise RuleViolation(f"customer {customer_ref} is not a member of group {self.group_ref}",
                                group=self.group_ref, customer=customer_ref)
        affected = [(f, u) for _, f, u in mine if u is None or u > until]
        if not affected:
            return False
        _not_past(until + _ONE_DAY, today, f"group {self.group_ref}: a removal", self.group_ref)
        for f, _ in affected:
            self._record(self.MemberRemoved, now, customer_ref=customer_ref, from_date=f.isoformat(),
                         until_date=until.isoformat() if until >= f else (f - _ONE_DAY).isoformat(), reason=reason)
        return True

    class Deleted(LedgerAggregate.Event):
        reason: str

        def apply(self, g: CustomerGroup) -> None:
            g.state = DELETED

    def delete(self, now: datetime, today: date, reason: str) -> bool:
        """Delete an empty group (no membership current or future); False when already deleted."""
        if self.is_deleted:
            return False
        left = self.current_or_future(today)
        if left:
            raise RuleViolation(f"group {self.group_ref} still has {len(left)} current or future member(s) "
                                f"({', '.join(sorted({c for c, _, _ in left}))}): remove them first",
                                group=self.group_ref, members=str(len(left)))
        self._record(self.Deleted, now, reason=reason)
        return True

    def _require_active(self, what: str) -> None:
        if self.is_deleted:
            raise RuleViolation(f"group {self.group_ref} is deleted: cannot {what} it", group=self.group_ref)


def check_rate(rate: Any, group_ref: str = "") -> None:
    """A discount rate: an exact percentage from 0 to 100 (a Decimal, never a float), at most six places."""
    if not isinstance(rate, Decimal):
        raise RuleViolation(f"a discount rate must be an exact decimal percentage, not {rate!r}", group=group_ref)
    try:
        bad = not rate.is_finite() or rate < 0 or rate > HUNDRED or rate.as_tuple().exponent < -6  # type: ignore[operator]
    except (InvalidOperation, TypeError):
        bad = True
    if bad:
        raise RuleViolation(f"a discount rate is a percentage from 0 to 100 with at most six decimal places, not {rate}",
                            group=group_ref, rate=str(rate))


def _check_preferences(preferences: dict[str, str], group_ref: str) -> None:
    unknown = sorted(set(preferences) - set(PREFERENCES))
    if unknown:
        raise RuleViolation(f"unknown group preferences {unknown}", group=group_ref)
    media = preferences.get("bill_presentation_media")
    if media is not None and media not in BILL_MEDIA:
        raise RuleViolation(f"bill presentation media must be one of {', '.join(BILL_MEDIA)}", group=group_ref)


def _not_past(day: date, today: date, what: str, group_ref: str) -> None:
    if day < today:
        raise RuleViolation(f"{what} takes effect on {day}, before today ({today}): billed days are never reopened",
                            group=group_ref, day=day.isoformat(), today=today.isoformat())
