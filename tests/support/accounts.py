"""Building aggregates directly, without a store: a BillingAccount opened with everyday values.

Usage:
    account = new_account()                                    # ACC-1, EUR, postpaid, monthly, UTC
    account = new_account("JPY", rating_type="prepaid", credit_limit="5", time_zone="Asia/Tokyo")
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from ledger.aggregates.billing_account import BillingAccount

OPENED_AT = datetime(2026, 10, 1, 9, tzinfo=UTC)


def new_account(currency: str = "EUR", *, at: datetime = OPENED_AT, rating_type: str = "postpaid",
                credit_limit: str = "0", **values: Any) -> BillingAccount:
    """A BillingAccount opened at `at`: ACC-1 of customer C-1 on the monthly specification, in UTC, with no payment
    terms or default payment method and a new id, unless `values` (BillingAccount.open's arguments) say otherwise."""
    fields: dict[str, Any] = dict(id=uuid4(), account_ref="ACC-1", customer_id="C-1", currency_code=currency,
                                  rating_type=rating_type, cycle_specification="monthly", payment_terms_days=None,
                                  credit_limit=Decimal(credit_limit), default_payment_method=None, time_zone="UTC")
    return BillingAccount.open(at, **{**fields, **values})
