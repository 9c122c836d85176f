"""TMF666 over HTTP: billing accounts and cycle specifications, their errors, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.support.api import ACCOUNTS, SPECS, Api, account_body, api_on, set_up, spec_body
from tests.support.ledger_factory import FakeClock


def test_a_specification_is_defined_and_read_back(api: Api) -> None:
    """POST billingCycleSpecification answers 201 with the resource; GET by id returns the same."""
    created = api.post(SPECS, spec_body(paymentDueDateOffset=10))
    assert created.status_code == 201
    assert created.headers["Location"] == created.json()["href"]
    got = api.get(f"{SPECS}/monthly")
    assert got.json() == created.json() and got.json()["paymentDueDateOffset"] == 10


def test_a_specification_defined_again_with_other_values_is_a_conflict(api: Api) -> None:
    """Specifications are immutable: the same name with other offsets is 409 with the ledger's code."""
    api.post(SPECS, spec_body())
    response = api.post(SPECS, spec_body(paymentDueDateOffset=30))
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict" and response.json()["@type"] == "Error"


def test_an_opened_account_is_read_back_at_once(api: Api) -> None:
    """Read your writes: GET by id right after the POST shows the account with zero balances."""
    set_up(api)
    created = api.post(ACCOUNTS, account_body("ACME", creditLimit={"unit": "EUR", "value": "0"}))
    assert created.status_code == 201
    got = api.get(f"{ACCOUNTS}/ACME").json()
    assert got["state"] == "active" and got["currency"] == "EUR" and got["@type"] == "BillingAccount"
    assert {b["balanceType"]: b["amount"] for b in got["accountBalance"]}["balance"] == {"unit": "EUR", "value": "0.00"}


def test_opening_the_same_account_again_answers_200(api: Api) -> None:
    """The account id is the business key: the same account again is not a new one."""
    set_up(api, "ACME")
    again = api.post(ACCOUNTS, account_body("ACME"))
    assert again.status_code == 200 and again.json()["id"] == "ACME"


def test_an_account_on_an_unknown_specification_is_404(api: Api) -> None:
    """The specification must exist: the ledger's not-found error, as a TMF Error."""
    response = api.post(ACCOUNTS, account_body("ACME", spec="nope"))
    assert response.status_code == 404 and response.json()["code"] == "cycle_specification_not_found"


def test_a_float_amount_is_refused(api: Api) -> None:
    """Money values are decimal strings: a JSON number is malformed input (400)."""
    set_up(api)
    response = api.post(ACCOUNTS, account_body("ACME", creditLimit={"unit": "EUR", "value": 1.5}))
    assert response.status_code == 400 and response.json()["code"] == "invalid_input"


def test_an_unknown_account_is_404(api: Api) -> None:
    """GET of an id nobody opened: 404 with the ledger's code."""
    response = api.get(f"{ACCOUNTS}/NOPE")
    assert response.status_code == 404 and response.json()["code"] == "account_not_found"


def test_patch_suspends_and_resumes(api: Api) -> None:
    """PATCH state (merge-patch) suspends the account, and back to active resumes it."""
    set_up(api, "ACME")
    headers = {"Content-Type": "application/merge-patch+json"}
    suspended = api.call("PATCH", f"{ACCOUNTS}/ACME", content=b'{"state": "suspended", "reason": "fraud check"}',
                         headers=headers)
    assert suspended.status_code == 200 and suspended.json()["state"] == "suspended"
    assert api.patch(f"{ACCOUNTS}/ACME", {"state": "active"}).json()["state"] == "active"


def test_patch_to_a_state_the_rules_refuse_is_422(api: Api) -> None:
    """Resuming needs a suspended account; closing twice is refused: 422 with the rule's code."""
    set_up(api, "ACME")
    assert api.patch(f"{ACCOUNTS}/ACME", {"state": "closed"}).json()["state"] == "closed"
    response = api.patch(f"{ACCOUNTS}/ACME", {"state": "suspended"})
    assert response.status_code == 422 and response.json()["code"] == "account_state"


def test_delete_is_405(api: Api) -> None:
    """Accounts are closed, never deleted."""
    set_up(api, "ACME")
    response = api.call("DELETE", f"{ACCOUNTS}/ACME")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_accounts_list_with_filters_and_counts(api: Api) -> None:
    """GET list: filters on state and currency, offset/limit, X-Total-Count and X-Result-Count."""
    set_up(api, "A1", "A2", "A3")
    api.post(ACCOUNTS, account_body("U1", currency="USD"))
    api.patch(f"{ACCOUNTS}/A2", {"state": "suspended"})
    page = api.get(ACCOUNTS, params={"currency": "EUR", "limit": 2})
    assert page.headers["X-Total-Count"] == "3" and page.headers["X-Result-Count"] == "2"
    assert [a["id"] for a in page.json()] == ["A1", "A2"]
    assert [a["id"] for a in api.get(ACCOUNTS, params={"state": "suspended"}).json()] == ["A2"]
    assert [a["id"] for a in api.get(ACCOUNTS, params={"currency": "EUR", "offset": 2}).json()] == ["A3"]


def test_fields_selects_attributes(api: Api) -> None:
    """fields= returns the attributes asked for, and id, href and @type always."""
    set_up(api, "ACME")
    got = api.get(f"{ACCOUNTS}/ACME", params={"fields": "state"}).json()
    assert set(got) == {"id", "href", "@type", "state"}


def test_a_limit_beyond_the_maximum_is_400(api: Api) -> None:
    """List `limit` has a maximum (LEDGER_API_MAX_LIMIT)."""
    response = api.get(ACCOUNTS, params={"limit": 100_000})
    assert response.status_code == 400 and "limit" in response.json()["message"]


def test_patch_changes_the_terms(api: Api) -> None:
    """PATCH creditLimit, paymentTermsDays and defaultPaymentMethod; null payment terms go back to the spec's."""
    set_up(api, "ACME")
    changed = api.patch(f"{ACCOUNTS}/ACME", {"creditLimit": {"unit": "EUR", "value": "50.00"}, "paymentTermsDays": 30,
                                             "defaultPaymentMethod": {"id": "dd-1", "@referredType": "directDebit"}})
    assert changed.status_code == 200, changed.text
    got = changed.json()
    assert (got["creditLimit"]["value"], got["paymentTermsDays"], got["defaultPaymentMethod"]["id"]) == ("50.00", 30, "dd-1")
    cleared = api.patch(f"{ACCOUNTS}/ACME", {"paymentTermsDays": None, "defaultPaymentMethod": None}).json()
    assert "paymentTermsDays" not in cleared and "defaultPaymentMethod" not in cleared
    assert cleared["creditLimit"]["value"] == "50.00"


def test_patch_terms_the_rules_refuse_is_422(api: Api) -> None:
    """A credit limit in no whole minor unit is refused by the account's rule."""
    set_up(api, "ACME")
    response = api.patch(f"{ACCOUNTS}/ACME", {"creditLimit": {"unit": "EUR", "value": "1.001"}})
    assert response.status_code == 422 and response.json()["code"] == "invalid_amount"


def test_a_cached_account_body_is_not_served_after_another_worker_wrote(make_settings: Any) -> None:
    """Two workers on one database: a GET after the other worker's PATCH shows the change (no stale cached body)."""
    settings = make_settings()
    with api_on(settings, FakeClock()) as one, api_on(settings, FakeClock()) as other:
        set_up(one, "ACME")
        assert other.get(f"{ACCOUNTS}/ACME").json()["state"] == "active"  # cached by the second worker
        assert other.get(f"{ACCOUNTS}/ACME").json()["state"] == "active"
        assert one.patch(f"{ACCOUNTS}/ACME", {"state": "suspended"}).status_code == 200
        assert other.get(f"{ACCOUNTS}/ACME").json()["state"] == "suspended"
