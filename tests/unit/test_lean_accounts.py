"""The lean body of GET billingAccount by id (ledger/http/lean_accounts.py) is the plain path's, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.aggregates.billing_account import BillingAccount
from ledger.http.accounts import plain_account_body
from ledger.http.lean_accounts import lean_account_body
from ledger.ports import fixed_clock
from ledger.queries.accounts import AccountSummary, account_day, summary_fields
from tests.support.account_events import AccountScript, varied_after
from tests.support.accounts import new_account

DAYS = [datetime(2026, 10, 2, tzinfo=UTC), datetime(2026, 11, 15, 23, 30, tzinfo=UTC),
        datetime(2026, 12, 20, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)]  # before, on and after the due dates


def _both(account: BillingAccount, now: datetime) -> tuple[bytes | None, bytes]:
    clock = fixed_clock(now)
    lean = lean_account_body(account, account_day(clock, account.time_zone))
    return lean, plain_account_body(AccountSummary(**summary_fields(account, clock)))


def _varied(**opened: Any) -> BillingAccount:
    script = AccountScript(**opened)
    script.charge("c1", "10.123456", at="2026-10-05T10:00:00Z", recorded="2026-10-05T10:05:00Z", tax="2.02")
    return varied_after(script).account


ACCOUNTS = {
    "opened only": lambda: new_account(),
    "named, terms, a default method, a limit": lambda: new_account(
        name="ACME Paris", payment_terms_days=30, credit_limit="150", time_zone="Europe/Paris",
        default_payment_method={"id": "PM-1", "type": "bankCard"}),
    "JPY prepaid in Tokyo": lambda: new_account("JPY", rating_type="prepaid", credit_limit="5", time_zone="Asia/Tokyo"),
    "an id to escape in the href": lambda: new_account(account_ref="A B/ç?", customer_id="C/1", cycle_specification="m o"),
    "bills, payments, a refund, a reversal": lambda: _varied(),
    "the same in New York": lambda: _varied(time_zone="America/New_York", credit_limit="100"),
    "JPY with a bill part paid": lambda: _yen(),
}


def _yen() -> BillingAccount:
    script = AccountScript(currency="JPY", time_zone="Asia/Tokyo")
    script.charge("y1", "1234.5", at="2026-10-05T10:00:00Z", recorded="2026-10-05T10:05:00Z")
    script.charge("y2", "99", at="2026-10-07T10:00:00Z", recorded="2026-10-07T10:05:00Z", tax="20")
    script.bill("2026-11-01", recorded="2026-11-01T12:00:00Z")
    script.pay("Y-P", "500", at="2026-11-03T00:00:00Z", recorded="2026-11-03T00:00:00Z", bill=1)
    script.charge("y3", "10", at="2026-11-04T10:00:00Z", recorded="2026-11-04T10:05:00Z")
    return script.account


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
@pytest.mark.parametrize("now", DAYS, ids=[d.date().isoformat() for d in DAYS])
def test_the_lean_body_is_the_plain_body(name: str, now: datetime) -> None:
    """For varied accounts on days before and after their bills are due, both paths render the same bytes."""
    lean, plain = _both(ACCOUNTS[name](), now)
    assert lean == plain


def test_a_suspended_then_unbilled_account_renders_the_same() -> None:
    """A suspended account with unbilled charges and an open bill: the same bytes."""
    account = _varied()
    account.suspend(datetime(2026, 12, 5, tzinfo=UTC), "unpaid")
    for now in DAYS:
        lean, plain = _both(account, now)
        assert lean == plain


def test_an_account_the_models_would_refuse_is_left_to_the_plain_path() -> None:
    """A NUL character, a state outside the model's literals, a method without type: declined (the plain path raises)."""
    with_nul = new_account(name="bad\x00name")
    odd_state = new_account()
    odd_state.status = "archived"
    untyped_method = new_account(default_payment_method={"id": "PM-2", "type": None})
    for account in (with_nul, odd_state, untyped_method):
        assert lean_account_body(account, DAYS[0].date()) is None
        with pytest.raises(ValueError):
            _both(account, DAYS[0])


def test_an_amount_beyond_the_money_pattern_is_left_to_the_plain_path() -> None:
    """A credit balance finer than Money's six places: declined by the lean path, refused by the model."""
    account = new_account()
    account.credit_balance = Decimal("0.0000001")
    assert lean_account_body(account, DAYS[0].date()) is None
    with pytest.raises(ValueError):
        _both(account, DAYS[0])
