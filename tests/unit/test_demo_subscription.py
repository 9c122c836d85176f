"""The demo's subscriber: Basic from mid-October, Plus from mid-November, billed in advance (figures by hand)."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest

from ledger.cli.demo import run_demo
from tests.support.ledger_factory import make_ledger, memory_settings


@pytest.fixture(scope="module")
def demo() -> tuple[dict[str, Any], str]:
    ledger = make_ledger(memory_settings())
    out = io.StringIO()
    try:
        return run_demo(ledger, out), out.getvalue()
    finally:
        ledger.close()


def _amounts(bill: dict[str, Any]) -> list[Decimal]:
    return [Decimal(line["tax_excluded"]) for line in bill["lines"]]


def test_october_bill_has_the_prorated_basic_days_and_november_in_advance(demo: tuple[dict[str, Any], str]) -> None:
    """Bill 1: 20.00 x 17/31 = 10.967742 for 15-31 October, plus November's 20.00 in advance; due 30.97."""
    bill = demo[0]["subscription_bills"]["CLAIRE-LYON-00001"]
    assert _amounts(bill) == [Decimal("10.967742"), Decimal("20.000000")]
    assert bill["amount_due"] == "30.97"


def test_november_bill_credits_unused_basic_days_and_charges_plus(demo: tuple[dict[str, Any], str]) -> None:
    """Bill 2: credit 20.00 x 14/30 - 20.00 = -10.666667, Plus 35.00 x 16/30 = 18.666667, December 35.00; due 43.00."""
    bill = demo[0]["subscription_bills"]["CLAIRE-LYON-00002"]
    assert _amounts(bill) == [Decimal("-10.666667"), Decimal("18.666667"), Decimal("35.000000")]
    assert bill["amount_due"] == "43.00"


def test_the_credit_points_at_the_november_basic_charge(demo: tuple[dict[str, Any], str]) -> None:
    """The credit for unused days is an adjustment of the November Basic charge billed in advance on bill 1."""
    first, second = (demo[0]["subscription_bills"][n] for n in ("CLAIRE-LYON-00001", "CLAIRE-LYON-00002"))
    credit = second["lines"][0]
    assert credit["kind"] == "adjustment" and credit["charge_id"] == first["lines"][1]["entry_id"]


def test_transcript_prints_the_workings_and_the_story_still_verifies(demo: tuple[dict[str, Any], str]) -> None:
    """The demo prints the hand computation next to each bill, and verify still finds no difference."""
    summary, out = demo
    assert "20.00 x 17 / 31 days = 10.967742" in out and "35.00 x 16 / 30 days = 18.666667" in out
    assert "points at the charge it corrects: rc:SUB-CLAIRE-1:2026-11-01|BASIC/monthly" in out
    assert summary["verify"]["ok"] is True
    assert {k: str(v) for k, v in summary["cycle"]["totals"].items()} == {"EUR": "43.87", "USD": "155.47", "JPY": "5644"}
