"""The plain ASGI path of GET billingAccount by id (ledger.http.fast_reads) answers exactly as FastAPI's route."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.http.accounts import BillingAccount, plain_account_body
from ledger.http.fast_reads import AccountGet
from ledger.http.tmf import dump, selected
from ledger.queries.accounts import account_summary
from tests.support.api import ACCOUNTS, PAYMENTS, Api, api_on, charge_body, money, payment_body, set_up
from tests.support.ledger_factory import FakeClock

CHARGES = "/tmf-api/customerBillManagement/v4/appliedCustomerBillingRate"


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each GET by id the fast path saw: True when it answered, False when it left the request to the app."""
    seen: list[bool] = []
    original = AccountGet._answer

    async def spy(self: AccountGet, scope: dict[str, Any], account_id: str) -> bytes | None:
        body = await original(self, scope, account_id)
        seen.append(body is not None)
        return body

    monkeypatch.setattr(AccountGet, "_answer", spy)
    return seen


def _raw(api: Api, url: str, role: str = "billing-ops", accounts: list[str] | None = None) -> tuple[int, list[Any], bytes]:
    response = api.client.get(url, headers=api.auth(role, accounts))
    return response.status_code, sorted(response.headers.multi_items()), response.content


def test_both_paths_answer_the_same_bytes(make_settings: Any, answered: list[bool]) -> None:
    """The same requests through the fast path and through FastAPI alone: same status, headers and body."""
    settings = make_settings()
    clock = FakeClock()  # one clock for both apps
    with api_on(settings, clock) as fast, api_on(settings, clock, fast_reads=False) as plain:
        set_up(fast, "ACME", "OTHER")
        charge = charge_body("ACME", "c-1", "12.50", "2026-10-03T10:00:00Z", taxes=[("VAT", "20", "2.50")])
        assert fast.post(CHARGES, charge, role="rating").status_code == 201
        for url, role, accounts in ((f"{ACCOUNTS}/ACME", "billing-ops", None), (f"{ACCOUNTS}/ACME", "billing-ops", None),
                                    (f"{ACCOUNTS}/ACME", "customer", ["ACME"]), (f"{ACCOUNTS}/ACME", "customer", ["OTHER"]),
                                    (f"{ACCOUNTS}/NOBODY", "billing-ops", None),
                                    (f"{ACCOUNTS}/ACME?fields=state", "billing-ops", None),
                                    (f"{ACCOUNTS}/{'x' * 201}", "billing-ops", None)):
            for _ in range(2):  # the second time the key is a recently checked one
                assert _raw(fast, url, role, accounts) == _raw(plain, url, role, accounts), url
        assert True in answered  # the fast path did answer some of them
        built = dump(BillingAccount.of(account_summary(fast.parts.reads, fast.parts.clock, "ACME")))
        assert fast.get(f"{ACCOUNTS}/ACME").json() == built  # the cached bytes are the body built now
        assert fast.get(f"{ACCOUNTS}/ACME?fields=state,name").json() == selected(built, frozenset(
            {"state", "name", "id", "href", "@type"}))


def test_a_recently_checked_key_is_answered_by_the_fast_path(make_settings: Any, answered: list[bool]) -> None:
    """The first GET with a key goes through FastAPI (the key is checked); the next ones skip it."""
    with api_on(make_settings(), FakeClock()) as api:
        set_up(api, "ACME")
        answered.clear()
        first, second = api.get(f"{ACCOUNTS}/ACME"), api.get(f"{ACCOUNTS}/ACME")
        assert first.status_code == second.status_code == 200 and first.content == second.content
        assert answered[-1] is True


def test_the_fast_path_reads_another_workers_write(make_settings: Any, answered: list[bool]) -> None:
    """A body cached by the fast path is not served after another worker changed the account."""
    settings = make_settings()
    with api_on(settings, FakeClock()) as reader, api_on(settings, FakeClock()) as writer:
        set_up(writer, "ACME")
        assert reader.get(f"{ACCOUNTS}/ACME").json()["state"] == "active"
        assert reader.get(f"{ACCOUNTS}/ACME").json()["state"] == "active"
        assert writer.patch(f"{ACCOUNTS}/ACME", {"state": "suspended"}).status_code == 200
        answered.clear()
        assert reader.get(f"{ACCOUNTS}/ACME").json()["state"] == "suspended"
        assert answered == [True]


def test_a_customer_key_never_sees_another_account_through_the_fast_path(make_settings: Any,
                                                                          answered: list[bool]) -> None:
    """A customer's key for its own account, cached, still gets a 404 for any other account."""
    with api_on(make_settings(), FakeClock()) as api:
        set_up(api, "ACME", "OTHER")
        assert api.client.get(f"{ACCOUNTS}/ACME", headers=api.auth("customer", ["ACME"])).status_code == 200
        assert api.client.get(f"{ACCOUNTS}/ACME", headers=api.auth("customer", ["ACME"])).status_code == 200
        answered.clear()
        other = api.client.get(f"{ACCOUNTS}/OTHER", headers=api.auth("customer", ["ACME"]))
        assert other.status_code == 404 and answered == [False]


def test_a_served_body_is_the_plain_models_body_byte_for_byte(make_settings: Any, answered: list[bool]) -> None:
    """After charges, a payment, new terms and a suspension, the served bytes are the TMF model's rendering."""
    with api_on(make_settings(), FakeClock()) as api:
        set_up(api, "ACME")
        for n, amount in enumerate(("12.50", "0.000125", "7")):
            charge = charge_body("ACME", f"c-{n}", amount, "2026-10-03T10:00:00Z", taxes=[("VAT", "20", "0.10")])
            assert api.post(CHARGES, charge, role="rating").status_code == 201
        assert api.post(PAYMENTS, payment_body("ACME", "PAY-1", "4.00", "2026-11-05T10:00:00+01:00")).status_code == 201
        terms = {"paymentTermsDays": 21, "creditLimit": money("50"), "state": "suspended", "reason": "checked",
                 "defaultPaymentMethod": {"id": "pm-9", "@referredType": "bankCard"}}
        assert api.patch(f"{ACCOUNTS}/ACME", terms).status_code == 200
        for _ in range(2):  # built, then from the cache (the fast path)
            served = api.get(f"{ACCOUNTS}/ACME").content
            assert served == plain_account_body(account_summary(api.parts.reads, api.parts.clock, "ACME"))
        assert answered[-1] is True
