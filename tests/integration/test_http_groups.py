"""Customer groups over HTTP (customerGroup, its members and totals), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from ledger.settings import Settings
from tests.support.api import Api, api_on
from tests.support.ledger_factory import FakeClock, define_spec, open_account, pay, run_cycle
from tests.support.master_data import create_customer, define_offering, recurring_price, subscribe

GROUPS = "/tmf-api/customerManagement/v4/customerGroup"
KEY = "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmctLS0"  # 32 bytes, base64 (a test key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 10, 5, 8, tzinfo=UTC))


@pytest.fixture
def gapi(make_settings: Callable[..., Settings], clock: FakeClock) -> Iterator[Api]:
    """The API with personal data enabled, customers cust-A and cust-B."""
    with api_on(make_settings(master_key=KEY), clock) as on:
        for ref in ("cust-A", "cust-B"):
            create_customer(on.parts.ledger, ref)
        yield on


def _gold(api: Api, **extra: str) -> dict:
    response = api.post(GROUPS, {"id": "GOLD", "name": "Gold", "discountRate": "10", "billPresentationMedia": "email",
                                 **extra})
    assert response.status_code in (200, 201), response.json()
    return response.json()


def test_a_group_is_created_read_back_and_created_again(gapi: Api) -> None:
    """POST answers 201 with the group; GET the same; the same again 200; other values 409."""
    created = _gold(gapi)
    assert created["discountRate"] == "10" and created["@type"] == "CustomerGroup" and created["state"] == "active"
    assert gapi.get(f"{GROUPS}/GOLD").json() == created
    assert gapi.post(GROUPS, {"id": "GOLD", "name": "Gold", "discountRate": "10",
                              "billPresentationMedia": "email"}).status_code == 200
    assert gapi.post(GROUPS, {"id": "GOLD", "name": "Gold", "discountRate": "11"}).status_code == 409


def test_a_bad_rate_is_400(gapi: Api) -> None:
    """A rate outside 0..100 is refused before anything is stored; a JSON number too."""
    assert gapi.post(GROUPS, {"id": "G", "name": "G", "discountRate": "150"}).status_code == 400
    assert gapi.post(GROUPS, {"id": "G", "name": "G", "discountRate": 10}).status_code == 400
    assert gapi.get(f"{GROUPS}/G").status_code == 404


def test_members_are_assigned_and_an_overlap_is_refused(gapi: Api) -> None:
    """A member joins (201); joining a second group for the same days is 422; an unknown customer 404."""
    _gold(gapi)
    gapi.post(GROUPS, {"id": "SILVER", "name": "Silver", "discountRate": "5"})
    joined = gapi.post(f"{GROUPS}/GOLD/member", {"id": "cust-A", "startDate": "2026-10-11"})
    assert joined.status_code == 201
    assert [(m["id"], m["validFor"]["startDate"]) for m in joined.json()["member"]] == [("cust-A", "2026-10-11")]
    overlap = gapi.post(f"{GROUPS}/SILVER/member", {"id": "cust-A", "startDate": "2026-12-01"})
    assert overlap.status_code == 422 and overlap.json()["code"] == "rule_violation"
    assert gapi.post(f"{GROUPS}/GOLD/member", {"id": "nobody"}).status_code == 404


def test_patch_changes_the_rate_from_a_day(gapi: Api) -> None:
    """discountRate with discountRateValidFrom adds a version; today's rate stays until then."""
    _gold(gapi)
    patched = gapi.patch(f"{GROUPS}/GOLD", {"discountRate": "20", "discountRateValidFrom": "2026-11-16"}).json()
    assert patched["discountRate"] == "10"
    assert patched["discountRates"] == [{"rate": "10"}, {"rate": "20", "validFrom": "2026-11-16"}]


def test_delete_only_when_empty(gapi: Api) -> None:
    """A group with a member is not deleted (422); once removed, DELETE answers 204 and the group reads deleted."""
    _gold(gapi)
    gapi.post(f"{GROUPS}/GOLD/member", {"id": "cust-A"})
    assert gapi.call("DELETE", f"{GROUPS}/GOLD").status_code == 422
    assert gapi.call("DELETE", f"{GROUPS}/GOLD/member/cust-A").json()["member"] == []  # until yesterday: cancelled
    assert gapi.call("DELETE", f"{GROUPS}/GOLD").status_code == 204
    assert gapi.get(f"{GROUPS}/GOLD").json()["state"] == "deleted"
    assert gapi.get(GROUPS).json() == [] and len(gapi.get(GROUPS, params={"state": "deleted"}).json()) == 1


def test_totals_report_the_members_bills(gapi: Api, clock: FakeClock) -> None:
    """cust-A (GOLD 10% from 11 October) on 31.00/month + VAT from 5 October: its October bill 63.36, 20.00 paid."""
    ledger = gapi.parts.ledger
    define_spec(ledger, payment_due_date_offset=14)
    define_offering(ledger, "BASIC", recurring_price("31.00"))
    open_account(ledger, "A", "EUR")
    subscribe(ledger, "S-1", "A", "BASIC", "2026-10-05")
    _gold(gapi)
    gapi.post(f"{GROUPS}/GOLD/member", {"id": "cust-A", "startDate": "2026-10-11"})
    clock.set(datetime(2026, 11, 1, 6, tzinfo=UTC))
    run_cycle(ledger, "2026-10-01")
    pay(ledger, "A", "pay-1", "20.00", "EUR", "2026-11-01T06:00:00+00:00")
    totals = gapi.get(f"{GROUPS}/GOLD/totals", role="auditor").json()
    assert totals["totals"] == [{"currency": "EUR", "bills": 1, "billed": {"unit": "EUR", "value": "63.36"},
                                 "paid": {"unit": "EUR", "value": "20.00"},
                                 "outstanding": {"unit": "EUR", "value": "43.36"}}]
    assert gapi.post(GROUPS, {"id": "X", "name": "X"}, role="auditor").status_code == 403
