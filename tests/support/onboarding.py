"""Builders for the bulk onboarding tests: records of each kind, written as CSV or JSON lines, and a mixed file of
good and bad accounts with the lines and reasons its import must reject."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tests.support.ledger_factory import SPEC, define_spec
from tests.support.master_data import define_offering, recurring_price

MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmctLS0"  # 32 bytes, base64: the vault's key in these tests


def account_record(n: int, **values: Any) -> dict[str, Any]:
    return {"id": f"ACC-{n}", "customer_id": f"CUST-{n}", "currency": "EUR", "cycle_spec": SPEC,
            "time_zone": "Europe/Paris", "name": f"Account {n}", **values}


def customer_record(n: int, **values: Any) -> dict[str, Any]:
    return {"id": f"CUST-{n}", "name": f"Émile Zola {n}", "email": f"emile{n}@example.fr", "phone": "+33 1 42 00 00 00",
            "street1": "21 rue de Bruxelles", "city": "Paris", "post_code": "75009", "country": "FR", **values}


def subscription_record(n: int, **values: Any) -> dict[str, Any]:
    return {"id": f"SUB-{n}", "account": f"ACC-{n}", "offering": "BASIC", "quantity": 1, "start": "2026-10-01",
            **values}


def as_jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def as_csv(records: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(k for r in records for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return out.getvalue()


def write_records(records: list[dict[str, Any]], fmt: str) -> str:
    return as_csv(records) if fmt == "csv" else as_jsonl(records)


def mixed_accounts() -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Five good accounts among four bad ones, and the (record number from 1, error code) of each bad one."""
    records = [account_record(1), account_record(2), account_record(3, currency="EURO"),
               account_record(4), account_record(5, cycle_spec="no-such-spec"), account_record(6),
               account_record(1, currency="USD"), account_record(7, time_zone="Mars/Olympus"), account_record(8)]
    return records, [(3, "invalid_input"), (5, "cycle_specification_not_found"), (7, "idempotency_conflict"),
                     (8, "invalid_input")]


def expected_lines(fmt: str, bad: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The expected (line, code) of `bad` records in a file of format `fmt` (CSV: the header is line 1)."""
    shift = 1 if fmt == "csv" else 0
    return [(n + shift, code) for n, code in bad]


def onboarding_world(ledger: Any) -> None:
    """The monthly cycle specification and a EUR offering BASIC the records refer to."""
    define_spec(ledger)
    define_offering(ledger, "BASIC", recurring_price("19.99"))
