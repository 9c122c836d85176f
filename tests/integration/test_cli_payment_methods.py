"""`ledger payment-method add|disable|list|show` on SQLite and PostgreSQL: masked details only, a full card number
refused naming its option, the list selected from the read models as the API's is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.service import Ledger
from ledger.settings import Settings
from tests.support.cli import Cli, in_process_cli
from tests.support.ledger_factory import define_spec, fresh_account, make_ledger, open_account
from tests.support.master_data import create_customer

PAN = "4111 1111 1111 1111"
IBAN = "DE89370400440532013000"
CARD = ("--type", "bankCard", "--brand", "visa", "--last4", "4242", "--expiry", "12/2029", "--token", "tok_secret_9f3a")


@pytest.fixture
def ledger(sealed_settings: Settings) -> Iterator[Ledger]:
    ledger = make_ledger(sealed_settings)
    define_spec(ledger)
    create_customer(ledger, "C1")
    open_account(ledger, "A1", "EUR", customer_id="C1")
    yield ledger
    ledger.close()


@pytest.fixture
def cli(ledger: Ledger, sealed_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return in_process_cli(sealed_settings, monkeypatch, capsys)


def test_a_card_is_added_as_the_accounts_default_and_shown_masked(cli: Cli, ledger: Ledger) -> None:
    """add --default: the account's default; show prints brand, last four and the token's end only."""
    code, doc = cli("payment-method", "add", "PM-1", "--account", "A1", *CARD, "--default")
    assert (code, doc["masked"], doc["is_default"]) == (0, {"brand": "visa", "last4": "4242", "expiry": "12/2029"}, True)
    assert fresh_account(ledger, "A1").default_payment_method == {"id": "PM-1", "type": "bankCard"}
    code, _ = cli("payment-method", "show", "PM-1", as_json=False)
    assert code == 0 and "**** 4242" in cli.last and "tok_secret" not in cli.last  # type: ignore[attr-defined]


def test_a_full_card_number_is_refused_naming_the_option(cli: Cli) -> None:
    """A PAN in --token, or --card-number at all: exit 2, the option named, the number never repeated."""
    for extra in (("--token", PAN), ("--card-number", PAN)):
        args = [*CARD[:-2], *extra] if extra[0] == "--token" else [*CARD, *extra]
        code, doc = cli("payment-method", "add", "PM-9", "--account", "A1", *args)
        assert (code, doc["error"]) == (2, "invalid_input")
        assert doc["message"].startswith(extra[0]) and "4111" not in cli.last  # type: ignore[attr-defined]
    assert cli("payment-method", "show", "PM-9")[1]["error"] == "payment_method_not_found"


def test_an_iban_is_never_printed_in_full(cli: Cli) -> None:
    """A direct debit of the customer: the IBAN masked in the add's and the list's output."""
    code, _ = cli("payment-method", "add", "PM-2", "--customer", "C1", "--type", "bankAccountDebit", "--iban", IBAN,
                  as_json=False)
    assert code == 0 and "DE89**************3000" in cli.last and "0532013000" not in cli.last  # type: ignore[attr-defined]
    cli("payment-method", "list", as_json=False)
    assert "0532013000" not in cli.last  # type: ignore[attr-defined]


def test_list_filters_by_owner_and_status_today(cli: Cli) -> None:
    """The read models select: the account's methods, the active ones, paged."""
    cli("payment-method", "add", "PM-1", "--account", "A1", *CARD)
    cli("payment-method", "add", "PM-2", "--customer", "C1", "--type", "bankAccountDebit", "--iban", IBAN)
    cli("payment-method", "add", "PM-3", "--account", "A1", "--type", "cash")
    ids = lambda doc: [m["method_id"] for m in doc["payment_methods"]]  # noqa: E731
    assert ids(cli("payment-method", "list")[1]) == ["PM-1", "PM-2", "PM-3"]
    assert ids(cli("payment-method", "list", "--account", "A1")[1]) == ["PM-1", "PM-3"]
    assert cli("payment-method", "disable", "PM-3", "--reason", "closed till")[1]["status"] == "disabled"
    listed = cli("payment-method", "list", "--status", "active", "--limit", "1")[1]
    assert (listed["total"], ids(listed)) == (2, ["PM-1"])


def test_disabling_the_default_clears_it_and_twice_is_a_no_op(cli: Cli, ledger: Ledger) -> None:
    """disable: the account has no default after; disabling again exits 0 and changes nothing."""
    cli("payment-method", "add", "PM-1", "--account", "A1", *CARD, "--default")
    assert cli("payment-method", "disable", "PM-1")[0] == 0
    assert fresh_account(ledger, "A1").default_payment_method is None
    code, _ = cli("payment-method", "disable", "PM-1", as_json=False)
    assert code == 0 and "already disabled" in cli.last  # type: ignore[attr-defined]
