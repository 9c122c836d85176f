"""End-to-end: `ledger history ACCOUNT --as-of T --basis B` (the account's whole state then) and `--explain FIGURE`."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.e2e.test_cli import ok, scripted_session

BILL_IN_FORCE = "2026-11-01T00:00:00Z"  # the October bill is dated 1 November: in force from 23:00Z (Paris midnight)


def test_as_of_on_the_effective_basis_shows_the_bill_from_its_bill_date(cli) -> None:
    """Before the run was recorded (06:00Z) the bill was already in force on the effective basis, not on the recorded."""
    scripted_session(cli)
    effective = json.loads(ok(cli("--json", "history", "ACC-1", "--as-of", BILL_IN_FORCE, "--basis", "effective")).stdout)
    recorded = json.loads(ok(cli("--json", "history", "ACC-1", "--as-of", BILL_IN_FORCE)).stdout)
    state = effective["state"]
    assert (state["balance"], state["unbilled"], state["receivable"]) == ("12.000000", "0.000000", "12.00")
    assert [(b["bill_number"], b["state"], b["remaining"]) for b in state["bills"]] == [("ACC-1-00001", "sent", "12.00")]
    assert state["bills"][0]["cycle"]["triggers"][0]["by"] == "alice"
    assert (recorded["state"]["unbilled"], recorded["state"]["receivable"], recorded["state"]["bills"]) == (
        "12.004800", "0.00", [])
    assert effective["balance"] == state["balance"] and effective["lines"][-1]["kind"] == "bill"


def test_as_of_text_names_the_basis_and_lists_the_bill(cli) -> None:
    """The human view shows the moment, the basis, the figures, the bill with its trigger and the payment."""
    scripted_session(cli)
    out = ok(cli("history", "ACC-1", "--as-of", "2026-11-10T00:00:00Z", "--basis", "effective")).stdout
    assert "as of 2026-11-10 00:00Z" in out and "basis effective" in out
    assert "receivable       7.00 EUR" in out and "identity         holds" in out
    assert "ACC-1-00001" in out and "triggered by alice (person)" in out and "partiallyPaid" in out
    assert "P1" in out and "bill ACC-1-00001 5.00 applied" in out


def test_explain_lists_the_events_that_sum_to_the_figure(cli) -> None:
    """`--explain balance`: the charge, the bill's rounding and the payment, summing exactly to 7.00."""
    scripted_session(cli)
    explained = json.loads(ok(cli("--json", "history", "ACC-1", "--explain", "balance")).stdout)
    assert [line["ref"] for line in explained["lines"]] == ["ch1", "ACC-1-00001", "P1"]
    assert sum(Decimal(line["amount"]) for line in explained["lines"]) == Decimal(explained["amount"]) == Decimal("7")
    out = ok(cli("history", "ACC-1", "--explain", "ACC-1-00001")).stdout
    assert "ACC-1-00001 of account ACC-1" in out and "the 2 lines sum to 7.00 EUR" in out


def test_as_of_before_the_opening_is_refused(cli) -> None:
    """An as-of before the account existed exits 2 saying so (not a zero balance)."""
    scripted_session(cli)
    result = cli("--json", "history", "ACC-1", "--as-of", "2026-09-30T00:00:00Z", "--basis", "effective")
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"] == "account_not_yet_open"
    assert "did not exist" in result.stderr


def test_explaining_an_unknown_figure_names_the_figures(cli) -> None:
    """`--explain` of something that is neither a figure nor a bill: exit 2 with the list of figures."""
    scripted_session(cli)
    result = cli("history", "ACC-1", "--explain", "happiness")
    assert result.returncode == 2 and "credit-balance" in result.stderr


def test_follow_checkpoints_reads_the_log_and_reports_its_position(cli) -> None:
    """`ledger follow-checkpoints --idle-exit` follows the store to its end and says where it stopped (short
    accounts: no checkpoint written)."""
    scripted_session(cli)
    report = json.loads(ok(cli("--json", "follow-checkpoints", "--idle-exit", "0.2")).stdout)
    assert report["read"] >= 5 and report["position"] >= report["read"]
    assert report["checkpoints_written"] == 0
