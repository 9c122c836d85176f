"""Subscription aggregate (TMF637 Product): a billing account's subscription to a product offering.

Its life is a timeline of local calendar days (in the account's time zone): it starts on `start_date`, each change
(offering, quantity, suspension, resumption) holds from its effective day on, and it ends after `end_date` when
that is set. The cycle run charges it (`Charged`): for each price period it records what it has charged so far per
price (tax-excluded and tax, after corrections) and up to which day its periods are settled (`reconciled_until`);
changes are only accepted from the day after that, so a settled period is never reopened. Its lines' group
discounts (credits for its customer's group discount rate) are recorded the same way (`Discounted`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import RuleViolation

CREATED, ACTIVE, SUSPENDED, TERMINATED = "created", "active", "suspended", "terminated"


class Subscription(LedgerAggregate):
    """A product (TMF637) on a billing account: offering, quantity, start and end, status by day."""

    if TYPE_CHECKING:  # the state the events set (declared for type checkers only: the library reads annotations)
        subscription_ref: str
        account_ref: str
        account_id: UUID
        start_date: str
        end_date: str | None
        phases: list[dict[str, Any]]
        reconciled_until: str | None
        charged: dict[str, dict[str, str]]
        discounted: dict[str, dict[str, str]]
        one_time_offering: str

    class Subscribed(LedgerAggregate.Created):
        subscription_ref: str
        account_ref: str
        account_id: UUID
        offering_ref: str
        quantity: int
        start_date: str
        end_date: str | None

        def apply(self, s: Subscription) -> None:
            s.subscription_ref = self.subscription_ref
            s.account_ref = self.account_ref
            s.account_id = self.account_id
            s.start_date = self.start_date
            s.end_date = self.end_date
            s.phases = [{"from": self.start_date, "offering": self.offering_ref, "quantity": self.quantity,
                         "state": ACTIVE}]
            s.reconciled_until = None
            s.charged = {}
            s.discounted = {}
            s.one_time_offering = self.offering_ref

    @classmethod
    def create(cls, now: datetime, *, id: UUID, subscription_ref: str, account_ref: str, account_id: UUID,  # noqa: A002
               offering_ref: str, quantity: int, start_date: date, end_date: date | None) -> Subscription:
        _check_quantity(quantity)
        if end_date is not None and end_date < start_date:
            raise RuleViolation("a subscription cannot end before it starts", subscription=subscription_ref)
        return cls._create(cls.Subscribed, id=id, timestamp=now, subscription_ref=subscription_ref,
                           account_ref=account_ref, account_id=account_id, offering_ref=offering_ref,
                           quantity=quantity, start_date=start_date.isoformat(),
                           end_date=end_date.isoformat() if end_date else None)

    # ---------------------------------------------------------------- the timeline

    @property
    def start(self) -> date:
        return date.fromisoformat(self.start_date)

    @property
    def end(self) -> date | None:
        return date.fromisoformat(self.end_date) if self.end_date else None

    def phase_on(self, day: date) -> dict[str, Any] | None:
        """The phase in force on `day`: None before the start and after the end."""
        text = day.isoformat()
        if text < self.start_date or (self.end_date is not None and text > self.end_date):
            return None
        found = None
        for phase in self.phases:
            if phase["from"] <= text:
                found = phase
        return found

    def status_on(self, day: date) -> str:
        if day < self.start:
            return CREATED
        phase = self.phase_on(day)
        return TERMINATED if phase is None else str(phase["state"])

    def segments(self, first: date, last: date) -> list[tuple[date, date, dict[str, Any]]]:
        """(from, to, phase) pieces of the days first..last the subscription covers, in order."""
        lower = max(first, self.start)
        upper = min(last, self.end) if self.end else last
        pieces = []
        for k, phase in enumerate(self.phases):
            begin = max(lower, date.fromisoformat(phase["from"]))
            stop = upper if k + 1 == len(self.phases) else min(upper, date.fromisoformat(self.phases[k + 1]["from"])
                                                              - timedelta(days=1))
            if begin <= stop:
                pieces.append((begin, stop, phase))
        return pieces

    def offerings(self) -> list[str]:
        return sorted({p["offering"] for p in self.phases})

    def _check_change(self, effective: date, what: str) -> dict[str, Any]:
        """The phase a change effective on `effective` follows; refuses a day already settled or before the last
        change, and a day after the end."""
        last = self.phases[-1]
        if effective.isoformat() < last["from"]:
            raise RuleViolation(f"subscription {self.subscription_ref}: cannot {what} from {effective}, before its last "
                                f"change on {last['from']}", subscription=self.subscription_ref)
        if self.reconciled_until is not None and effective.isoformat() <= self.reconciled_until:
            raise RuleViolation(f"subscription {self.subscription_ref}: its periods are billed up to "
                                f"{self.reconciled_until}; a change can take effect from the day after",
                                subscription=self.subscription_ref)
        if self.end_date is not None and effective.isoformat() > self.end_date:
            raise RuleViolation(f"subscription {self.subscription_ref} ends on {self.end_date}: cannot {what} after it",
                                subscription=self.subscription_ref)
        return last

    # ---------------------------------------------------------------- changes

    class Changed(LedgerAggregate.Event):
        effective_date: str
        offering_ref: str
        quantity: int

        def apply(self, s: Subscription) -> None:
            state = s.phases[-1]["state"]
            s._add_phase({"from": self.effective_date, "offering": self.offering_ref, "quantity": self.quantity,
                          "state": state})

    def change(self, now: datetime, *, effective: date, offering_ref: str, quantity: int) -> bool:
        """Move to another offering and/or quantity from `effective` on; False when nothing would change."""
        _check_quantity(quantity)
        last = self._check_change(effective, "change")
        if (last["offering"], last["quantity"]) == (offering_ref, quantity):
            return False
        self._record(self.Changed, now, effective_date=effective.isoformat(), offering_ref=offering_ref,
                     quantity=quantity)
        return True

    class StateChanged(LedgerAggregate.Event):
        effective_date: str
        state: str
        reason: str

        def apply(self, s: Subscription) -> None:
            if self.state == TERMINATED:
                s.end_date = (date.fromisoformat(self.effective_date) - timedelta(days=1)).isoformat()
                return
            last = s.phases[-1]
            s._add_phase({**last, "from": self.effective_date, "state": self.state})

    def suspend(self, now: datetime, effective: date, reason: str) -> None:
        """No recurring charges for the days from `effective` until it is resumed."""
        if self._check_change(effective, "suspend")["state"] != ACTIVE:
            raise RuleViolation(f"subscription {self.subscription_ref} is already suspended", subscription=self.subscription_ref)
        self._record(self.StateChanged, now, effective_date=effective.isoformat(), state=SUSPENDED, reason=reason)

    def resume(self, now: datetime, effective: date, reason: str) -> None:
        if self._check_change(effective, "resume")["state"] != SUSPENDED:
            raise RuleViolation(f"subscription {self.subscription_ref} is not suspended", subscription=self.subscription_ref)
        self._record(self.StateChanged, now, effective_date=effective.isoformat(), state=ACTIVE, reason=reason)

    def terminate(self, now: datetime, end_date: date, reason: str) -> bool:
        """Cancel: `end_date` is the last day served (a scheduled end may be brought forward, never moved later)."""
        if self.end_date is not None and end_date.isoformat() >= self.end_date:
            return False
        if end_date < self.start - timedelta(days=1):
            raise RuleViolation("a subscription cannot end before it starts", subscription=self.subscription_ref)
        first_unserved = end_date + timedelta(days=1)
        if self.reconciled_until is not None and end_date.isoformat() < self.reconciled_until:
            raise RuleViolation(f"subscription {self.subscription_ref}: its periods are billed up to "
                                f"{self.reconciled_until}; it can end on that day at the earliest",
                                subscription=self.subscription_ref)
        self._record(self.StateChanged, now, effective_date=first_unserved.isoformat(), state=TERMINATED, reason=reason)
        return True

    def _add_phase(self, phase: dict[str, Any]) -> None:
        if self.phases[-1]["from"] == phase["from"]:
            self.phases[-1] = phase  # two changes on the same day: the later one holds
        else:
            self.phases.append(phase)

    # ---------------------------------------------------------------- charging

    class Charged(LedgerAggregate.Event):
        reconciled_until: str
        lines: list[dict[str, str]]

        def apply(self, s: Subscription) -> None:
            for line in self.lines:
                s.charged[line["key"]] = {k: v for k, v in line.items() if k not in ("key", "entry_id")}
            s.reconciled_until = self.reconciled_until

    def record_charges(self, now: datetime, reconciled_until: date, lines: list[dict[str, str]]) -> None:
        """What the cycle posted for the subscription: per line its key, the account entry, the totals now charged."""
        if not lines and self.reconciled_until == reconciled_until.isoformat():
            return
        self._record(self.Charged, now, reconciled_until=reconciled_until.isoformat(), lines=lines)

    class Discounted(LedgerAggregate.Event):
        lines: list[dict[str, str]]

        def apply(self, s: Subscription) -> None:
            for line in self.lines:
                s.discounted[line["key"]] = {k: v for k, v in line.items() if k not in ("key", "entry_id")}

    def record_discounts(self, now: datetime, lines: list[dict[str, str]]) -> None:
        """What the cycle credited its lines for their customer's group discount: per line its key, the account entry
        posted (the credit, or a correction of it), the discount now (tax excluded, tax) and its corrections."""
        if lines:
            self._record(self.Discounted, now, lines=lines)


def _check_quantity(quantity: object) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise RuleViolation(f"quantity must be a positive integer, not {quantity!r}")
