"""Linking accounts to customers on SQLite and PostgreSQL: the command and the migration file, the read models
(rebuild and verify agree), the CLI (`account link-customer`, `account link-customers FILE`) and PATCH relatedParty."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.bootstrap import read_model_db
from ledger.commands import LinkAccountToCustomer
from ledger.commands.customer_links import import_links
from ledger.errors import CustomerRelinkRefused
from ledger.projections.local_feed import LocalProjection
from ledger.projections.rebuild import rebuild
from ledger.projections.tables import ACCOUNT_BALANCES
from ledger.projections.verify import verify_read_models
from ledger.service import Ledger
from ledger.settings import Settings
from ledger.streaming.event_feed import EventFeed
from tests.support.api import ACCOUNTS, api_on, set_up
from tests.support.cli import Cli, in_process_cli
from tests.support.ledger_factory import FakeClock, define_spec, fresh_account, make_ledger, open_account
from tests.support.master_data import create_customer


@pytest.fixture
def ledger(sealed_settings: Settings) -> Iterator[Ledger]:
    """Accounts L1..L3 opened before their customers (naming OLD-n); customers C1, C2 created after."""
    ledger = make_ledger(sealed_settings)
    define_spec(ledger)
    for n in (1, 2, 3):
        open_account(ledger, f"L{n}", "EUR", customer_id=f"OLD-{n}")
    create_customer(ledger, "C1")
    create_customer(ledger, "C2")
    yield ledger
    ledger.close()


def link(ledger: Ledger, account: str, customer: str, **extra: Any) -> Any:
    return ledger.execute(LinkAccountToCustomer.parse({"account_id": account, "customer_id": customer, **extra}))


def _feed(ledger: Ledger, db: Any) -> int:
    return LocalProjection(EventFeed(ledger.store), db, batch_size=7).catch_up()


def test_a_link_is_stored_and_seen_by_a_new_ledger(ledger: Ledger, sealed_settings: Settings) -> None:
    """The link survives a replay in another ledger; linking again there is a no-op."""
    assert link(ledger, "L1", "C1").changed
    other = make_ledger(sealed_settings)
    try:
        assert fresh_account(other, "L1").customer_id == "C1"
        assert not link(other, "L1", "C1").changed
        with pytest.raises(CustomerRelinkRefused):
            link(other, "L1", "C2")
    finally:
        other.close()


def test_the_migration_file_applies_good_lines_and_reports_bad_ones(ledger: Ledger) -> None:
    """Good lines linked in batches, each bad one reported with its line number; a re-run changes nothing."""
    text = "account,customer\nL1,C1\nL2,NOPE\nL3,C2\nL9,C1\n"
    report = import_links(ledger.execute, io.StringIO(text, newline=""), "csv", 2)
    assert (report.applied, report.batches) == (2, 2)
    assert [(r["line"], r["error"]) for r in report.rejected] == [(3, "customer_not_found"), (5, "account_not_found")]
    assert [fresh_account(ledger, f"L{n}").customer_id for n in (1, 2, 3)] == ["C1", "OLD-2", "C2"]
    again = import_links(ledger.execute, io.StringIO(text, newline=""), "csv", 2)
    assert (again.applied, again.unchanged) == (0, 2)


def test_read_models_follow_the_link_and_verify_agrees(ledger: Ledger, sealed_settings: Settings) -> None:
    """The account row names the linked customer; verify finds no difference, and a rebuild gives the same rows."""
    link(ledger, "L1", "C1")
    db = read_model_db(sealed_settings)
    _feed(ledger, db)
    link(ledger, "L1", "C2", relink=True, reason="merged")
    _feed(ledger, db)
    rows = {r["account_ref"]: r for r in db.all_rows(ACCOUNT_BALANCES)}
    assert (rows["L1"]["customer_id"], rows["L2"]["customer_id"]) == ("C2", "OLD-2")
    assert verify_read_models(ledger.store, db).ok
    before = db.all_rows(ACCOUNT_BALANCES)
    db.close()
    rebuild(sealed_settings, read_model_db, lambda fresh: _feed(ledger, fresh))
    after = read_model_db(sealed_settings)
    try:
        assert after.all_rows(ACCOUNT_BALANCES) == before and verify_read_models(ledger.store, after).ok
    finally:
        after.close()


def test_verify_reports_a_row_naming_another_customer(ledger: Ledger, sealed_settings: Settings) -> None:
    """A row whose customer_id disagrees with the account's link is a difference."""
    link(ledger, "L1", "C1")
    db = read_model_db(sealed_settings)
    try:
        _feed(ledger, db)
        row = next(r for r in db.all_rows(ACCOUNT_BALANCES) if r["account_ref"] == "L1")
        with db.transaction():
            db.upsert(ACCOUNT_BALANCES, [{**row, "customer_id": "OLD-1"}])
        report = verify_read_models(ledger.store, db)
        assert any("customer_id" in d for d in report.differences)
    finally:
        db.close()


# ---------------------------------------------------------------- CLI


@pytest.fixture
def cli(ledger: Ledger, sealed_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return in_process_cli(sealed_settings, monkeypatch, capsys)


def test_the_cli_links_one_account(cli: Cli, ledger: Ledger) -> None:
    """`account link-customer`: linked, then unchanged; a move without --relink is refused (exit 2)."""
    code, doc = cli("account", "link-customer", "L1", "--customer", "C1")
    assert (code, doc["changed"], doc["previous_customer_id"]) == (0, True, "OLD-1")
    assert cli("account", "link-customer", "L1", "--customer", "C1")[1]["changed"] is False
    code, doc = cli("account", "link-customer", "L1", "--customer", "C2")
    assert (code, doc["error"]) == (2, "customer_relink_refused")
    code, doc = cli("account", "link-customer", "L1", "--customer", "C2", "--relink", "--reason", "merged")
    assert (code, doc["customer_id"]) == (0, "C2")


def test_the_cli_links_accounts_from_a_file(cli: Cli, tmp_path: Path) -> None:
    """`account link-customers FILE`: exit 1 with the bad line's number, the good ones applied; a re-run exits 0."""
    file = tmp_path / "links.jsonl"
    file.write_text('{"account": "L1", "customer": "C1"}\n{"account": "L2"}\n{"account": "L3", "customer": "C2"}\n')
    code, doc = cli("account", "link-customers", str(file))
    assert (code, doc["applied"], [(r["line"], r["account"]) for r in doc["rejected"]]) == (1, 2, [(2, "L2")])
    file.write_text('{"account": "L1", "customer": "C1"}\n{"account": "L3", "customer": "C2"}\n')
    code, doc = cli("account", "link-customers", str(file))
    assert (code, doc["applied"], doc["unchanged"]) == (0, 0, 2)



def test_the_cli_lists_the_accounts_still_to_link(cli: Cli) -> None:
    """`account unlinked`: the accounts naming no existing customer, fewer after each link, none at the end."""
    code, doc = cli("account", "unlinked")
    assert (code, doc["accounts"], doc["unlinked"]) == (0, 3, [
        {"account_id": f"L{n}", "customer_id": f"OLD-{n}"} for n in (1, 2, 3)])
    cli("account", "link-customer", "L2", "--customer", "C1")
    assert [u["account_id"] for u in cli("account", "unlinked")[1]["unlinked"]] == ["L1", "L3"]
    cli("account", "link-customer", "L1", "--customer", "C2")
    cli("account", "link-customer", "L3", "--customer", "C2")
    assert cli("account", "unlinked")[1]["unlinked"] == []


# ---------------------------------------------------------------- HTTP


def test_patch_related_party_links_the_account(sealed_settings: Settings) -> None:
    """PATCH relatedParty (role customer): the next GET (its cached body was of the older version) names the new
    customer; an unknown customer is 404, a move without relink 422."""
    with api_on(sealed_settings, FakeClock()) as api:
        set_up(api, "ACME")
        create_customer(api.parts.ledger, "C1")
        create_customer(api.parts.ledger, "C2")
        assert api.get(f"{ACCOUNTS}/ACME").json()["relatedParty"][0]["id"] == "cust-ACME"  # cached for this version
        party = {"relatedParty": [{"id": "C1", "role": "customer", "@referredType": "Customer"}]}
        patched = api.call("PATCH", f"{ACCOUNTS}/ACME", content=json.dumps(party).encode(),
                           headers={"Content-Type": "application/merge-patch+json"})
        assert patched.status_code == 200, patched.text
        assert patched.json()["relatedParty"][0]["id"] == "C1"
        assert api.get(f"{ACCOUNTS}/ACME").json()["relatedParty"][0]["id"] == "C1"
        unknown = api.patch(f"{ACCOUNTS}/ACME", {"relatedParty": [{"id": "NOPE", "role": "customer"}]})
        assert (unknown.status_code, unknown.json()["code"]) == (404, "customer_not_found")
        moved = api.patch(f"{ACCOUNTS}/ACME", {"relatedParty": [{"id": "C2", "role": "customer"}]})
        assert (moved.status_code, moved.json()["code"]) == (422, "customer_relink_refused")
        relinked = api.patch(f"{ACCOUNTS}/ACME", {"relatedParty": [{"id": "C2", "role": "customer"}], "relink": True,
                                                  "reason": "merged"})
        assert relinked.json()["relatedParty"][0]["id"] == "C2"
        listed = api.get(ACCOUNTS, params={"relatedParty.id": "C2"}).json()
        assert [a["id"] for a in listed] == ["ACME"]
