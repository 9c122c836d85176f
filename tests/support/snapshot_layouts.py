"""Older BillingAccount snapshot layouts, built from a live account, for the upcasting tests."""

from __future__ import annotations

from typing import Any

from ledger.aggregates.account_storage import pack_entry_v2
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.entries import Entry


def version_1_entry(e: Entry) -> dict[str, Any]:
    """An unbilled entry as a version-1 state held it: a dict with Decimal amounts and string tax lines."""
    return {"id": e.id, "kind": e.kind, "charge_id": e.charge_id, "product_ref": e.product_ref,
            "tax_excluded": e.tax_excluded,
            "taxes": [{"category": t.category, "rate": str(t.rate), "amount": str(t.amount)} for t in e.taxes],
            "tax_included": e.tax_included, "effective_at": e.effective_at, "description": e.description,
            "paid_by": dict(e.paid_by)}


def version_2_state(account: BillingAccount) -> dict[str, Any]:
    """The account's state in the version-2 layout, in memory (Decimals, datetimes): entries packed with full kind
    names and no fingerprint slot, every charge's net in `nets` and its fingerprint in `caller_ids`, last_activity."""
    state = {k: v for k, v in vars(account).items() if k not in ("_id", "_version", "_pending_events")}
    entries = {}
    for entry_id in state["entries"]:
        e = account.unbilled[entry_id]
        entries[entry_id] = pack_entry_v2(
            e.kind, None if e.charge_id == entry_id else e.charge_id, e.product_ref, str(e.tax_excluded),
            [[t.category, str(t.rate), str(t.amount)] for t in e.taxes], str(e.tax_included), e.effective_at,
            e.description)
    fingerprints = {f"charge:{c}": account.charge_record(c)[0] for c in account.charge_net}  # type: ignore[index]
    state.pop("charges")
    return {**state, "entries": entries, "nets": {c: str(n) for c, n in account.charge_net.items()},
            "caller_ids": {**state["caller_ids"], **fingerprints}, "last_activity": account.last_activity}


def version_2_snapshot_state(account: BillingAccount) -> dict[str, Any]:
    """The state a version-2 `BillingAccount.Snapshot` stored: the version-2 layout with its Decimals and datetimes
    as strings, and its class version."""
    state = version_2_state(account)
    for key in ("credit_limit", "balance", "credit_balance", "prepaid_balance", "unbilled_sum"):
        state[key] = str(state[key])
    for key in ("_created_on", "_modified_on"):
        state[key] = state[key].isoformat()
    state["open_bills"] = {k: {**b, "remaining": str(b["remaining"])} for k, b in state["open_bills"].items()}
    state["entry_paid"] = {k: {p: str(v) for p, v in paid.items()} for k, paid in state["entry_paid"].items()}
    state["prepaid_excess"] = {k: str(v) for k, v in state["prepaid_excess"].items()}
    state["class_version"] = 2
    return state


def version_3_snapshot_state(account: BillingAccount) -> dict[str, Any]:
    """The state a version-3 `BillingAccount.Snapshot` stored: today's, with `last_activity`."""
    state = dict(BillingAccount.Snapshot.take(account).state)
    state.update(class_version=3, last_activity=account.last_activity)
    return state
