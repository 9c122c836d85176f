"""Billing cycle specifications and cycle runs (PartyBillingCycle) as they stand: for the API's billCycle."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from ledger.aggregates import ids
from ledger.aggregates.billing_cycle_specification import BillingCycleSpecification
from ledger.aggregates.party_billing_cycle import COMPLETED, PartyBillingCycle
from ledger.commands.cycle_run import load_cycle
from ledger.commands.cycles import cycle_report, opened_on_specification
from ledger.commands.lookups import load_specification
from ledger.commands.results import CycleRunReport
from ledger.ports import AggregateStore
from ledger.queries.views import View


class SpecificationView(View):
    name: str
    frequency: str
    billing_day: int
    anchor_month: int
    charge_date_offset: int
    credit_date_offset: int
    bill_date_offset: int
    mailing_date_offset: int
    payment_due_date_offset: int
    defined_at: str


def specification_view(store: AggregateStore, name: str) -> SpecificationView:
    spec = load_specification(store, name)
    return SpecificationView(**spec.values, defined_at=spec.created_on.isoformat())


def specification_views(store: AggregateStore) -> list[SpecificationView]:
    """Every specification, in the order they were defined (from their creation events)."""
    return [SpecificationView(**event.values, defined_at=event.timestamp.isoformat())
            for event in store.created([get_topic(BillingCycleSpecification.Defined)])]


class CycleRunView(CycleRunReport):
    """A cycle run's report with the rest of its dates and its progress: accounts done out of those to do."""

    charge_date: str
    credit_date: str
    mailing_date: str
    payment_due_date: str
    accounts_total: int
    completed_at: str | None


def cycle_run_view(store: AggregateStore, cycle_id: UUID) -> CycleRunView:
    cycle = load_cycle(store, cycle_id)
    done = len(cycle.billed) + len(cycle.skipped)
    total = done if cycle.status == COMPLETED else len(opened_on_specification(store, cycle.specification))
    extra: dict[str, Any] = {name: getattr(cycle, name) for name in ("charge_date", "credit_date", "mailing_date",
                                                                     "payment_due_date")}
    return CycleRunView(**cycle_report(cycle, already_completed=cycle.status == COMPLETED).model_dump(), **extra,
                        accounts_total=max(total, done),
                        completed_at=cycle.completion["at"] if cycle.completion else None)


def cycle_run_ids(store: AggregateStore) -> list[UUID]:
    """Every cycle run's id, in the order they were triggered."""
    return [event.originator_id for event in store.created([get_topic(PartyBillingCycle.Triggered)])]


def cycle_run_id(specification: str, period_start: Any) -> UUID:
    return ids.cycle_id(specification, period_start)
