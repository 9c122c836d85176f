"""TMF620 productOffering lifecycleStatus over HTTP, and the product and paymentMethod lists filtered by the
database (exact X-Total-Count), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.contracts.tmf import CATALOG_API, INVENTORY_API, PAYMENT_METHOD_API
from tests.support.api import ACCOUNTS, SPECS, Api, account_body, api_on, set_up, spec_body
from tests.support.ledger_factory import FakeClock
from tests.support.onboarding import MASTER_KEY

OFFERINGS = f"{CATALOG_API}/productOffering"
PRODUCTS = f"{INVENTORY_API}/product"
METHODS = f"{PAYMENT_METHOD_API}/paymentMethod"


@pytest.fixture
def sealed_api(make_settings: Any) -> Iterator[Api]:
    with api_on(make_settings(master_key=MASTER_KEY), FakeClock()) as on:
        yield on


def offering_body(oid: str = "BASIC") -> dict[str, Any]:
    return {"id": oid, "name": f"offering {oid}", "productOfferingPrice": [
        {"name": "monthly", "priceType": "recurring", "price": {"unit": "EUR", "value": "20.00"},
         "recurringChargePeriodType": "monthly", "timing": "advance",
         "validFor": {"startDateTime": "2026-01-01"}}]}


def product_body(pid: str, account: str, offering: str = "BASIC", start: str = "2026-11-20") -> dict[str, Any]:
    return {"id": pid, "billingAccount": {"id": account}, "productOffering": {"id": offering}, "startDate": start}


def test_a_new_offering_is_active_and_sellable(sealed_api: Api) -> None:
    """POST productOffering answers lifecycleStatus Active and isSellable."""
    body = sealed_api.post(OFFERINGS, offering_body()).json()
    assert (body["lifecycleStatus"], body["isSellable"]) == ("Active", True)


def test_patch_lifecycle_status_moves_the_offering(sealed_api: Api) -> None:
    """PATCH lifecycleStatus Retired is 200; GET and the list filtered by lifecycleStatus show it."""
    sealed_api.post(OFFERINGS, offering_body("A"))
    sealed_api.post(OFFERINGS, offering_body("B"))
    patched = sealed_api.patch(f"{OFFERINGS}/A", {"lifecycleStatus": "Retired", "statusReason": "end of range"})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["lifecycleStatus"], patched.json()["isSellable"]) == ("Retired", False)
    retired = sealed_api.get(OFFERINGS, params={"lifecycleStatus": "Retired"})
    assert [o["id"] for o in retired.json()] == ["A"] and retired.headers["X-Total-Count"] == "1"
    assert sealed_api.get(OFFERINGS, params={"lifecycleStatus": "Active"}).headers["X-Total-Count"] == "1"


def test_a_move_not_allowed_is_a_422_and_changes_nothing(sealed_api: Api) -> None:
    """Active -> In study is refused with invalid_lifecycle_transition; the offering stays Active."""
    sealed_api.post(OFFERINGS, offering_body())
    refused = sealed_api.patch(f"{OFFERINGS}/BASIC", {"lifecycleStatus": "In study"})
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_lifecycle_transition"
    assert "cannot become In study" in refused.json()["message"]
    assert sealed_api.get(f"{OFFERINGS}/BASIC").json()["lifecycleStatus"] == "Active"


def test_an_unknown_status_is_a_400(sealed_api: Api) -> None:
    """A lifecycleStatus that is not TMF620's is bad input."""
    sealed_api.post(OFFERINGS, offering_body())
    assert sealed_api.patch(f"{OFFERINGS}/BASIC", {"lifecycleStatus": "Sold out"}).status_code == 400


def test_a_patch_with_nothing_to_change_is_a_400(sealed_api: Api) -> None:
    """PATCH without prices or lifecycleStatus is refused."""
    sealed_api.post(OFFERINGS, offering_body())
    assert sealed_api.patch(f"{OFFERINGS}/BASIC", {}).status_code == 400


def test_a_retired_offering_refuses_new_products_and_keeps_the_old_ones(sealed_api: Api) -> None:
    """After Retired, POST product is 422 offering_not_sellable; the existing product is still there, active."""
    set_up(sealed_api, "ACME")
    sealed_api.post(OFFERINGS, offering_body())
    assert sealed_api.post(PRODUCTS, product_body("PR-1", "ACME")).status_code == 201
    sealed_api.patch(f"{OFFERINGS}/BASIC", {"lifecycleStatus": "Retired"})
    refused = sealed_api.post(PRODUCTS, product_body("PR-2", "ACME"))
    assert refused.status_code == 422 and refused.json()["code"] == "offering_not_sellable"
    assert sealed_api.get(f"{PRODUCTS}/PR-1").json()["status"] == "active"


def test_a_change_to_a_retired_offering_is_refused(sealed_api: Api) -> None:
    """PATCH product productOffering to a Retired offering is 422; its quantity can still change."""
    set_up(sealed_api, "ACME")
    sealed_api.post(OFFERINGS, offering_body("BASIC"))
    sealed_api.post(OFFERINGS, offering_body("OLD"))
    sealed_api.post(PRODUCTS, product_body("PR-1", "ACME", "OLD"))
    sealed_api.patch(f"{OFFERINGS}/OLD", {"lifecycleStatus": "Retired"})
    sealed_api.patch(f"{OFFERINGS}/BASIC", {"lifecycleStatus": "Retired"})
    refused = sealed_api.patch(f"{PRODUCTS}/PR-1", {"productOffering": {"id": "BASIC"}, "effectiveDate": "2026-12-01"})
    assert refused.status_code == 422 and refused.json()["code"] == "offering_not_sellable"
    kept = sealed_api.patch(f"{PRODUCTS}/PR-1", {"quantity": 2, "effectiveDate": "2026-12-01"})
    assert kept.status_code == 200, kept.text


def test_the_product_list_filters_status_and_offering_with_exact_totals(sealed_api: Api) -> None:
    """status and productOffering.id are filtered before paging: X-Total-Count counts the matches only."""
    set_up(sealed_api, "ACME")
    sealed_api.post(OFFERINGS, offering_body("BASIC"))
    sealed_api.post(OFFERINGS, offering_body("PLUS"))
    for n in range(5):
        made = sealed_api.post(PRODUCTS, product_body(f"PR-{n}", "ACME", "PLUS" if n % 2 else "BASIC",
                                                "2026-11-20" if n < 4 else "2026-12-15"))
        assert made.status_code == 201, made.text
    sealed_api.patch(f"{PRODUCTS}/PR-2", {"status": "suspended", "effectiveDate": "2026-11-20"})
    active = sealed_api.get(PRODUCTS, params={"status": "active", "limit": 2})
    assert active.headers["X-Total-Count"] == "3" and [p["id"] for p in active.json()] == ["PR-0", "PR-1"]
    assert [p["id"] for p in sealed_api.get(PRODUCTS, params={"status": "active", "offset": 2}).json()] == ["PR-3"]
    assert [p["id"] for p in sealed_api.get(PRODUCTS, params={"status": "created"}).json()] == ["PR-4"]
    assert [p["id"] for p in sealed_api.get(PRODUCTS, params={"status": "suspended"}).json()] == ["PR-2"]
    plus = sealed_api.get(PRODUCTS, params={"productOffering.id": "PLUS", "status": "active"})
    assert plus.headers["X-Total-Count"] == "2" and [p["id"] for p in plus.json()] == ["PR-1", "PR-3"]


def test_the_product_list_follows_a_change_of_offering_and_a_termination(sealed_api: Api) -> None:
    """The offering filter takes the phase in force today; a terminated product is found as terminated."""
    set_up(sealed_api, "ACME")
    sealed_api.post(OFFERINGS, offering_body("BASIC"))
    sealed_api.post(OFFERINGS, offering_body("PLUS"))
    sealed_api.post(PRODUCTS, product_body("PR-1", "ACME", start="2026-11-01"))
    sealed_api.post(PRODUCTS, product_body("PR-2", "ACME", start="2026-11-01"))
    sealed_api.patch(f"{PRODUCTS}/PR-1", {"productOffering": {"id": "PLUS"}, "effectiveDate": "2026-11-15"})
    sealed_api.patch(f"{PRODUCTS}/PR-2", {"productOffering": {"id": "PLUS"}, "effectiveDate": "2026-12-01"})
    assert [p["id"] for p in sealed_api.get(PRODUCTS, params={"productOffering.id": "PLUS"}).json()] == ["PR-1"]
    assert [p["id"] for p in sealed_api.get(PRODUCTS, params={"productOffering.id": "BASIC"}).json()] == ["PR-2"]
    sealed_api.patch(f"{PRODUCTS}/PR-2", {"status": "terminated", "terminationDate": "2026-11-10"})
    gone = sealed_api.get(PRODUCTS, params={"status": "terminated"})
    assert [p["id"] for p in gone.json()] == ["PR-2"] and gone.headers["X-Total-Count"] == "1"
    assert [p["id"] for p in sealed_api.get(PRODUCTS, params={"productOffering.id": "PLUS"}).json()] == ["PR-1", "PR-2"]


def test_the_product_status_is_judged_in_each_accounts_time_zone(sealed_api: Api) -> None:
    """At 11:00 UTC on 19 November it is already the 20th at UTC+14: that account's product is active, the
    UTC one's is still created."""
    assert sealed_api.post(SPECS, spec_body()).status_code in (200, 201)
    for account, zone in (("EAST", "Pacific/Kiritimati"), ("WEST", "UTC")):
        assert sealed_api.post(ACCOUNTS, account_body(account, timeZone=zone)).status_code == 201
    sealed_api.parts.clock.set(datetime(2026, 11, 19, 11, tzinfo=UTC))  # type: ignore[attr-defined]
    sealed_api.post(OFFERINGS, offering_body())
    for pid, account in (("PR-E", "EAST"), ("PR-W", "WEST")):
        assert sealed_api.post(PRODUCTS, product_body(pid, account)).status_code == 201
    assert [p["id"] for p in sealed_api.get(PRODUCTS, params={"status": "active"}).json()] == ["PR-E"]
    assert [p["id"] for p in sealed_api.get(PRODUCTS, params={"status": "created"}).json()] == ["PR-W"]


def test_the_payment_method_list_counts_expired_and_owner_filters_exactly(sealed_api: Api) -> None:
    """An active card past its expiry is expired (not active); owner and type filters page with exact totals."""
    set_up(sealed_api, "ACME", "BETA")
    cards = [("PM-0", "ACME", "12/2030"), ("PM-1", "ACME", "11/2026"), ("PM-2", "BETA", "12/2030"),
             ("PM-3", "ACME", "12/2030")]
    for mid, account, expiry in cards:
        made = sealed_api.post(METHODS, {"id": mid, "@type": "bankCard", "account": [{"id": account}], "brand": "Visa",
                                   "lastFourDigits": "1111", "expirationDate": expiry, "gatewayToken": f"tok_{mid}"})
        assert made.status_code == 201, made.text
    sealed_api.parts.clock.set(datetime(2026, 12, 7, tzinfo=UTC))  # type: ignore[attr-defined]  # PM-1 ran to November
    expired = sealed_api.get(METHODS, params={"status": "expired"})
    assert [m["id"] for m in expired.json()] == ["PM-1"] and expired.headers["X-Total-Count"] == "1"
    active = sealed_api.get(METHODS, params={"account.id": "ACME", "status": "active", "offset": 1, "limit": 1})
    assert active.headers["X-Total-Count"] == "2" and [m["id"] for m in active.json()] == ["PM-3"]
    assert sealed_api.get(METHODS, params={"@type": "cash"}).headers["X-Total-Count"] == "0"
    assert sealed_api.get(METHODS, params={"account.id": "BETA"}).headers["X-Total-Count"] == "1"
