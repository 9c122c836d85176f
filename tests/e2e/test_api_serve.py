"""`ledger serve` as a real process, driven over HTTP: a whole billing month then verify, concurrent clients through
two workers (balances equal an independent sum), and no secret in any log line."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from ledger.contracts.tmf import LEDGER_API
from tests.support.api import (
    ACCOUNTS,
    BILLS,
    CHARGES,
    CYCLES,
    PAYMENTS,
    REFUNDS,
    SPECS,
    account_body,
    charge_body,
    money,
    payment_body,
    spec_body,
)
from tests.support.server import ledger_cli, ledger_env, serving


class Client:
    def __init__(self, url: str, key: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        response = self.http.request(method, path, json=body, **kw)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response


def _keys(env: dict[str, str], folder: Path) -> dict[str, str]:
    return {role: ledger_cli(env, folder, "api-key", "create", "--role", role, "--label", f"e2e {role}")["key"]
            for role in ("billing-ops", "rating", "auditor", "admin")}


def test_a_billing_month_over_http_then_verify(tmp_path: Path) -> None:
    """Open, charges (one and a batch), the cycle with its trigger, bill states, an under- and an overpayment, a
    refund, a reversal, history as of a date, then verify: all through `ledger serve`."""
    # the ledger's clock (LEDGER_FIXED_NOW): the account opens on 1 October, the rest happens on 17 November
    env = ledger_env(tmp_path, LEDGER_FIXED_NOW="2026-10-01T00:00:00+00:00")
    keys = _keys(env, tmp_path)
    with serving(env, tmp_path) as served:
        ops = Client(served.url, keys["billing-ops"])
        ops.ok("POST", SPECS, spec_body())
        ops.ok("POST", ACCOUNTS, account_body("ACME", timeZone="Europe/Paris"), headers={"Idempotency-Key": "open-acme"})
    env = {**env, "LEDGER_FIXED_NOW": "2026-11-17T00:00:00+00:00"}
    with serving(env, tmp_path) as served:
        ops, rating, auditor, admin = (Client(served.url, keys[r]) for r in ("billing-ops", "rating", "auditor", "admin"))
        rating.ok("POST", CHARGES, charge_body("ACME", "usage-001", "18.456789", "2026-10-07T09:15:00+02:00",
                                               taxes=[("VAT", "20", "3.691358")]))
        result = rating.ok("POST", f"{CHARGES}/batch", [charge_body("ACME", f"b{n}", "1.00", "2026-10-10T10:00:00Z")
                                                        for n in range(3)]).json()
        assert result["applied"] == 3
        started = ops.ok("POST", CYCLES, {"billCycleSpecification": {"id": "monthly"},
                                          "validFor": {"startDateTime": "2026-10-01"}, "send": False,
                                          "trigger": {"type": "person", "by": "alice", "reason": "October bill run"}})
        for _ in range(600):
            run = ops.ok("GET", started.headers["Location"]).json()
            if run["state"] == "done":
                break
            time.sleep(0.05)
        assert run["trigger"][0]["by"] == "alice" and run["accountsBilled"] == 1
        bill = ops.ok("GET", BILLS, params={"billingAccount.id": "ACME"}).json()[0]
        assert bill["state"] == "new" and bill["amountDue"] == money("25.15")
        for state in ("validated", "sent"):
            ops.ok("PATCH", bill["href"], {"state": state})
        ops.ok("POST", PAYMENTS, payment_body("ACME", "PAY-1", "10.00", "2026-11-05T10:00:00+01:00", method="check"))
        assert ops.ok("GET", bill["href"]).json()["state"] == "partiallyPaid"
        ops.ok("POST", PAYMENTS, payment_body("ACME", "PAY-2", "20.00", "2026-11-06T10:00:00+01:00"))
        assert ops.ok("GET", bill["href"]).json()["state"] == "settled"
        ops.ok("POST", REFUNDS, {"correlatorId": "REF-1", "account": {"id": "ACME"}, "totalAmount": money("2.00"),
                                 "paymentMethod": {"@type": "bankCard"}, "refundDate": "2026-11-16T09:00:00Z"})
        pay1 = ops.ok("GET", PAYMENTS, params={"account.id": "ACME"}).json()[0]
        assert pay1["correlatorId"] == "PAY-1"
        ops.ok("POST", f"{pay1['href']}/reversal", {"kind": "bouncedCheck", "reason": "returned unpaid",
                                                                 "reversalDate": "2026-11-16T10:00:00Z"})
        account = ops.ok("GET", f"{ACCOUNTS}/ACME").json()
        balances = {b["balanceType"]: b["amount"]["value"] for b in account["accountBalance"]}
        assert balances["balance"] == "7.15"  # 25.15 billed - 30.00 paid + 2.00 refunded + 10.00 reversed
        history = auditor.ok("GET", f"{LEDGER_API}/billingAccount/ACME/history",
                             params={"asOf": "2026-10-31T23:59:59+01:00", "basis": "effective"}).json()
        assert history["balance"] == str(Decimal("22.148147") + 3)
        lines = admin.ok("POST", f"{LEDGER_API}/verification").text.strip().splitlines()
        assert '"ok":true' in lines[-1]


def test_concurrent_clients_through_two_workers_lose_and_double_nothing(postgres_schema: tuple[str, str],
                                                                       tmp_path: Path) -> None:
    """8 clients post charges (some twice) and payments to the same accounts through 2 workers on PostgreSQL: each
    balance equals the independent sum of what was sent."""
    url, schema = postgres_schema
    env = ledger_env(tmp_path, LEDGER_STORE="postgres", LEDGER_POSTGRES_URL=url, LEDGER_POSTGRES_SCHEMA=schema,
                     LEDGER_READ_MODEL_SCHEMA=f"{schema}_read", LEDGER_FIXED_NOW="2026-10-07T09:10:00+00:00")
    keys = _keys(env, tmp_path)
    accounts = ["C1", "C2", "C3"]
    with serving(env, tmp_path, workers=2) as served:
        ops = Client(served.url, keys["billing-ops"])
        ops.ok("POST", SPECS, spec_body())
        for account in accounts:
            ops.ok("POST", ACCOUNTS, account_body(account))
        expected = {a: Decimal(0) for a in accounts}
        lock = threading.Lock()
        failures: list[str] = []

        def client(n: int) -> None:
            rating, payer = Client(served.url, keys["rating"]), Client(served.url, keys["billing-ops"])
            try:
                for k in range(15):
                    account = accounts[(n + k) % 3]
                    amount = Decimal(f"{n + 1}.{k:02d}")
                    body = charge_body(account, f"c-{n}-{k}", str(amount), "2026-10-07T09:15:00Z")
                    rating.ok("POST", CHARGES, body)
                    if k % 4 == 0:
                        assert rating.http.post(CHARGES, json=body).status_code == 200  # a duplicate, applied once
                    delta = amount
                    if k % 3 == 0:
                        paid = Decimal("0.50")
                        payer.ok("POST", PAYMENTS, payment_body(account, f"p-{n}-{k}", str(paid), "2026-10-08T09:00:00Z"))
                        delta -= paid
                    with lock:
                        expected[account] += delta
            except AssertionError as error:
                failures.append(str(error))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert failures == []
        for account in accounts:
            got = ops.ok("GET", f"{ACCOUNTS}/{account}").json()
            balance = {b["balanceType"]: Decimal(b["amount"]["value"]) for b in got["accountBalance"]}["balance"]
            assert balance == expected[account], account
        assert "Traceback" not in served.logs()


def test_no_secret_reaches_a_log_line(postgres_schema: tuple[str, str], tmp_path: Path) -> None:
    """API keys, Authorization header values (good and bad) and the database password never appear in the logs."""
    url, schema = postgres_schema
    password = "pw-Zq8-never-logged"
    with_password = url.replace("@", f":{password}@", 1)
    env = ledger_env(tmp_path, LEDGER_STORE="postgres", LEDGER_POSTGRES_URL=with_password, LEDGER_POSTGRES_SCHEMA=schema,
                     LEDGER_READ_MODEL_SCHEMA=f"{schema}_read", LEDGER_LOG_LEVEL="DEBUG")
    keys = _keys(env, tmp_path)
    bogus = "lk_000000000000_bogus-secret-Xy7"
    with serving(env, tmp_path) as served:
        ops = Client(served.url, keys["billing-ops"])
        ops.ok("POST", SPECS, spec_body())
        ops.ok("POST", ACCOUNTS, account_body("ACME"))
        ops.http.get(f"{ACCOUNTS}/NOPE")
        assert httpx.get(f"{served.url}{ACCOUNTS}", headers={"Authorization": f"Bearer {bogus}"}).status_code == 401
        assert httpx.get(f"{served.url}{ACCOUNTS}", headers={"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}).status_code == 401
        assert httpx.get(f"{served.url}{ACCOUNTS}", headers={"X-API-Key": keys["rating"]}).status_code == 403
        logs = served.logs()
    assert "request" in logs
    for secret in [*keys.values(), bogus, "bogus-secret", "dXNlcjpwYXNzd29yZA==", password]:
        assert secret not in logs
