"""TMF629 customer, TMF620 catalogue, TMF637 product and TMF670 paymentMethod over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.contracts.tmf import CATALOG_API, CUSTOMER_API, INVENTORY_API, PAYMENT_METHOD_API
from ledger.eventstore import personal_data
from tests.support.api import ACCOUNTS, Api, account_body, set_up

CUSTOMERS = f"{CUSTOMER_API}/customer"
OFFERINGS = f"{CATALOG_API}/productOffering"
PRICES = f"{CATALOG_API}/productOfferingPrice"
PRODUCTS = f"{INVENTORY_API}/product"
METHODS = f"{PAYMENT_METHOD_API}/paymentMethod"


def customer_body(cid: str = "CU-1", name: str = "Zoé Durand", email: str = "zoe@example.org") -> dict[str, Any]:
    return {"id": cid, "name": name,
            "contactMedium": [{"mediumType": "email", "preferred": True, "characteristic": {"emailAddress": email}}]}


def offering_body(oid: str = "BASIC", amount: str = "20.00") -> dict[str, Any]:
    return {"id": oid, "name": f"offering {oid}", "productOfferingPrice": [
        {"name": "monthly", "priceType": "recurring", "price": {"unit": "EUR", "value": amount},
         "recurringChargePeriodType": "monthly", "timing": "advance",
         "validFor": {"startDateTime": "2026-01-01T00:00:00Z"}}]}


def test_a_created_customer_is_read_back_and_found_by_email(sealed_api: Api) -> None:
    """POST customer is 201; GET by id and the email filter (case-insensitive) return it."""
    created = sealed_api.post(CUSTOMERS, customer_body())
    assert created.status_code == 201, created.text
    assert created.json()["@type"] == "Customer" and created.json()["name"] == "Zoé Durand"
    assert sealed_api.get(f"{CUSTOMERS}/CU-1").json()["id"] == "CU-1"
    found = sealed_api.get(CUSTOMERS, params={"email": "ZOE@example.org"})
    assert [c["id"] for c in found.json()] == ["CU-1"] and found.headers["X-Total-Count"] == "1"


def test_past_the_count_cap_the_customer_list_gives_a_lower_bound_not_a_total(sealed_api: Api,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """With the count cap at 1, a filter matching 3 customers answers X-Total-Count-Lower-Bound (no X-Total-Count);
    the last page, being short, has the exact X-Total-Count again."""
    monkeypatch.setattr(personal_data, "COUNT_CAP", 1)
    for n in (1, 2, 3):
        sealed_api.post(CUSTOMERS, customer_body(f"CU-{n}", f"Zoé Durand {n}", f"zoe{n}@example.org"))
    first = sealed_api.get(CUSTOMERS, params={"name": "durand", "limit": 2})
    assert [c["id"] for c in first.json()] == ["CU-1", "CU-2"] and "X-Total-Count" not in first.headers
    assert first.headers["X-Total-Count-Lower-Bound"] == "2" and first.headers["X-Result-Count"] == "2"
    last = sealed_api.get(CUSTOMERS, params={"name": "durand", "limit": 2, "offset": 2})
    assert [c["id"] for c in last.json()] == ["CU-3"] and last.headers["X-Total-Count"] == "3"


def test_a_customer_patch_merges_the_given_attributes(sealed_api: Api) -> None:
    """PATCH name keeps the contact media as they were."""
    sealed_api.post(CUSTOMERS, customer_body())
    patched = sealed_api.patch(f"{CUSTOMERS}/CU-1", {"name": "Zoé Martin"})
    assert patched.status_code == 200, patched.text
    body = sealed_api.get(f"{CUSTOMERS}/CU-1").json()
    assert body["name"] == "Zoé Martin" and body["contactMedium"][0]["characteristic"]["emailAddress"] == "zoe@example.org"


def test_deleting_a_customer_erases_it_and_a_second_delete_is_a_no_op(sealed_api: Api) -> None:
    """DELETE is 204 twice; the customer reads as erased and no longer shows its name or email."""
    sealed_api.post(CUSTOMERS, customer_body())
    assert sealed_api.call("DELETE", f"{CUSTOMERS}/CU-1").status_code == 204
    assert sealed_api.call("DELETE", f"{CUSTOMERS}/CU-1").status_code == 204
    body = sealed_api.get(f"{CUSTOMERS}/CU-1").json()
    assert body["erased"] is True and "Zoé" not in str(body) and "zoe@example.org" not in str(body)
    assert sealed_api.get(CUSTOMERS, params={"email": "zoe@example.org"}).json() == []


def test_an_unknown_customer_is_a_tmf_404(sealed_api: Api) -> None:
    """GET of an unknown customer answers a TMF Error."""
    response = sealed_api.get(f"{CUSTOMERS}/nobody")
    assert response.status_code == 404 and response.json()["@type"] == "Error"


def test_an_offering_with_its_price_is_created_and_listed(sealed_api: Api) -> None:
    """POST productOffering is 201; its price is listed under productOfferingPrice with the decimal amount."""
    created = sealed_api.post(OFFERINGS, offering_body())
    assert created.status_code == 201, created.text
    prices = sealed_api.get(PRICES, params={"productOffering.id": "BASIC"}).json()
    assert [(p["name"], p["price"]) for p in prices] == [("monthly", {"unit": "EUR", "value": "20.00"})]
    assert sealed_api.get(PRICES, params={"productOffering.id": "unknown"}).json() == []


def test_a_subscription_is_created_changed_and_terminated(sealed_api: Api) -> None:
    """POST product subscribes an account; PATCH quantity and status take effect and show on GET."""
    set_up(sealed_api, "ACME")
    sealed_api.post(OFFERINGS, offering_body())
    created = sealed_api.post(PRODUCTS, {"id": "SUB-1", "billingAccount": {"id": "ACME"},
                                   "productOffering": {"id": "BASIC"}, "startDate": "2026-11-20"})
    assert created.status_code == 201, created.text
    assert sealed_api.patch(f"{PRODUCTS}/SUB-1", {"quantity": 2}).status_code == 200
    assert sealed_api.get(f"{PRODUCTS}/SUB-1").json()["quantity"] == 2
    assert sealed_api.patch(f"{PRODUCTS}/SUB-1", {"status": "terminated"}).status_code == 200
    listed = sealed_api.get(PRODUCTS, params={"billingAccount.id": "ACME"}).json()
    assert [(p["id"], p["status"]) for p in listed] == [("SUB-1", "terminated")]


def test_a_subscription_quantity_that_is_not_a_positive_integer_is_refused(sealed_api: Api) -> None:
    """quantity 0 is a 400/422 TMF Error and creates nothing."""
    set_up(sealed_api, "ACME")
    sealed_api.post(OFFERINGS, offering_body())
    response = sealed_api.post(PRODUCTS, {"id": "SUB-0", "billingAccount": {"id": "ACME"},
                                    "productOffering": {"id": "BASIC"}, "quantity": 0, "startDate": "2026-11-20"})
    assert response.status_code in (400, 422) and response.json()["@type"] == "Error"
    assert sealed_api.get(f"{PRODUCTS}/SUB-0").status_code == 404


def test_a_full_card_number_is_refused_without_being_echoed(sealed_api: Api) -> None:
    """A paymentMethod body holding a full card number is 422 and the error body does not contain it."""
    set_up(sealed_api, "ACME")
    response = sealed_api.post(METHODS, {"@type": "bankCard", "account": [{"id": "ACME"}],
                                   "cardNumber": "4111111111111111", "expirationDate": "2030-12-31"})
    assert response.status_code == 422 and "4111111111111111" not in response.text
    assert sealed_api.get(METHODS, params={"account.id": "ACME"}).json() == []


def test_a_masked_card_becomes_the_accounts_default_and_is_deactivated(sealed_api: Api) -> None:
    """A card given by its last four digits is stored masked, preferred on its account; DELETE disables it."""
    set_up(sealed_api, "ACME")
    created = sealed_api.post(METHODS, {"id": "PM-1", "@type": "bankCard", "account": [{"id": "ACME"}], "isPreferred": True,
                                  "brand": "Visa", "lastFourDigits": "1111", "expirationDate": "2030-12-31",
                                  "gatewayToken": "tok_visa"})
    assert created.status_code == 201, created.text
    assert created.json()["isPreferred"] is True
    assert sealed_api.call("DELETE", f"{METHODS}/PM-1").status_code == 204
    assert sealed_api.get(f"{METHODS}/PM-1").json()["status"] == "disabled"


def test_a_customer_key_sees_only_its_own_customer(sealed_api: Api) -> None:
    """The customer role reads the customer of its own account; another customer is 404."""
    sealed_api.post(CUSTOMERS, customer_body("CU-1"))
    sealed_api.post(CUSTOMERS, customer_body("CU-2", "Other", "other@example.org"))
    set_up(sealed_api)
    body = account_body("ACME")
    body["relatedParty"] = [{"id": "CU-1", "role": "customer", "@referredType": "Customer"}]
    assert sealed_api.post(ACCOUNTS, body).status_code == 201
    headers = sealed_api.auth("customer", ["ACME"])
    assert sealed_api.client.get(f"{CUSTOMERS}/CU-1", headers=headers).status_code == 200
    assert sealed_api.client.get(f"{CUSTOMERS}/CU-2", headers=headers).status_code == 404


def test_offering_and_price_lists_page_from_the_read_models(sealed_api: Api) -> None:
    """productOffering and productOfferingPrice lists filter, page and count from the read models."""
    for oid in ("A-1", "B-2", "C-3"):
        assert sealed_api.post(OFFERINGS, offering_body(oid)).status_code == 201
    page = sealed_api.get(OFFERINGS, params={"offset": 1, "limit": 1})
    assert page.headers["X-Total-Count"] == "3" and [o["id"] for o in page.json()] == ["B-2"]
    named = sealed_api.get(OFFERINGS, params={"name": "offering C-3"}).json()
    assert [o["id"] for o in named] == ["C-3"]
    prices = sealed_api.get(PRICES, params={"priceType": "recurring", "limit": 2})
    assert prices.headers["X-Total-Count"] == "3" and [p["id"] for p in prices.json()] == ["A-1:monthly", "B-2:monthly"]
    assert sealed_api.get(PRICES, params={"priceType": "oneTime"}).json() == []


def test_the_product_list_pages_from_the_read_models(sealed_api: Api) -> None:
    """product list: offset/limit and the total from the read models; a status filter still judges today."""
    set_up(sealed_api, "ACME")
    sealed_api.post(OFFERINGS, offering_body())
    account = "ACME"
    for n in range(3):
        made = sealed_api.post(PRODUCTS, {"id": f"PR-{n}", "billingAccount": {"id": account}, "productOffering": {"id": "BASIC"},
                                    "startDate": "2026-11-20"})
        assert made.status_code == 201, made.text
    page = sealed_api.get(PRODUCTS, params={"offset": 1, "limit": 1, "billingAccount.id": account})
    assert page.headers["X-Total-Count"] == "3" and [p["id"] for p in page.json()] == ["PR-1"]
    active = sealed_api.get(PRODUCTS, params={"status": "active"})
    assert active.headers["X-Total-Count"] == "3"


def test_the_payment_method_list_filters_and_pages_from_the_read_models(sealed_api: Api) -> None:
    """paymentMethod list: owner, status and paging from the read models; a disabled method is filtered out."""
    set_up(sealed_api, "ACME")
    for n in range(3):
        made = sealed_api.post(METHODS, {"id": f"PM-{n}", "@type": "bankCard", "account": [{"id": "ACME"}], "brand": "Visa",
                                   "lastFourDigits": "1111", "expirationDate": "2030-12-31", "gatewayToken": f"tok_{n}"})
        assert made.status_code == 201, made.text
    assert sealed_api.call("DELETE", f"{METHODS}/PM-0").status_code == 204
    active = sealed_api.get(METHODS, params={"account.id": "ACME", "status": "active", "limit": 1})
    assert active.headers["X-Total-Count"] == "2" and [m["id"] for m in active.json()] == ["PM-1"]
    assert sealed_api.get(METHODS, params={"status": "disabled"}).headers["X-Total-Count"] == "1"
    assert sealed_api.get(METHODS, params={"account.id": "OTHER"}).json() == []
