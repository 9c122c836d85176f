"""A bill run composes its bills from the account's packed entries (`account_storage.bill_rows`,
`bill_composition.compose_rows`): the same choice, totals, items and issue as entries_for_bill + compose."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.aggregates.bill_composition import compose, compose_rows
from ledger.aggregates.entries import CHARGE, CREDIT, PENALTY, TaxLine
from tests.support.accounts import new_account

AT = datetime(2026, 10, 1, tzinfo=UTC)
BILL_ID = UUID("0b5f8a52-2b0e-4c55-9b39-0c3f6b1f2a11")
amounts = st.decimals(min_value=Decimal("1.000000"), max_value=Decimal("999.999999"), places=6)
entries = st.lists(st.tuples(st.sampled_from([CHARGE, CREDIT, PENALTY]), amounts,
                             st.sampled_from([None, "20", "8.875", "0", "20.0"]), st.integers(0, 40),
                             st.sampled_from(["", "data", "a | b"]), st.booleans(), st.booleans()),
                   min_size=1, max_size=12)


@settings(max_examples=80, deadline=None)
@given(entries, st.integers(0, 41), st.integers(0, 41), st.booleans())
def test_bill_rows_compose_what_the_entries_compose(chosen: list, charge_day: int, credit_day: int,
                                                    no_cutoff: bool) -> None:
    """bill_rows picks the entries entries_for_bill picks, compose_rows gives compose's totals, and issuing either
    gives the account the same event and state (prepayments, adjustments and JSON-form entries among them)."""
    account = new_account(at=AT)
    for n, (kind, amount, rate, day, text, adjust, prepay) in enumerate(chosen):
        tax = (amount * Decimal(rate) / 100).quantize(Decimal("0.000001")) if rate else Decimal(0)
        taxes = [TaxLine("VAT", Decimal(rate), tax)] if rate is not None else []
        account.apply_charge(AT, charge_id=f"c{n}", charge_type=kind, currency_code="EUR", tax_excluded=amount,
                             taxes=taxes, tax_included=amount + tax, effective_at=AT + timedelta(days=day, hours=n),
                             product_ref=f"P{n}" if n % 2 else None, description=text)
        if adjust and kind != CREDIT:
            account.adjust_charge(AT, adjustment_id=f"a{n}", charge_id=f"c{n}", tax_excluded=Decimal("-0.01"),
                                  taxes=[], tax_included=Decimal("-0.01"), effective_at=AT + timedelta(days=day),
                                  reason="fix")
        if prepay and kind != CREDIT:
            account.receive_payment(AT, payment_id=UUID(int=n + 1), amount=Decimal("0.01"),
                                    allocations=[{"target": "charge", "id": f"c{n}", "amount": Decimal("0.01")}],
                                    effective_at=AT)
    charge_cut = None if no_cutoff else AT + timedelta(days=charge_day)
    credit_cut = None if no_cutoff else AT + timedelta(days=credit_day)
    plain, rows = account.entries_for_bill(charge_cut, credit_cut), account.bill_rows(charge_cut, credit_cut)
    assert [r.id for r in rows] == [e.id for e in plain]
    assert compose_rows(rows, "EUR") == compose(plain, "EUR")
    if not plain:
        return
    twin = copy.deepcopy(account)
    for issuer, chosen_entries in ((account, plain), (twin, rows)):
        issuer.collect_events()
        issuer.issue_bill(AT, bill_id=BILL_ID, bill_number="B-1", run_type="offCycle", cycle_id=None,
                          entries=chosen_entries, amount_due=compose(plain, "EUR").tax_included_amount,
                          bill_date="2026-11-01", payment_due_date="2026-11-15")
    assert [vars(e) for e in twin.collect_events()] == [vars(e) for e in account.collect_events()]
    assert vars(twin) == vars(account)
