"""/ledger/v1 over HTTP: history (JSON and CSV, as of a moment, both bases), explain, verify, API keys."""

from __future__ import annotations

import orjson

from ledger.contracts.tmf import LEDGER_API
from tests.support.api import CHARGES, PAYMENTS, Api, charge_body, payment_body, set_up


def _story(api: Api) -> None:
    set_up(api, "ACME")
    api.post(CHARGES, charge_body("ACME", "c1", "10.00", "2026-10-07T09:15:00Z"), role="rating")
    api.post(CHARGES, charge_body("ACME", "c2", "5.00", "2026-10-20T09:15:00Z"), role="rating")
    api.post(PAYMENTS, payment_body("ACME", "PAY-1", "3.00", "2026-10-25T10:00:00Z"))


def test_history_has_a_running_balance(api: Api) -> None:
    """Every event with its signed amount and the balance after it."""
    _story(api)
    h = api.get(f"{LEDGER_API}/billingAccount/ACME/history", role="auditor").json()
    assert [(line["kind"], line["balance"]) for line in h["lines"]] == [
        ("opened", "0"), ("appliedBillingCharge", "10"), ("appliedBillingCharge", "15"), ("payment", "12.00")]
    assert h["balance"] == "12.00"


def test_history_as_of_a_moment_on_the_effective_basis(api: Api) -> None:
    """As of 15 October on the effective basis only the first charge was in force."""
    _story(api)
    h = api.get(f"{LEDGER_API}/billingAccount/ACME/history", role="auditor",
                params={"asOf": "2026-10-15T00:00:00Z", "basis": "effective"}).json()
    assert h["balance"] == "10" and h["state"] == {"balance": "10"}


def test_history_as_csv(api: Api) -> None:
    """format=csv (or Accept: text/csv) gives a spreadsheet's rows."""
    _story(api)
    response = api.get(f"{LEDGER_API}/billingAccount/ACME/history", role="auditor", headers={"Accept": "text/csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = response.text.strip().splitlines()
    assert rows[0].startswith("recorded_at,effective_at,kind,amount,balance") and len(rows) == 5


def test_a_naive_moment_is_400(api: Api) -> None:
    """asOf needs its offset."""
    _story(api)
    response = api.get(f"{LEDGER_API}/billingAccount/ACME/history", role="auditor", params={"asOf": "2026-10-15T00:00:00"})
    assert response.status_code == 400


def test_explain_the_balance(api: Api) -> None:
    """The balance is the sum of the listed parts; an unknown figure is 422."""
    _story(api)
    e = api.get(f"{LEDGER_API}/billingAccount/ACME/explain", role="auditor", params={"figure": "balance"}).json()
    assert e["value"] == "12.00" and sum(float(p["amount"]) for p in e["parts"]) == 12.0
    assert api.get(f"{LEDGER_API}/billingAccount/ACME/explain", role="auditor",
                   params={"figure": "nonsense"}).status_code == 422


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
