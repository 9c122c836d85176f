"""Payment methods (TMF670): masked details and a token only; a full card number refused; IBANs checked and sealed."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.commands import AddPaymentMethod, DisablePaymentMethod
from ledger.errors import InvalidInput
from ledger.service import Ledger
from tests.support.ledger_factory import define_spec, make_ledger, memory_settings, open_account

CARD = {"method_id": "PM-1", "account_id": "A", "type": "bankCard", "card_brand": "visa", "card_last4": "4242",
        "expiry": "12/2029", "gateway_token": "tok_abc123"}


@pytest.fixture
def ledger() -> Ledger:
    ledger = make_ledger(memory_settings())
    define_spec(ledger)
    open_account(ledger, "A", "EUR")
    return ledger


def add(ledger: Ledger, **values: Any) -> Any:
    return ledger.execute(AddPaymentMethod.parse({**CARD, **values}))


def test_a_card_is_kept_masked_with_its_token(ledger: Ledger) -> None:
    """A card keeps brand, last four digits and expiry; it is active until the end of its expiry month."""
    saved = add(ledger)
    assert (saved.masked, saved.status) == ({"brand": "visa", "last4": "4242", "expiry": "12/2029"}, "active")


@pytest.mark.parametrize("field", ["gateway_token", "name", "card_brand"])
def test_a_full_card_number_is_refused_wherever_it_is_given(ledger: Ledger, field: str) -> None:
    """A 16-digit number passing the Luhn check is a full PAN: refused, and its digits are not repeated."""
    with pytest.raises(InvalidInput) as refused:
        add(ledger, **{field: "4111 1111 1111 1111"})
    assert "4111" not in refused.value.message


def test_a_direct_debit_needs_a_valid_iban(ledger: Ledger) -> None:
    """An IBAN with a wrong check digit is refused."""
    with pytest.raises(InvalidInput, match="IBAN"):
        add(ledger, method_id="PM-2", type="bankAccountDebit", iban="DE89370400440532013001", card_last4=None)


def test_an_iban_is_masked_and_sealed(ledger: Ledger) -> None:
    """The event keeps a masked IBAN and the full one sealed."""
    saved = add(ledger, method_id="PM-2", type="bankAccountDebit", iban="DE89 3704 0044 0532 0130 00", card_brand=None,
                card_last4=None, expiry=None, gateway_token=None)
    assert saved.masked == {"iban": "DE89**************3000"}
    stored = b"".join(e.state for e in ledger.store.recorder.select_notifications(start=1, limit=100))
    assert b"0532013000" not in stored and b"DE89370400440532013000" not in stored


def test_an_expired_card_is_refused(ledger: Ledger) -> None:
    """A card whose expiry month is over cannot be added."""
    with pytest.raises(InvalidInput, match="expired"):
        add(ledger, expiry="09/2026")


def test_adding_the_same_method_again_changes_nothing_and_disabling_works(ledger: Ledger) -> None:
    """Idempotent by id; a disabled method reads as disabled."""
    add(ledger)
    assert add(ledger).changed is False
    assert ledger.execute(DisablePaymentMethod.parse({"method_id": "PM-1"})).status == "disabled"


def test_disabling_an_accounts_default_method_leaves_the_account_without_one(ledger: Ledger) -> None:
    """The account no longer names a disabled method as its default (one transaction with the disabling)."""
    from ledger.commands import ChangeAccountTerms
    from tests.support.ledger_factory import account_of

    add(ledger)
    ledger.execute(ChangeAccountTerms.parse({"account_id": "A", "default_payment_method": {"id": "PM-1",
                                                                                           "type": "bankCard"}}))
    ledger.execute(DisablePaymentMethod.parse({"method_id": "PM-1", "reason": "lost"}))
    assert account_of(ledger, "A").default_payment_method is None


def test_disabling_another_method_keeps_the_accounts_default(ledger: Ledger) -> None:
    """Only the default itself being disabled clears it."""
    from ledger.commands import ChangeAccountTerms
    from tests.support.ledger_factory import account_of

    add(ledger)
    add(ledger, method_id="PM-2", card_last4="1881", gateway_token="tok_other")
    ledger.execute(ChangeAccountTerms.parse({"account_id": "A", "default_payment_method": {"id": "PM-1",
                                                                                           "type": "bankCard"}}))
    ledger.execute(DisablePaymentMethod.parse({"method_id": "PM-2"}))
    assert account_of(ledger, "A").default_payment_method == {"id": "PM-1", "type": "bankCard"}
