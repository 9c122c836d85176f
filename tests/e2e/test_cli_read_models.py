"""End-to-end tests of the read-model commands on the embedded default (SQLite, no Kafka), through the CLI."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.e2e.test_cli import ok, scripted_session


def test_demo_shows_the_read_models_verified(cli) -> None:
    """`ledger demo` ends with the balance read model and its verification against the event store."""
    out = ok(cli("demo")).stdout
    assert "Read models: the balance table" in out
    assert "read models verified against a replay of the event store: OK" in out


def test_project_then_balances_show_the_account(cli) -> None:
    """`ledger project` feeds the read models from the local store; `read-models balances` shows the account."""
    scripted_session(cli)
    assert "from the local event store" in ok(cli("project")).stdout
    rows = json.loads(ok(cli("--json", "read-models", "balances", "ACC-1")).stdout)
    assert len(rows) == 1 and Decimal(rows[0]["balance"]) == Decimal("7.00") and rows[0]["receivable"] == "7.00"


def test_read_models_verify_and_rebuild_agree_with_the_store(cli) -> None:
    """`read-models verify` passes, `read-models rebuild` replays into fresh tables, and verify passes again."""
    scripted_session(cli)
    ok(cli("project"))
    assert "OK" in ok(cli("read-models", "verify")).stdout
    rebuilt = json.loads(ok(cli("--json", "read-models", "rebuild")).stdout)
    assert rebuilt["events"] > 0
    assert json.loads(ok(cli("--json", "read-models", "verify")).stdout)["ok"] is True


def test_verify_exits_1_when_read_models_lag_the_store(cli) -> None:
    """A charge posted after the last projection is reported as a difference (exit 1)."""
    scripted_session(cli)
    ok(cli("project"))
    ok(cli("charge", "post", "--charge-id", "late", "--account", "ACC-1", "--amount", "1", "--date", "2026-11-06T00:00:00Z"))
    result = cli("read-models", "verify")
    assert result.returncode == 1 and "balance is" in result.stdout


def test_stream_processes_refuse_without_kafka(cli) -> None:
    """`ledger relay` with no LEDGER_KAFKA_BOOTSTRAP exits 2 and says what to set."""
    result = cli("relay")
    assert result.returncode == 2 and "LEDGER_KAFKA_BOOTSTRAP" in result.stderr
