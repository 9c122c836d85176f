"""Customers (TMF629): create, merge updates, search by id/name/email/phone, close, erase; nothing personal in clear."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.commands.customers import CloseCustomer, CreateCustomer, EraseCustomer, UpdateCustomer
from ledger.errors import CustomerNotFound, IdempotencyConflict, InvalidInput, RuleViolation
from ledger.queries.customers import customer_view, search_customers
from ledger.service import Ledger
from tests.support.ledger_factory import define_spec, make_ledger, memory_settings, open_account

EMILE = {"customer_id": "C-1", "name": "Émile Zola", "party_type": "individual",
         "contact_medium": [{"medium_type": "email", "email_address": "emile.zola@example.fr", "preferred": True},
                            {"medium_type": "phone", "phone_number": "+33 1 42 00 00 00"}],
         "billing_address": {"street1": "21 rue de Bruxelles", "city": "Paris", "post_code": "75009", "country": "FR"},
         "preferences": {"language": "fr", "bill_presentation_media": "email"}}


@pytest.fixture
def ledger() -> Ledger:
    return make_ledger(memory_settings())


def create(ledger: Ledger, **values: Any) -> Any:
    return ledger.execute(CreateCustomer.parse({**EMILE, **values}))


def names(ledger: Ledger, text: str, **kw: Any) -> list[str]:
    return [c.name for c in search_customers(ledger.store, ledger.personal, text, **kw).customers]


def test_created_customer_reads_back_its_personal_data(ledger: Ledger) -> None:
    """A created customer shows its name, contact media, address and preferences."""
    create(ledger)
    view = customer_view(ledger.store, ledger.personal, "C-1")
    assert (view.name, view.status, view.preferences["language"]) == ("Émile Zola", "approved", "fr")
    assert view.contact_medium[0]["email_address"] == "emile.zola@example.fr"
    assert view.billing_address is not None and view.billing_address["city"] == "Paris"


def test_events_hold_personal_data_sealed_only(ledger: Ledger) -> None:
    """No personal value appears in the stored events' bytes."""
    create(ledger)
    stored = b"".join(e.state for e in ledger.store.recorder.select_notifications(start=1, limit=100))
    for value in ("Zola", "emile.zola", "42 00 00", "Bruxelles", "75009"):
        assert value.encode() not in stored


def test_same_create_again_changes_nothing(ledger: Ledger) -> None:
    """Re-sending the same customer is a no-op."""
    create(ledger)
    assert create(ledger).changed is False


def test_create_with_other_values_is_a_conflict(ledger: Ledger) -> None:
    """The same customer id with another name is refused."""
    create(ledger)
    with pytest.raises(IdempotencyConflict):
        create(ledger, name="Someone Else")


def test_update_merges_the_given_fields(ledger: Ledger) -> None:
    """An update replaces only what it gives."""
    create(ledger)
    ledger.execute(UpdateCustomer.parse({"customer_id": "C-1", "name": "Émile É. Zola", "preferences": {"language": "en"}}))
    view = customer_view(ledger.store, ledger.personal, "C-1")
    assert (view.name, view.preferences, view.contact_medium[1]["phone_number"]) == (
        "Émile É. Zola", {"language": "en", "bill_presentation_media": "email"}, "+33 1 42 00 00 00")


def test_update_with_the_same_values_records_nothing(ledger: Ledger) -> None:
    """An update that changes nothing records no event."""
    create(ledger)
    assert ledger.execute(UpdateCustomer.parse({"customer_id": "C-1", "name": "Émile Zola"})).changed is False


@pytest.mark.parametrize("text", ["emile", "EMILE", "Émile", "zol", "ZOLA", "emile.zola@", "42 00", "c-1"])
def test_search_ignores_case_and_accents_by_prefix_and_substring(ledger: Ledger, text: str) -> None:
    """Search by name, email, phone or id matches case- and accent-insensitively, anywhere in the value."""
    create(ledger)
    create(ledger, customer_id="C-2", name="Anna Schmidt", contact_medium=[], billing_address=None)
    assert names(ledger, text) == ["Émile Zola"]


def test_search_pages_with_prefix_matches_first(ledger: Ledger) -> None:
    """Prefix matches come first, then the others by name; limit and offset page through them."""
    for n, name in enumerate(["Bob Annan", "Anna Schmidt", "Joanna Lee", "Annie Hall"]):
        create(ledger, customer_id=f"P-{n}", name=name, contact_medium=[], billing_address=None)
    assert names(ledger, "ann") == ["Anna Schmidt", "Annie Hall", "Bob Annan", "Joanna Lee"]
    page = search_customers(ledger.store, ledger.personal, "ann", limit=2, offset=2)
    assert (page.total, [c.name for c in page.customers]) == (4, ["Bob Annan", "Joanna Lee"])


def test_erasure_reads_as_erased_and_drops_from_search(ledger: Ledger) -> None:
    """After erasure the customer replays with its personal fields read as erased and search no longer finds it."""
    create(ledger)
    assert ledger.execute(EraseCustomer.parse({"customer_id": "C-1", "reason": "GDPR request 7"})).erased
    view = customer_view(ledger.store, ledger.personal, "C-1")
    assert (view.erased, view.name, view.contact_medium, view.status) == (True, "[erased]", [], "closed")
    assert names(ledger, "zola") == []


def test_erasing_twice_is_a_no_op(ledger: Ledger) -> None:
    """A second erasure reports nothing erased and records nothing."""
    create(ledger)
    ledger.execute(EraseCustomer.parse({"customer_id": "C-1"}))
    version = customer_view(ledger.store, ledger.personal, "C-1").version
    assert ledger.execute(EraseCustomer.parse({"customer_id": "C-1"})).erased is False
    assert customer_view(ledger.store, ledger.personal, "C-1").version == version


def test_a_closed_customer_cannot_be_updated(ledger: Ledger) -> None:
    """Closing ends changes."""
    create(ledger)
    ledger.execute(CloseCustomer.parse({"customer_id": "C-1"}))
    with pytest.raises(RuleViolation):
        ledger.execute(UpdateCustomer.parse({"customer_id": "C-1", "name": "X"}))


@pytest.mark.parametrize("bad", [
    {"contact_medium": [{"medium_type": "email", "email_address": "not-an-email"}]},
    {"contact_medium": [{"medium_type": "phone", "phone_number": "call me"}]},
    {"party_type": "robot"},
    {"billing_address": {"street1": "x", "city": "y", "country": "France"}},
    {"name": ""},
])
def test_bad_customer_input_is_refused(ledger: Ledger, bad: dict[str, Any]) -> None:
    """Invalid contact media, party types, addresses or names are refused and nothing is stored."""
    with pytest.raises(InvalidInput):
        create(ledger, **bad)
    with pytest.raises(CustomerNotFound):
        customer_view(ledger.store, ledger.personal, "C-1")


def test_error_messages_never_quote_personal_values(ledger: Ledger) -> None:
    """A refused email is named as a field, its value is not repeated."""
    with pytest.raises(InvalidInput) as refused:
        create(ledger, contact_medium=[{"medium_type": "email", "email_address": "secret-person-at-host"}])
    assert "secret-person" not in refused.value.message


def test_accounts_can_be_made_to_need_their_customer() -> None:
    """With accounts_need_customer an account for an unknown customer is refused; a known one opens."""
    ledger = make_ledger(memory_settings(accounts_need_customer=True))
    define_spec(ledger)
    with pytest.raises(CustomerNotFound):
        open_account(ledger, "ACC-1", customer_id="C-1")
    create(ledger)
    assert open_account(ledger, "ACC-1", customer_id="C-1").created
