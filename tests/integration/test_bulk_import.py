"""Onboarding in bulk on SQLite and PostgreSQL: good and bad lines mixed, JSON lines and CSV, a re-run that stores
nothing, many accounts a transaction, and the CLI reading stdin."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator

import pytest

from ledger.cli.app import main
from ledger.commands.bulk_import import KINDS, import_lines
from ledger.commands.line_import import ImportReport
from ledger.service import Ledger
from tests.integration.conftest import SettingsFactory
from tests.support.ledger_factory import fresh_account, make_ledger, max_notification_id
from tests.support.onboarding import (
    MASTER_KEY,
    account_record,
    as_jsonl,
    customer_record,
    expected_lines,
    mixed_accounts,
    onboarding_world,
    subscription_record,
    write_records,
)
from tests.support.pipeline import process_env


@pytest.fixture
def ledger(make_settings: SettingsFactory) -> Iterator[Ledger]:
    ledger = make_ledger(make_settings(master_key=MASTER_KEY))
    onboarding_world(ledger)
    yield ledger
    ledger.close()


def run(ledger: Ledger, kind: str, text: str, fmt: str = "jsonl", batch: int = 4) -> ImportReport:
    return import_lines(KINDS[kind], ledger.execute, io.StringIO(text, newline=""), fmt, batch)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_good_lines_are_applied_and_bad_ones_reported(ledger: Ledger, fmt: str) -> None:
    """Each bad line is reported with its number and code; every good account is stored."""
    records, bad = mixed_accounts()
    report = run(ledger, "accounts", write_records(records, fmt), fmt)
    assert [(r["line"], r["error"]) for r in report.rejected] == expected_lines(fmt, bad)
    assert report.applied == 5
    assert fresh_account(ledger, "ACC-8").time_zone == "Europe/Paris"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_second_run_of_the_same_file_stores_no_event(ledger: Ledger, fmt: str) -> None:
    """Customers, accounts and subscriptions imported twice: the second run finds everything unchanged."""
    files = {"customers": write_records([customer_record(n) for n in range(6)], fmt),
             "accounts": write_records([account_record(n) for n in range(6)], fmt),
             "subscriptions": write_records([subscription_record(n) for n in range(6)], fmt)}
    for kind, text in files.items():
        assert (run(ledger, kind, text, fmt).applied, kind) == (6, kind)
    stored = max_notification_id(ledger)
    for kind, text in files.items():
        again = run(ledger, kind, text, fmt)
        assert (again.applied, again.unchanged, again.rejected) == (0, 6, [])
    assert max_notification_id(ledger) == stored


def test_a_batch_is_one_transaction_of_many_accounts(ledger: Ledger) -> None:
    """Ten accounts in batches of four: three transactions, the accounts' events one after the other."""
    before = max_notification_id(ledger)
    report = run(ledger, "accounts", as_jsonl([account_record(n) for n in range(10)]), batch=4)
    assert (report.applied, report.batches) == (10, 3)
    assert max_notification_id(ledger) - before == 10


def test_a_new_ledger_sees_what_an_import_stored(ledger: Ledger, make_settings: SettingsFactory) -> None:
    """Customers imported by one ledger open (personal data) and re-import as unchanged in another."""
    text = as_jsonl([customer_record(n) for n in range(3)])
    run(ledger, "customers", text)
    other = make_ledger(make_settings(master_key=MASTER_KEY))
    try:
        again = run(other, "customers", text)
        assert (again.applied, again.unchanged) == (0, 3)
    finally:
        other.close()


def test_the_cli_reads_stdin_and_exits_1_on_a_rejected_line(make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`ledger import accounts -` reads JSON lines from stdin, prints the summary, exits 1 for a rejected line."""
    settings = make_settings()
    world = make_ledger(settings)
    onboarding_world(world)
    world.close()
    for name in [k for k in os.environ if k.startswith("LEDGER_")]:
        monkeypatch.delenv(name)
    for name, value in process_env(settings).items():
        if name.startswith("LEDGER_"):
            monkeypatch.setenv(name, value)
    records = [account_record(1), account_record(2, currency="??"), account_record(3)]
    monkeypatch.setattr(sys, "stdin", io.StringIO(as_jsonl(records)))
    code = main(["--json", "--log-level", "ERROR", "import", "accounts", "-"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (doc["applied"], [(r["line"], r["id"]) for r in doc["rejected"]]) == (2, [(2, "ACC-2")])
