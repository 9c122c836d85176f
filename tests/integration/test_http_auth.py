"""Credentials and roles over HTTP: API keys (hashed, revocable), bearer JWTs, 401/403, customers' 404."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any as SettingsFactory

import pytest

from ledger.commands.api_keys import key_hash
from tests.support.api import ACCOUNTS, Api, api_on, set_up
from tests.support.ledger_factory import FakeClock
from tests.support.tokens import Signer, jwt_settings


def test_no_credential_is_401(api: Api) -> None:
    """Every route but the health check and the OpenAPI document needs a credential."""
    response = api.client.get(ACCOUNTS)
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.client.get("/health").status_code == 200
    assert api.client.get("/openapi.json").status_code == 200


def test_an_unknown_key_is_401(api: Api) -> None:
    """A key that was never issued is refused without saying more."""
    response = api.client.get(ACCOUNTS, headers={"Authorization": "Bearer lk_000000000000_nope"})
    assert response.status_code == 401


def test_a_key_works_in_either_header(api: Api) -> None:
    """Authorization: Bearer and X-API-Key both carry an API key."""
    key = api.key("reporting")
    assert api.client.get(ACCOUNTS, headers={"X-API-Key": key}).status_code == 200
    assert api.client.get(ACCOUNTS, headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_a_revoked_key_is_401(make_settings: SettingsFactory) -> None:
    """Revoked by another process (the CLI), a key is refused once the cache no longer vouches for it."""
    with api_on(make_settings(api_key_cache_seconds=0.3), FakeClock()) as api:
        key = api.key("reporting")
        assert api.get(ACCOUNTS, role="reporting").status_code == 200
        api.parts.records.revoke_key(key.split("_")[1], time.time())
        time.sleep(0.4)
        assert api.client.get(ACCOUNTS, headers={"X-API-Key": key}).status_code == 401


def test_only_the_hash_of_a_key_is_stored(api: Api) -> None:
    """The key itself is not in the database: its hash is, and the last-used time is recorded."""
    key = api.key("reporting")
    api.get(ACCOUNTS, role="reporting")
    record = api.parts.records.key_by_hash(key_hash(key))
    assert record is not None and record.last_used_at is not None
    assert key not in repr(api.parts.records.keys())


def test_a_role_that_may_not_is_403(api: Api) -> None:
    """The rating role posts charges and nothing else."""
    response = api.get(ACCOUNTS, role="rating")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def test_a_customer_sees_only_its_own_account(api: Api) -> None:
    """A customer key bound to A1 reads A1; A2 answers 404 (its existence is not leaked), and lists hold A1 only."""
    set_up(api, "A1", "A2")
    mine = api.client.get(f"{ACCOUNTS}/A1", headers=api.auth("customer", ["A1"]))
    other = api.client.get(f"{ACCOUNTS}/A2", headers=api.auth("customer", ["A1"]))
    missing = api.client.get(f"{ACCOUNTS}/A3", headers=api.auth("customer", ["A1"]))
    assert mine.status_code == 200 and other.status_code == 404 and other.json() == missing.json() | {
        "message": other.json()["message"]}
    listed = api.client.get(ACCOUNTS, headers=api.auth("customer", ["A1"]))
    assert [a["id"] for a in listed.json()] == ["A1"] and listed.headers["X-Total-Count"] == "1"


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer(tmp_path)


@pytest.mark.parametrize("jwks", [False, True], ids=["pem", "jwks"])
def test_a_signed_token_with_a_role_is_accepted(make_settings: SettingsFactory, signer: Signer, jwks: bool) -> None:
    """A JWT signed by a configured key (PEM or JWKS), with issuer, audience and a role claim, is a credential."""
    with api_on(make_settings(**jwt_settings(signer, jwks)), FakeClock()) as api:
        ok = api.client.get(ACCOUNTS, headers={"Authorization": f"Bearer {signer.token(roles=['reporting'])}"})
        assert ok.status_code == 200


@pytest.mark.parametrize("claims", [{"roles": ["reporting"], "exp": 1}, {"roles": ["reporting"], "iss": "https://evil/"},
                                    {"roles": ["reporting"], "aud": "other"}, {"roles": ["nobody"]},
                                    {"roles": ["customer"]}],
                         ids=["expired", "issuer", "audience", "unknown-role", "customer-without-accounts"])
def test_a_token_failing_a_check_is_401(make_settings: SettingsFactory, signer: Signer, claims: dict) -> None:
    """Expiry, issuer, audience and the role claim are all checked."""
    with api_on(make_settings(**jwt_settings(signer)), FakeClock()) as api:
        response = api.client.get(ACCOUNTS, headers={"Authorization": f"Bearer {signer.token(**claims)}"})
        assert response.status_code == 401


def test_a_token_signed_by_another_key_is_401(make_settings: SettingsFactory, signer: Signer, tmp_path: Path) -> None:
    """A signature by a key that is not configured is refused."""
    other = Signer(tmp_path / "..", kid="k1")
    with api_on(make_settings(**jwt_settings(signer)), FakeClock()) as api:
        response = api.client.get(ACCOUNTS, headers={"Authorization": f"Bearer {other.token(roles=['reporting'])}"})
        assert response.status_code == 401


def test_a_customer_token_is_bound_to_its_claimed_accounts(make_settings: SettingsFactory, signer: Signer) -> None:
    """The customer's accounts come from the token's account claim."""
    with api_on(make_settings(**jwt_settings(signer)), FakeClock()) as api:
        set_up(api, "A1", "A2")
        token = signer.token(roles="customer", billing_accounts=["A2"])
        headers = {"Authorization": f"Bearer {token}"}
        assert api.client.get(f"{ACCOUNTS}/A2", headers=headers).status_code == 200
        assert api.client.get(f"{ACCOUNTS}/A1", headers=headers).status_code == 404
