"""API keys of the HTTP API: made here (random, shown once), stored only as a hash (ledger.ports.ApiRecords).

Shared by `ledger api-key ...` and the API's admin routes. A key reads `lk_<key id>_<secret>`: the key id is
public (to list and revoke keys by), the secret is 256 random bits; the stored hash is SHA-256 of the whole key
(a slow password hash adds nothing for a key this random, and every request checks one).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from ledger.errors import InvalidInput, NotFound
from ledger.ports import ApiKeyRecord, ApiRecords

RATING, BILLING_OPS, AUDITOR, REPORTING, CUSTOMER, ADMIN = "rating", "billing-ops", "auditor", "reporting", "customer", "admin"
ROLES = (RATING, BILLING_OPS, AUDITOR, REPORTING, CUSTOMER, ADMIN)
PREFIX = "lk_"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def check_role(role: str, accounts: Iterable[str] | None) -> frozenset[str] | None:
    """The accounts a key of `role` is bound to: a customer key needs at least one, other roles none."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}, not {role!r}", role=role)
    bound = frozenset(a.strip() for a in accounts or () if a.strip())
    if role == CUSTOMER and not bound:
        raise InvalidInput("a customer key is bound to its billing accounts: give at least one (--account ID)")
    if role != CUSTOMER and bound:
        raise InvalidInput(f"only customer keys are bound to accounts, not {role} keys")
    return bound if role == CUSTOMER else None


def create_api_key(records: ApiRecords, role: str, accounts: Iterable[str] | None, label: str,
                   now: float) -> tuple[str, ApiKeyRecord]:
    """A new key (returned once: only its hash is stored) and its record."""
    bound = check_role(role, accounts)
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    record = ApiKeyRecord(key_id, role, bound, label, now)
    records.add_key(record, key_hash(key))
    return key, record


def revoke_api_key(records: ApiRecords, key_id: str, now: float) -> None:
    if not records.revoke_key(key_id, now):
        raise ApiKeyNotFound(f"no active API key {key_id!r}", key_id=key_id)


def key_info(record: ApiKeyRecord) -> dict[str, object]:
    """A key's record as JSON-ready data (never the key)."""
    return {"key_id": record.key_id, "role": record.role, "accounts": sorted(record.accounts) if record.accounts else None,
            "label": record.label, "created_at": record.created_at, "revoked_at": record.revoked_at,
            "last_used_at": record.last_used_at}
