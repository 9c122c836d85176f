"""/ledger/v1 over HTTP: history (JSON and CSV, as of a moment, both bases), explain, verify, API keys."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from ledger.contracts.tmf import LEDGER_API
from tests.support.api import CHARGES, PAYMENTS, Api, charge_body, payment_body, set_up

HISTORY, EXPLAIN = f"{LEDGER_API}/billingAccount/ACME/history", f"{LEDGER_API}/billingAccount/ACME/explain"


def _story(api: Api) -> None:
    """ACME opened on 1 October 00:00Z; each later event recorded at its own moment (the API's clock moved on):
    c1 10.00 (effective 7 Oct 09:15, recorded 7 Oct 10:00), c2 5.00 (effective 20 Oct 09:15, recorded 21 Oct 08:00),
    PAY-1 3.00 with no bill to pay (effective 25 Oct 10:00, recorded 25 Oct 11:00): credit balance."""
    clock = api.parts.clock
    set_up(api, "ACME")
    clock.set(at("2026-10-07T10:00:00Z"))
    api.post(CHARGES, charge_body("ACME", "c1", "10.00", "2026-10-07T09:15:00Z"), role="rating")
    clock.set(at("2026-10-21T08:00:00Z"))
    api.post(CHARGES, charge_body("ACME", "c2", "5.00", "2026-10-20T09:15:00Z"), role="rating")
    clock.set(at("2026-10-25T11:00:00Z"))
    api.post(PAYMENTS, payment_body("ACME", "PAY-1", "3.00", "2026-10-25T10:00:00Z"))
    clock.set(at("2026-10-26T00:00:00Z"))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _figures(state: dict[str, Any]) -> tuple[str, ...]:
    return tuple(state[k] for k in ("balance", "unbilled", "receivable", "credit_balance", "prepaid_balance"))


def test_history_has_a_running_balance_and_the_state_now(api: Api) -> None:
    """Without asOf: every event with its signed amount and the balance after it, and the whole state now."""
    _story(api)
    h = api.get(HISTORY, role="auditor").json()
    assert [(line["kind"], line["balance"]) for line in h["lines"]] == [
        ("opened", "0.000000"), ("appliedBillingCharge", "10.000000"), ("appliedBillingCharge", "15.000000"),
        ("payment", "12.000000")]
    assert h["as_of"] == "2026-10-26T00:00:00+00:00" and h["balance"] == "12.000000"
    assert _figures(h["state"]) == ("12.000000", "15.000000", "0.00", "3.00", "0.000000")
    assert h["state"]["identity_holds"] is True and h["state"]["payments"][0]["external_reference"] == "PAY-1"


@pytest.mark.parametrize(("as_of", "balance", "unbilled"), [
    ("2026-10-21T07:59:59Z", "10.000000", "10.000000"), ("2026-10-21T08:00:00Z", "15.000000", "15.000000")])
def test_as_of_at_an_event_boundary_on_the_recorded_basis(api: Api, as_of: str, balance: str, unbilled: str) -> None:
    """On the recorded basis c2 counts from its recording (21 Oct 08:00) on, not a second before."""
    _story(api)
    h = api.get(HISTORY, role="auditor", params={"asOf": as_of, "basis": "recorded"}).json()
    assert (h["basis"], h["balance"], h["state"]["unbilled"]) == ("recorded", balance, unbilled)
    assert [e["charge_id"] for e in h["state"]["unbilled_entries"]] == ["c1", "c2"][:1 if balance == "10.000000" else 2]
    assert h["lines"][-1]["balance"] == balance


@pytest.mark.parametrize(("as_of", "balance", "entries"), [
    ("2026-10-20T09:14:59Z", "10.000000", ["c1"]), ("2026-10-20T09:15:00Z", "15.000000", ["c1", "c2"])])
def test_as_of_at_an_event_boundary_on_the_effective_basis(api: Api, as_of: str, balance: str,
                                                          entries: list[str]) -> None:
    """On the effective basis c2 counts from its business moment (20 Oct 09:15), before it was recorded."""
    _story(api)
    h = api.get(HISTORY, role="auditor", params={"asOf": as_of, "basis": "effective"}).json()
    assert (h["basis"], h["balance"], h["state"]["balance"]) == ("effective", balance, balance)
    assert [e["charge_id"] for e in h["state"]["unbilled_entries"]] == entries
    assert h["state"]["payments"] == [] and h["state"]["identity_holds"] is True


def test_history_as_csv(api: Api) -> None:
    """format=csv (or Accept: text/csv) gives a spreadsheet's rows."""
    _story(api)
    response = api.get(HISTORY, role="auditor", headers={"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = response.text.strip().splitlines()
    assert rows[0].startswith("recorded_at,effective_at,kind,amount,balance") and len(rows) == 5


@pytest.mark.parametrize("as_of", ["2026-10-15T00:00:00", "yesterday", "2026-13-01T00:00:00Z"])
@pytest.mark.parametrize("url", [HISTORY, EXPLAIN])
def test_a_bad_moment_is_a_tmf_400(api: Api, url: str, as_of: str) -> None:
    """asOf must be a moment with its offset: a naive or unreadable one is the TMF Error body with 400."""
    _story(api)
    response = api.get(url, role="auditor", params={"asOf": as_of})
    body = response.json()
    assert response.status_code == 400
    assert (body["code"], body["reason"], body["status"], body["@type"]) == ("invalid_input", "Bad Request", "400", "Error")
    assert "as_of" in body["message"] or "asOf" in body["message"]


def test_as_of_before_the_account_was_opened_is_a_tmf_404(api: Api) -> None:
    """An as-of before the opening says the account did not exist then (not a zero state)."""
    _story(api)
    response = api.get(HISTORY, role="auditor", params={"asOf": "2026-09-30T23:59:59Z", "basis": "effective"})
    assert response.status_code == 404 and response.json()["code"] == "account_not_yet_open"


def test_explain_a_figure(api: Api) -> None:
    """The credit balance is PAY-1's 3.00; the balance's lines (c1, c2, PAY-1) sum exactly to it."""
    _story(api)
    credit = api.get(EXPLAIN, role="auditor", params={"figure": "credit-balance"}).json()
    assert (credit["figure"], credit["amount"], [(x["ref"], x["amount"]) for x in credit["lines"]]) == (
        "credit-balance", "3.00", [("PAY-1", "3.00")])
    balance = api.get(EXPLAIN, role="auditor", params={"figure": "balance", "asOf": "2026-10-25T10:00:00Z",
                                                       "basis": "effective"}).json()
    assert [x["ref"] for x in balance["lines"]] == ["c1", "c2", "PAY-1"]
    assert sum(Decimal(x["amount"]) for x in balance["lines"]) == Decimal(balance["amount"]) == Decimal("12")


def test_explaining_an_unknown_figure_is_400_naming_the_figures(api: Api) -> None:
    """Neither a figure nor a bill number: 400 invalid_input, the message lists the figures."""
    _story(api)
    response = api.get(EXPLAIN, role="auditor", params={"figure": "happiness"})
    assert response.status_code == 400 and "credit-balance" in response.json()["message"]


def test_verify_streams_progress_then_the_report(api: Api) -> None:
    """NDJSON: progress lines, the report last (ok: the books balance)."""
    _story(api)
    response = api.call("POST", f"{LEDGER_API}/verification", role="admin")
    lines = [orjson.loads(line) for line in response.text.splitlines()]
    assert lines[0]["progress"] == 0 and lines[0]["total"] == 3
    assert lines[-1]["report"]["ok"] is True and lines[-1]["report"]["checked"]["accounts"] == 1


def test_api_keys_over_http(api: Api) -> None:
    """An admin creates a key (shown once), lists keys (never the key), and revokes one."""
    made = api.post(f"{LEDGER_API}/apiKey", {"role": "customer", "accounts": ["ACME"], "label": "portal"}, role="admin")
    assert made.status_code == 201 and made.json()["key"].startswith("lk_")
    listed = api.get(f"{LEDGER_API}/apiKey", role="admin").json()
    assert made.json()["key"] not in orjson.dumps(listed).decode()
    assert api.call("DELETE", f"{LEDGER_API}/apiKey/{made.json()['key_id']}", role="admin").status_code == 204
    assert api.client.get(f"{LEDGER_API}/apiKey", headers={"X-API-Key": made.json()["key"]}).status_code == 401
    assert api.post(f"{LEDGER_API}/apiKey", {"role": "customer"}, role="admin").status_code == 400
