"""End-to-end tests of the `ledger` command line, each run in a subprocess on its own SQLite file."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

from tests.e2e.conftest import Run
from tests.support.onboarding import account_record, as_csv, as_jsonl


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def scripted_session(cli: Run) -> None:
    """Spec, account, one taxed charge with sub-cent amounts, the October cycle, a part payment (each step at its
    moment on the ledger's clock)."""
    ok(cli("cycle-spec", "define", "monthly-1", "--payment-due-date-offset", "14", at="2026-10-01T08:00:00Z"))
    ok(cli("account", "open", "ACC-1", "--customer", "C1", "--currency", "EUR", "--cycle-spec", "monthly-1",
           "--time-zone", "Europe/Paris", at="2026-10-01T08:00:00Z"))
    ok(cli("charge", "post", "--charge-id", "ch1", "--account", "ACC-1", "--amount", "10.004", "--tax", "VAT:20:2.0008",
           "--date", "2026-10-05T10:00:00Z", at="2026-10-05T10:05:00Z"))
    ok(cli("cycle", "run", "--spec", "monthly-1", "--period-start", "2026-10-01", "--trigger-type", "person",
           "--by", "alice", "--reason", "October run", at="2026-11-01T06:00:00Z"))
    ok(cli("payment", "record", "--account", "ACC-1", "--reference", "P1", "--amount", "5.00", "--method", "bankCard",
           "--date", "2026-11-05T09:00:00Z", at="2026-11-05T09:00:00Z"))


def history(cli: Run, account: str = "ACC-1") -> dict:
    return json.loads(ok(cli("--json", "history", account)).stdout)


def test_demo_tells_the_whole_story(cli: Run) -> None:
    """`ledger demo` exits 0 and shows the refusal, alice's cycle run, partiallyPaid, a running balance and verify OK."""
    out = ok(cli("demo")).stdout
    assert "REFUSED [credit_limit_exceeded]" in out
    assert "triggered by     alice (person)" in out and "October bill run" in out
    assert "partiallyPaid" in out
    assert "reopens as sent" in out
    assert "credit balance now 14.53 USD" in out
    assert "RECORDED" in out and "BALANCE" in out
    assert "-30.00      13.87" in out  # the payment line of the replayed history, with its running balance
    assert "OK: no differences" in out


def test_demo_json_is_one_document_with_final_bill_states(cli: Run) -> None:
    """`ledger --json demo` prints one JSON document whose bills end underpaid, settled and reopened."""
    summary = json.loads(ok(cli("--json", "demo")).stdout)
    states = {number: bill["state"] for number, bill in summary["bills"].items()}
    assert states == {"ACME-PARIS-00001": "partiallyPaid", "GLOBEX-NYC-00001": "settled", "INITECH-TOKYO-00001": "sent"}
    assert summary["bills"]["ACME-PARIS-00001"]["remaining_amount"] == "13.87"
    assert summary["cycle"]["triggers"][0]["by"] == "alice"
    assert summary["refusal"]["error"] == "credit_limit_exceeded"
    assert summary["verify"]["ok"] is True


def test_scripted_session_history_has_exact_running_balance(cli: Run) -> None:
    """After charge, cycle and part payment, `history --json` shows exact amounts and running balances."""
    scripted_session(cli)
    data = history(cli)
    lines = data["lines"]
    assert [line["kind"] for line in lines] == ["opened", "appliedBillingCharge", "bill", "payment"]
    assert [Decimal(line["amount"]) for line in lines] == [Decimal("0"), Decimal("12.0048"), Decimal("-0.0048"), Decimal("-5.00")]
    assert [Decimal(line["balance"]) for line in lines] == [Decimal("0"), Decimal("12.0048"), Decimal("12.00"), Decimal("7.00")]
    assert Decimal(data["balance"]) == Decimal("7.00")
    assert Decimal(data["state"]["receivable"]) == Decimal("7.00")
    assert lines[2]["refs"]["triggered_by"] == "alice"


def test_account_show_json_has_partially_paid_bill(cli: Run) -> None:
    """`account show --json` gives the balance figures and the part-paid bill with its due date."""
    scripted_session(cli)
    view = json.loads(ok(cli("--json", "account", "show", "ACC-1")).stdout)
    assert (view["balance"], view["receivable"], view["unbilled"], view["credit_balance"]) == (
        "7.000000", "7.00", "0.000000", "0.00")
    assert view["open_bills"][0]["bill_number"] == "ACC-1-00001"
    assert view["open_bills"][0]["payment_due_date"] == "2026-11-15"
    bills = [(b["bill_number"], b["state"], b["remaining_amount"]) for b in view["bills"]]
    assert bills == [("ACC-1-00001", "partiallyPaid", "7.00")]


def test_naive_date_is_refused_with_exit_2_and_changes_nothing(cli: Run) -> None:
    """A charge date without a time zone exits 2 with the model's message and leaves the history as it was."""
    scripted_session(cli)
    before = history(cli)
    result = cli("charge", "post", "--charge-id", "ch2", "--account", "ACC-1", "--amount", "1.00",
                 "--date", "2026-10-06T10:00:00")
    assert result.returncode == 2
    assert "--date: Input should have timezone info" in result.stderr
    assert result.stdout == ""
    assert history(cli) == before


def test_amount_with_seven_decimals_is_refused_with_exit_2(cli: Run) -> None:
    """An amount finer than six decimal places exits 2 naming the option, and nothing is posted."""
    scripted_session(cli)
    before = history(cli)
    result = cli("charge", "post", "--charge-id", "ch2", "--account", "ACC-1", "--amount", "1.0000001",
                 "--date", "2026-10-06T10:00:00Z")
    assert result.returncode == 2
    assert "--amount" in result.stderr and "more than 6 decimal places" in result.stderr
    assert "tax_excluded_amount" not in result.stderr
    assert history(cli) == before


def test_json_error_is_the_error_document_on_stdout(cli: Run) -> None:
    """With --json a refused command prints the error's to_dict() as JSON on stdout and exits 2."""
    result = cli("--json", "account", "show", "NOBODY")
    assert result.returncode == 2
    error = json.loads(result.stdout)
    assert error["error"] == "account_not_found"
    assert "NOBODY" in error["message"]


def test_verify_exits_0_after_a_session(cli: Run) -> None:
    """`ledger verify` finds no differences after a normal session and exits 0."""
    scripted_session(cli)
    result = ok(cli("--json", "verify"))
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["checked"]["accounts"] == 1 and report["checked"]["bills"] == 1


def test_charge_import_reports_applied_duplicates_and_rejected(cli: Run, tmp_path: Path) -> None:
    """`charge import` applies good lines in batches, counts re-sent ones as duplicates, and names bad lines."""
    ok(cli("cycle-spec", "define", "m", at="2026-10-01T00:00:00Z"))
    ok(cli("account", "open", "A", "--customer", "C", "--currency", "EUR", "--cycle-spec", "m", at="2026-10-01T00:00:00Z"))
    charge = {"account_id": "A", "currency": "EUR", "date": "2026-10-05T10:00:00Z"}
    lines = [json.dumps({**charge, "charge_id": f"c{i}", "tax_excluded_amount": "1.25"}) for i in range(5)]
    lines += [json.dumps({**charge, "charge_id": "c0", "tax_excluded_amount": "1.25"}),  # duplicate
              json.dumps({**charge, "charge_id": "bad", "tax_excluded_amount": 1.25}),  # float: refused
              "{not json"]
    result = cli("--json", "charge", "import", "-", "--batch-size", "2", stdin="\n".join(lines) + "\n")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["applied"], report["duplicates"]) == (5, 1)
    assert [(r["line"], r["error"]) for r in report["rejected"]] == [(7, "invalid_input"), (8, "invalid_input")]
    assert Decimal(history(cli, "A")["balance"]) == Decimal("6.25")


def test_allocation_with_wrong_shape_exits_2(cli: Run) -> None:
    """A malformed --allocate value is refused with exit 2 and an example of the expected form."""
    scripted_session(cli)
    result = cli("payment", "record", "--account", "ACC-1", "--reference", "P2", "--amount", "1.00", "--method", "cash",
                 "--date", "2026-11-06T09:00:00Z", "--allocate", "ACC-1-00001")
    assert result.returncode == 2
    assert "bill:NUMBER:AMOUNT" in result.stderr


def test_import_accounts_from_csv_then_stdin_reports_lines_and_changes_nothing_again(cli: Run, tmp_path: Path) -> None:
    """`import accounts` applies a CSV file's good rows and names the bad one (exit 1); the same rows as JSON lines
    on stdin are all unchanged (exit 0)."""
    ok(cli("cycle-spec", "define", "monthly", at="2026-10-01T00:00:00Z"))
    records = [account_record(1), account_record(2, currency="EURO"), account_record(3)]
    (tmp_path / "accounts.csv").write_text(as_csv(records))
    first = cli("--json", "import", "accounts", "accounts.csv", "--batch", "2", at="2026-10-01T00:00:00Z")
    assert first.returncode == 1, first.stderr
    report = json.loads(first.stdout)
    assert (report["applied"], [(r["line"], r["id"]) for r in report["rejected"]]) == (2, [(3, "ACC-2")])
    good = [records[0], records[2]]
    again = cli("import", "accounts", "-", stdin=as_jsonl(good), at="2026-10-01T00:00:00Z")
    assert again.returncode == 0, again.stderr
    assert "applied 0, unchanged 2, rejected 0" in again.stdout
