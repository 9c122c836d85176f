"""PartyBillingCycle aggregate: one occurrence of a billing cycle specification, who triggered it, and what it billed."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import CycleStateError, RuleViolation

D = Decimal
TRIGGER_TYPES = ("person", "scheduler", "system")
RUNNING, COMPLETED = "running", "completed"


def trigger_record(trigger_type: str, triggered_by: str, reason: str, early_run: bool = False) -> dict[str, str]:
    """Who or what triggered a cycle and why; an early run (before the period's cut-offs passed) says so, with its
    reason, as "early_run": "true"."""
    if trigger_type not in TRIGGER_TYPES:
        raise RuleViolation(f"trigger type must be one of {', '.join(TRIGGER_TYPES)}, not {trigger_type!r}")
    if not triggered_by.strip():
        raise RuleViolation("a billing cycle must record who or what triggered it")
    if early_run and not reason.strip():
        raise RuleViolation("an early run of a billing cycle must say why (a reason)")
    record = {"type": trigger_type, "by": triggered_by, "reason": reason}
    return record | {"early_run": "true"} if early_run else record


class PartyBillingCycle(LedgerAggregate):

    if TYPE_CHECKING:  # the state the events set (declared for type checkers only: the library reads annotations)
        specification: str
        specification_values: dict[str, Any]
        period_start: str
        period_end: str
        bill_date: str
        charge_date: str
        credit_date: str
        mailing_date: str
        payment_due_date: str
        triggers: list[dict[str, str]]
        status: str
        billed: dict[str, str]
        skipped: dict[str, bool]
        totals: dict[str, str]
        completion: dict[str, Any] | None

    class Triggered(LedgerAggregate.Created):
        specification: str
        specification_values: dict[str, Any]
        period_start: str
        period_end: str
        bill_date: str
        charge_date: str
        credit_date: str
        mailing_date: str
        payment_due_date: str
        trigger: dict[str, str]

        def apply(self, c: PartyBillingCycle) -> None:
            for name in ("specification", "specification_values", "period_start", "period_end", "bill_date",
                         "charge_date", "credit_date", "mailing_date", "payment_due_date"):
                setattr(c, name, getattr(self, name))
            c.triggers = [{**self.trigger, "at": self.timestamp.isoformat()}]
            c.status = RUNNING
            c.billed = {}
            c.skipped = {}  # account id -> True: a dict, for O(1) look-ups that snapshots can still encode
            c.totals = {}
            c.completion = None

    @classmethod
    def trigger(cls, now: datetime, *, id: UUID, specification: str, specification_values: dict[str, Any],
                dates: dict[str, str], trigger: dict[str, str]) -> PartyBillingCycle:
        return cls._create(cls.Triggered, id=id, timestamp=now, specification=specification,
                           specification_values=specification_values, trigger=trigger, **dates)

    class Resumed(LedgerAggregate.Event):
        trigger: dict[str, str]

        def apply(self, c: PartyBillingCycle) -> None:
            c.triggers.append({**self.trigger, "at": self.timestamp.isoformat()})

    def resume(self, now: datetime, trigger: dict[str, str]) -> None:
        """Record that someone triggered this occurrence again while it was unfinished."""
        if self.status == COMPLETED:
            raise CycleStateError("a completed billing cycle cannot be resumed")
        self._record(self.Resumed, now, trigger=trigger)

    class AccountsBilled(LedgerAggregate.Event):
        bills: list[dict[str, str]]
        skipped: list[str]

        def apply(self, c: PartyBillingCycle) -> None:
            for bill in self.bills:
                c.billed[bill["account_id"]] = bill["bill_id"]
                c.totals[bill["currency"]] = str(D(c.totals.get(bill["currency"], "0")) + D(bill["amount_due"]))
            c.skipped.update(dict.fromkeys(self.skipped, True))

    def is_done_for(self, account_id: UUID) -> bool:
        key = str(account_id)
        return key in self.billed or key in self.skipped

    def accounts_billed(self, now: datetime, bills: list[dict[str, str]], skipped: list[str]) -> None:
        if self.status == COMPLETED:
            raise CycleStateError("billing cycle already completed")
        already = [b["account_id"] for b in bills if b["account_id"] in self.billed] + [s for s in skipped if s in self.skipped]
        if already:
            raise CycleStateError(f"accounts already handled by this cycle: {', '.join(already[:5])}")
        if bills or skipped:
            self._record(self.AccountsBilled, now, bills=bills, skipped=skipped)

    class Completed(LedgerAggregate.Event):
        accounts_billed: int
        accounts_skipped: int
        totals: dict[str, str]

        def apply(self, c: PartyBillingCycle) -> None:
            c.status = COMPLETED
            c.completion = {"accounts_billed": self.accounts_billed, "accounts_skipped": self.accounts_skipped,
                            "totals": dict(self.totals), "at": self.timestamp.isoformat()}

    def complete(self, now: datetime) -> None:
        if self.status == COMPLETED:
            raise CycleStateError("billing cycle already completed")
        self._record(self.Completed, now, accounts_billed=len(self.billed), accounts_skipped=len(self.skipped),
                     totals=dict(self.totals))
