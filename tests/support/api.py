"""The HTTP API in-process for tests: the app on real settings (SQLite or PostgreSQL), an httpx-based client, API
keys per role, and TMF bodies for the common set-up (a specification, an account, charges, payments)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from ledger.bootstrap import ApiParts, api_parts
from ledger.commands.api_keys import CUSTOMER, ROLES, create_api_key
from ledger.contracts.tmf import ACCOUNT_API, BILL_API, PAYMENT_API
from ledger.http.app import create_app
from ledger.settings import Settings
from tests.support.ledger_factory import FakeClock

ACCOUNTS = f"{ACCOUNT_API}/billingAccount"
SPECS = f"{ACCOUNT_API}/billingCycleSpecification"
BILLS = f"{BILL_API}/customerBill"
CHARGES = f"{BILL_API}/appliedCustomerBillingRate"
ON_DEMAND = f"{BILL_API}/customerBillOnDemand"
CYCLES = f"{BILL_API}/billCycle"
PAYMENTS = f"{PAYMENT_API}/payment"
REFUNDS = f"{PAYMENT_API}/refund"


@dataclass
class Api:
    client: TestClient
    parts: ApiParts
    keys: dict[str, str] = field(default_factory=dict)

    def key(self, role: str, accounts: list[str] | None = None) -> str:
        name = role if accounts is None else f"{role}:{','.join(accounts)}"
        if name not in self.keys:
            self.keys[name] = create_api_key(self.parts.records, role, accounts, f"test {name}", time.time())[0]
        return self.keys[name]

    def auth(self, role: str, accounts: list[str] | None = None) -> dict[str, str]:
        if role == CUSTOMER and accounts is None:
            accounts = ["nobody"]
        return {"Authorization": f"Bearer {self.key(role, accounts)}"}

    def call(self, method: str, url: str, role: str = "billing-ops", **kw: Any) -> Any:
        headers = {**self.auth(role), **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)

    def get(self, url: str, role: str = "billing-ops", **kw: Any) -> Any:
        return self.call("GET", url, role, **kw)

    def post(self, url: str, body: Any, role: str = "billing-ops", **kw: Any) -> Any:
        return self.call("POST", url, role, json=body, **kw)

    def patch(self, url: str, body: Any, role: str = "billing-ops", **kw: Any) -> Any:
        return self.call("PATCH", url, role, json=body, **kw)


@contextmanager
def api_on(settings: Settings, clock: FakeClock | None = None, fast_reads: bool = True) -> Iterator[Api]:
    parts = api_parts(settings, clock or FakeClock())
    app = create_app(parts, fast_reads=fast_reads)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(client, parts)
    finally:
        app.state.services.close()


def money(value: str, unit: str = "EUR") -> dict[str, str]:
    return {"unit": unit, "value": value}


def spec_body(name: str = "monthly", **extra: Any) -> dict[str, Any]:
    return {"name": name, "frequency": "monthly", "billingDay": 1, "paymentDueDateOffset": 14, **extra}


def account_body(account_id: str, currency: str = "EUR", spec: str = "monthly", **extra: Any) -> dict[str, Any]:
    return {"id": account_id, "name": f"account {account_id}", "currency": currency,
            "relatedParty": [{"id": f"cust-{account_id}", "role": "customer", "@referredType": "Customer"}],
            "billStructure": {"cycleSpecification": {"id": spec}}, **extra}


def charge_body(account_id: str, charge_id: str, amount: str, when: str, currency: str = "EUR",
                taxes: list[tuple[str, str, str]] = (), **extra: Any) -> dict[str, Any]:
    return {"id": charge_id, "billingAccount": {"id": account_id}, "type": "appliedBillingCharge", "date": when,
            "taxExcludedAmount": money(amount, currency),
            "appliedTax": [{"taxCategory": c, "taxRate": r, "taxAmount": money(a, currency)} for c, r, a in taxes],
            **extra}


def payment_body(account_id: str, reference: str, amount: str, when: str, currency: str = "EUR",
                 method: str = "bankCard", items: list[tuple[str, str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"correlatorId": reference, "account": {"id": account_id}, "paymentDate": when,
                            "totalAmount": money(amount, currency), "paymentMethod": {"id": "pm-1", "@type": method}}
    if items is not None:
        body["paymentItem"] = [{"item": {"id": i, "@referredType": kind}, "totalAmount": money(a, currency)}
                               for kind, i, a in items]
    return body


STORY_NOW = datetime(2026, 11, 20, tzinfo=UTC)  # after every charge, payment and refund the API tests date


def set_up(api: Api, *accounts: str, currency: str = "EUR") -> None:
    """The monthly specification and these accounts opened at the API's clock (1 October in the fixture), then the
    clock moved to STORY_NOW: October's charges are after the opening and October's period is over (rules on time)."""
    assert api.post(SPECS, spec_body()).status_code in (200, 201)
    for account in accounts:
        response = api.post(ACCOUNTS, account_body(account, currency))
        assert response.status_code == 201, response.text
    if isinstance(api.parts.clock, FakeClock) and api.parts.clock.moment < STORY_NOW:
        api.parts.clock.set(STORY_NOW)


__all__ = ["ROLES", "Api", "api_on"]
