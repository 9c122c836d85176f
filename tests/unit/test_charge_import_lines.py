"""Charge import names the line of each refused charge by its place in the batch, not by its charge id."""

from __future__ import annotations

import json

from ledger.commands.charge_import import import_charges
from tests.support.ledger_factory import FakeClock, define_spec, make_ledger, memory_settings, open_account


def test_a_conflicting_resend_is_reported_on_its_own_line():
    """A charge, its conflicting re-send, then its valid re-send in one batch: the refusal names line 2, not line 3."""
    clock = FakeClock()
    ledger = make_ledger(memory_settings(), clock)
    define_spec(ledger)
    open_account(ledger, "A", "EUR")
    clock.advance(days=5)
    charge = {"charge_id": "c1", "account_id": "A", "currency": "EUR", "date": "2026-10-05T10:00:00Z"}
    lines = [json.dumps({**charge, "tax_excluded_amount": "1.00"}), json.dumps({**charge, "tax_excluded_amount": "9.00"}),
             json.dumps({**charge, "tax_excluded_amount": "1.00"})]
    report = import_charges(ledger.execute, lines, batch_size=10)
    assert (report.applied, report.duplicates) == (1, 1)
    assert [(r["line"], r["error"]) for r in report.rejected] == [(2, "idempotency_conflict")]
    assert "index" not in report.rejected[0]
