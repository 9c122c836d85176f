"""A PlanChargesApplied (a subscription bill run's charges of one account, as one event) reaches the outbound
readers as its charges would one by one: TMF notifications, the read model's handler."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ledger.aggregates.billing_account import BillingAccount
from ledger.contracts.tmf_events import notifications
from ledger.projections.read_models import _HANDLERS
from tests.support.accounts import new_account

AT = datetime(2026, 11, 1, tzinfo=UTC)


def _post(account: BillingAccount, pending: dict[str, Any] | None) -> None:
    for n in range(3):
        account.apply_plan_charge(AT, charge_id=f"rc:S-{n}:2026-11-01|B/monthly", tax_excluded=Decimal("31.000000"),
                                  tax_line={"category": "VAT", "rate": "20", "amount": "6.200000"},
                                  tax_amount=Decimal("6.200000"), effective_at=AT, product_ref=f"S-{n}",
                                  period_start="2026-11-01", period_end="2026-11-30", description="B monthly",
                                  pending=pending)
    if pending is not None:
        account.record_plan_charges(AT, pending)


def _bodies(account: BillingAccount) -> list[dict[str, Any]]:
    found = []
    for event in account.collect_events()[1:]:
        found += notifications(event, lambda _: "ACC-1", lambda _: "EUR")
    return found


def test_a_plan_charges_event_notifies_each_charge_as_its_own_event_would() -> None:
    """One AppliedCustomerBillingRateCreateEvent per charge, the bodies those of one ChargeApplied each, ids distinct."""
    one_each = new_account(at=AT)
    together = new_account(at=AT, id=one_each.id)
    _post(one_each, None)
    _post(together, {})
    plain, folded = _bodies(one_each), _bodies(together)
    assert [{**b, "eventId": None} for b in folded] == [{**b, "eventId": None} for b in plain]
    assert len({b["eventId"] for b in folded}) == 3 and folded[0]["eventId"] == plain[0]["eventId"]


def test_the_read_model_keeps_an_accounts_position_from_a_plan_charges_event() -> None:
    """The account_balances read model takes a PlanChargesApplied's position, as it takes a ChargeApplied's."""
    assert _HANDLERS["BillingAccount.PlanChargesApplied"] == _HANDLERS["BillingAccount.ChargeApplied"]
