"""Deterministic aggregate ids (uuid5 of business keys): creating the same thing twice is idempotent."""

from __future__ import annotations

from datetime import date
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.recent import Recent

LEDGER_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ledger:billing")


_ACCOUNT_IDS = Recent(100_000)


def account_id(account_ref: str) -> UUID:
    """Memoised (bounded): ingestion asks for the same few thousand accounts' ids batch after batch."""
    found = _ACCOUNT_IDS.get(account_ref)
    if found is None:
        found = _ACCOUNT_IDS.keep(account_ref, uuid5(LEDGER_NAMESPACE, f"billing-account:{account_ref}"))
    return found


def cycle_spec_id(name: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"billing-cycle-specification:{name}")


def cycle_id(spec_name: str, period_start: date) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"party-billing-cycle:{spec_name}:{period_start.isoformat()}")


def on_cycle_bill_id(account: UUID, cycle: UUID) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"customer-bill:{account}:cycle:{cycle}")


def off_cycle_bill_id(account: UUID, request_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"customer-bill:{account}:off-cycle:{request_id}")


def payment_id(external_reference: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"customer-payment:{external_reference}")


def customer_id(customer_ref: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"customer:{customer_ref}")


def offering_id(offering_ref: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"product-offering:{offering_ref}")


def subscription_id(subscription_ref: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"product:{subscription_ref}")


def payment_method_id(method_ref: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"payment-method:{method_ref}")


def group_id(group_ref: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"customer-group:{group_ref}")
