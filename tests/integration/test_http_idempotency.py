"""Idempotency-Key on POST: the first response again for the same body, 409 for another, kept across restarts."""

from __future__ import annotations

import time
from typing import Any

from ledger.commands.api_keys import create_api_key
from tests.support.api import ACCOUNTS, SPECS, Api, account_body, api_on, set_up, spec_body
from tests.support.ledger_factory import FakeClock


def test_the_same_key_and_body_replays_the_first_response(api: Api) -> None:
    """A retry gets the first status and body (201, not the 200 a second open would answer), marked as replayed."""
    set_up(api)
    first = api.post(ACCOUNTS, account_body("ACME"), headers={"Idempotency-Key": "k-1"})
    again = api.post(ACCOUNTS, account_body("ACME"), headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_409(api: Api) -> None:
    """A key names one request: reusing it for another body is a conflict and runs nothing."""
    set_up(api)
    api.post(ACCOUNTS, account_body("ACME"), headers={"Idempotency-Key": "k-1"})
    other = api.post(ACCOUNTS, account_body("OTHER"), headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert api.get(f"{ACCOUNTS}/OTHER").status_code == 404


def test_a_refusal_is_replayed_too(api: Api) -> None:
    """A 4xx answer (a rule refused it) is the answer to that key."""
    first = api.post(ACCOUNTS, account_body("ACME", spec="nope"), headers={"Idempotency-Key": "k-2"})
    api.post(SPECS, spec_body("nope"))
    again = api.post(ACCOUNTS, account_body("ACME", spec="nope"), headers={"Idempotency-Key": "k-2"})
    assert first.status_code == again.status_code == 404 and again.content == first.content


def test_keys_are_per_caller(api: Api) -> None:
    """Two callers using the same key do not see each other's responses."""
    set_up(api)
    api.post(ACCOUNTS, account_body("A1"), headers={"Idempotency-Key": "same"})
    other_key = create_api_key(api.parts.records, "billing-ops", None, "second", 0.0)[0]
    response = api.client.post(ACCOUNTS, json=account_body("A2"),
                               headers={"Authorization": f"Bearer {other_key}", "Idempotency-Key": "same"})
    assert response.status_code == 201 and response.json()["id"] == "A2"


def test_a_key_is_recognised_after_a_restart(make_settings: Any) -> None:
    """Keys are stored in the event store's database: a new server process still replays the first response."""
    settings = make_settings()
    with api_on(settings, FakeClock()) as api:
        set_up(api)
        key = api.key("billing-ops")
        first = api.post(ACCOUNTS, account_body("ACME"), headers={"Idempotency-Key": "k-9"})
    with api_on(settings, FakeClock()) as api:
        again = api.client.post(ACCOUNTS, json=account_body("ACME"),
                                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "k-9"})
    assert again.status_code == 201 and again.content == first.content


def test_a_malformed_key_is_400(api: Api) -> None:
    """The header is printable ASCII without spaces, at most 255 characters."""
    response = api.post(SPECS, spec_body(), headers={"Idempotency-Key": "x" * 300})
    assert response.status_code == 400


def test_keys_older_than_kept_are_forgotten(api: Api) -> None:
    """After LEDGER_API_IDEMPOTENCY_HOURS the same key runs the request afresh (and old keys are purged)."""
    set_up(api)
    api.post(ACCOUNTS, account_body("ACME"), headers={"Idempotency-Key": "old"})
    keep = api.parts.settings.api_idempotency_hours * 3600
    assert api.parts.records.purge(time.time() - keep) == 0  # still kept
    assert api.parts.records.purge(time.time() + 1) >= 1  # older than now: purged
    again = api.post(ACCOUNTS, account_body("ACME"), headers={"Idempotency-Key": "old"})
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
