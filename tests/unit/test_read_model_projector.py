"""The pure read-model projector: event records in, balance, bill and payment rows out (no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.errors import ReadModelError
from ledger.projections.read_models import ReadModelBatch, projected_ids
from tests.support.streams import story_records


@pytest.fixture(scope="module")
def records():
    return story_records()


def _project(records) -> ReadModelBatch:
    batch = ReadModelBatch({}, {}, {})
    for record in records:
        batch.apply(record)
    return batch


def _account(batch, ref):
    return next(r for r in batch.accounts.values() if r["account_ref"] == ref)


def test_account_row_carries_the_figures_after_its_last_event(records):
    """An account's row equals the position of its last event."""
    batch = _project(records)
    last = [r for r in records if r["event_type"].startswith("BillingAccount.")
            and r["billing_account_id"] == _account(batch, "GLOBEX-NYC")["billing_account_id"]][-1]
    row = _account(batch, "GLOBEX-NYC")
    assert row["balance"] == last["position"]["balance"] and row["version"] == last["aggregate_version"]


def test_balance_identity_holds_on_every_account_row(records):
    """balance == unbilled + receivable - credit balance - prepaid balance, on every row."""
    for row in _project(records).accounts.values():
        assert row["balance"] == row["unbilled"] + row["receivable"] - row["credit_balance"] - row["prepaid_balance"]


def test_redelivered_events_change_nothing(records):
    """Replaying the whole stream a second time skips every event."""
    batch = _project(records)
    before = {k: dict(v) for k, v in batch.bills.items()}
    applied = sum(batch.apply(r) for r in records)
    assert applied == 0 and batch.bills == before


def test_bill_remaining_is_amount_due_minus_allocations(records):
    """Each bill row's remaining amount is what is due minus what was allocated to it."""
    batch = _project(records)
    for bill in batch.bills.values():
        allocated = sum((a["amount"] for a in batch.allocations if a["bill_id"] == bill["bill_id"]), Decimal(0))
        assert bill["allocated_amount"] == allocated
        assert bill["remaining_amount"] == max(bill["amount_due"], Decimal(0)) - allocated


def test_reversed_payment_reopens_its_bill_with_a_negative_allocation(records):
    """A bounced check gives its bill a negative allocation row and puts the amount back."""
    batch = _project(records)
    undone = [a for a in batch.allocations if a["amount"] < 0]
    assert len(undone) == 1 and undone[0]["source"] == "reversal"
    assert batch.bills[undone[0]["bill_id"]]["state"] in ("sent", "partiallyPaid")


def test_payment_rows_split_into_allocated_and_credited(records):
    """A payment row's allocated plus credited part is its amount (unless reversed)."""
    for payment in _project(records).payments.values():
        if payment["status"] == "done":
            assert payment["allocated_amount"] + payment["credited_to_balance"] == payment["amount"]


def test_reversed_payment_row_is_canceled_with_its_reason(records):
    """The reversed payment's row says canceled and why."""
    reversed_ = [p for p in _project(records).payments.values() if p["status"] == "canceled"]
    assert len(reversed_) == 1 and reversed_[0]["reversal_reason"]


def test_missing_bill_event_is_an_error_not_a_wrong_figure(records):
    """A bill event whose predecessor never arrived stops the projection."""
    bill_events = [r for r in records if r["event_type"].startswith("CustomerBill.")]
    first_bill = bill_events[0]["aggregate_id"]
    gap = [r for r in bill_events if r["aggregate_id"] == first_bill and r["aggregate_version"] != 2]
    batch = ReadModelBatch({}, {}, {})
    with pytest.raises(ReadModelError, match="expected version 2"):
        for record in gap:
            batch.apply(record)


def test_cycle_and_specification_events_are_not_projected(records):
    """Cycle events touch no read-model row."""
    batch = ReadModelBatch({}, {}, {})
    cycle = [r for r in records if r["event_type"].startswith(("PartyBillingCycle.", "BillingCycleSpecification."))]
    assert cycle and not any(batch.apply(r) for r in cycle)


def test_projected_ids_name_every_touched_row(records):
    """The ids a batch touches are exactly the rows the projection writes."""
    ids = projected_ids(records)
    batch = _project(records)
    assert ids["account_balances"] == set(batch.accounts) and ids["bills"] == set(batch.bills)
    assert ids["payments"] == set(batch.payments)
