"""Auditors' replay: an account's history rebuilt from its events alone, with a running balance, as of any moment.

Two bases: "recorded" (what the ledger knew at that moment: event timestamps) and "effective"
(what was in force then: the business date of each charge, payment, refund; a bill counts from
the start of its bill date in the account's time zone: README "Basis rules"). Amounts are signed changes to
what the customer owes. The account's whole state at a moment is `ledger/queries/as_of.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.aggregates import ids
from ledger.aggregates.billing_account import AppliedCharge, BillingAccount
from ledger.aggregates.money import ZERO, at_minor_unit, at_rated_scale, currency, fmt
from ledger.aggregates.party_billing_cycle import PartyBillingCycle
from ledger.errors import AccountNotFound, InvalidInput
from ledger.ports import AggregateStore
from ledger.queries.postings import project

BASES = ("recorded", "effective")
A = BillingAccount


@dataclass(frozen=True)
class HistoryLine:
    recorded_at: datetime
    effective_at: datetime
    kind: str
    description: str
    amount: Decimal
    balance: Decimal
    refs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"recorded_at": self.recorded_at.isoformat(), "effective_at": self.effective_at.isoformat(),
                "kind": self.kind, "description": self.description, "amount": str(at_rated_scale(self.amount)),
                "balance": str(at_rated_scale(self.balance)), "refs": self.refs}


@dataclass(frozen=True)
class AccountHistory:
    account_ref: str
    currency: str
    as_of: datetime | None
    basis: str
    lines: list[HistoryLine]
    balance: Decimal
    state: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"account_id": self.account_ref, "currency": self.currency,
                "as_of": self.as_of.isoformat() if self.as_of else None, "basis": self.basis,
                "balance": str(at_rated_scale(self.balance)), "state": self.state,
                "lines": [line.to_dict() for line in self.lines]}


def account_history(store: AggregateStore, account_ref: str, as_of: datetime | None = None,
                    basis: str = "recorded", bill_moments: Mapping[str, datetime] | None = None) -> AccountHistory:
    """The account's history lines up to `as_of` on a basis. `bill_moments` (bill id -> the moment it counts from on
    the effective basis), when the caller has them (an as-of state's book), saves projecting the account again."""
    if basis not in BASES:
        raise InvalidInput(f"basis must be one of {', '.join(BASES)}, not {basis!r}", basis=basis)
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInput("as_of needs a time zone offset (naive times are ambiguous)", as_of=as_of)
    events = list(store.history(ids.account_id(account_ref)))
    if not events:
        raise AccountNotFound(f"billing account {account_ref!r} not found", account=account_ref)
    cycles = _CycleNames(store)
    if bill_moments is None:
        bill_moments = {bill_id: bill.issued.effective for bill_id, bill in project(events).bills.items()}
    account: Any = None
    raw: list[tuple[datetime, datetime, str, str, Decimal, dict[str, str]]] = []
    state: dict[str, Any] = {}
    cut = basis == "recorded" and as_of is not None
    described = False
    for event in events:
        if cut and event.timestamp > as_of:  # as_of is set when cut
            if account is None:  # an as-of before the first event still names the account
                account = event.mutate(None)
            break
        account = event.mutate(account)
        described = True
        for part in event.applied() if isinstance(event, A.PlanChargesApplied) else (event,):  # a line per charge
            line = _describe(part, account, cycles, bill_moments)
            if basis == "recorded" or as_of is None or line[0] <= as_of:
                raw.append((event.timestamp, line[0], *line[1:]))
    if described and (basis == "recorded" or as_of is None):
        state = figures(account)  # as the account stood after the last event taken
    if basis == "effective":
        raw.sort(key=lambda r: (r[1], r[0]))
    lines, running = [], ZERO
    for recorded, effective, kind, text, amount, refs in raw:
        running += amount
        lines.append(HistoryLine(recorded, effective, kind, text, amount, running, refs))
    if basis == "effective" and as_of is not None:
        state = {"balance": str(at_rated_scale(running))}
    return AccountHistory(account.account_ref, account.currency, as_of, basis, lines, running, state)


def figures(account: BillingAccount) -> dict[str, Any]:
    """An account's balances, JSON-ready."""
    code = account.currency
    return {
        "status": account.status, "balance": str(at_rated_scale(account.balance)),
        "unbilled": str(at_rated_scale(account.unbilled_total)),
        "receivable": str(at_minor_unit(account.receivable, code)),
        "credit_balance": str(at_minor_unit(account.credit_balance, code)),
        "prepaid_balance": str(at_rated_scale(account.prepaid_balance)), "bills": len(account.bills),
    }


class _CycleNames:
    """Who triggered each billing cycle (loaded once per cycle)."""

    def __init__(self, store: AggregateStore) -> None:
        self.store: AggregateStore = store
        self.known: dict[UUID, dict[str, str]] = {}

    def __call__(self, cycle_id: UUID) -> dict[str, str]:
        if cycle_id not in self.known:
            cycle = self.store.find(PartyBillingCycle, cycle_id)
            trigger = cycle.triggers[0] if cycle else {"by": "?", "type": "?", "reason": ""}
            self.known[cycle_id] = {"cycle_id": str(cycle_id),
                                    "cycle": f"{cycle.specification} {cycle.period_start}" if cycle else "?",
                                    "triggered_by": trigger["by"], "trigger_type": trigger["type"],
                                    "trigger_reason": trigger["reason"]}
        return self.known[cycle_id]


def _m(account: Any, amount: Decimal) -> str:
    return f"{fmt(amount, currency(account.currency))} {account.currency}"


def _describe(event: Any, after: Any, cycles: _CycleNames,
              bill_moments: Mapping[str, datetime]) -> tuple[datetime, str, str, Decimal, dict[str, str]]:
    """(effective moment, kind, description, signed amount, refs) of one account event."""
    D, at = Decimal, event.timestamp
    if isinstance(event, A.Opened):
        return at, "opened", f"{event.rating_type} account opened for customer {event.customer_id} in {event.currency}", ZERO, {}
    if isinstance(event, (A.ChargeApplied, AppliedCharge)):
        amount = (-1 if event.charge_type == "appliedBillingCredit" else 1) * D(event.tax_included)
        text = (f"{event.charge_type} {event.charge_id} {_m(after, amount)}"
                + (f" ({event.description})" if event.description else ""))
        return datetime.fromisoformat(event.effective_at), event.charge_type, text, amount, {"charge_id": event.charge_id}
    if isinstance(event, A.ChargeAdjusted):
        amount = D(event.tax_included)
        text = f"adjustment {event.adjustment_id} of charge {event.charge_id}: {_m(after, amount)} ({event.reason})"
        refs = {"charge_id": event.charge_id, "adjustment_id": event.adjustment_id}
        return datetime.fromisoformat(event.effective_at), "adjustment", text, amount, refs
    if isinstance(event, A.BillIssued):
        refs = {"bill_number": event.bill_number, "bill_id": str(event.bill_id)}
        origin = event.run_type
        if event.cycle_id:
            refs |= cycles(event.cycle_id)
            origin = f"cycle {refs['cycle']} triggered by {refs['trigger_type']} {refs['triggered_by']}"
        text = (f"bill {event.bill_number} ({origin}): {len(event.entry_ids)} entries, "
                f"amount due {_m(after, D(event.amount_due))}, "
                f"due {event.payment_due_date}")
        if D(event.credit_applied):
            text += f", credit balance applied {_m(after, D(event.credit_applied))}"
        rounding = D(event.rounding_difference)
        text += f", rounding {_m(after, rounding)}" if rounding else ""
        return bill_moments.get(str(event.bill_id), at), "bill", text, rounding, refs
    if isinstance(event, A.PaymentReceived):
        parts = []
        for alloc in event.allocations:
            if alloc["target"] == "bill":
                number = next(n for n, bill_id in after.bills.items() if bill_id == alloc["id"])
                left = after.open_bills.get(alloc["id"], {}).get("remaining", ZERO)
                state = f"underpaid, {_m(after, left)} remains" if left else "paid in full"
                parts.append(f"bill {number} {_m(after, D(alloc['amount']))} ({state})")
            else:
                parts.append(f"charge {alloc['id']} {_m(after, D(alloc['amount']))}")
        rest = D(event.to_balance)
        if rest:
            kind = "prepaid top-up" if after.is_prepaid else ("overpayment" if event.allocations else "prepayment")
            parts.append(f"{_m(after, rest)} to balance ({kind})")
        text = f"payment {_m(after, D(event.amount))}: " + "; ".join(parts)
        return (datetime.fromisoformat(event.effective_at), "payment", text, -D(event.amount),
                {"payment_id": str(event.payment_id)})
    if isinstance(event, A.PaymentReversed):
        reopened = [f"bill {u['bill']['bill_number'] if 'bill' in u else u['id']}" for u in event.undone if u["target"] == "bill"]  # type: ignore[index]  # an undo record's bill is a dict (JSON state)
        text = f"payment reversed ({event.reason or 'no reason'}): {_m(after, D(event.amount))} back"
        text += f"; reopened {', '.join(reopened)}" if reopened else ""
        text += f"; used credit re-billed as debit {_m(after, D(event.debit))}" if D(event.debit) else ""
        return (datetime.fromisoformat(event.effective_at), "reversal", text, D(event.amount),
                {"payment_id": str(event.payment_id)})
    if isinstance(event, A.CreditRefunded):
        text = f"refund {event.refund_id} of credit balance {_m(after, D(event.amount))} by {event.method}"
        return datetime.fromisoformat(event.effective_at), "refund", text, D(event.amount), {"refund_id": event.refund_id}
    if isinstance(event, A.StatusChanged):
        text = f"account {event.status}" + (f": {event.reason}" if event.reason else "")
        return at, event.status, text, ZERO, {"final_bill_id": str(event.final_bill_id)} if event.final_bill_id else {}
    if isinstance(event, A.CustomerLinked):
        text = f"linked to customer {event.customer_id} (it named {event.previous_customer_id})" \
            + (f": {event.reason}" if event.reason else "")
        return at, "customerLinked", text, ZERO, {"customer_id": event.customer_id}
    return at, type(event).__name__, type(event).__name__, ZERO, {}
