"""The official TMF v4 specification files (../shared/reference/tmf) as the API's property tests use them: only the
operations the ledger implements, at the ledger's base paths, with the ledger's documented deviations applied."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from ledger.contracts.tmf import ACCOUNT_API, BILL_API, PAYMENT_API
from ledger.http.tmf import DECIMAL

_SHARED = Path(os.environ.get("LEDGER_TMF_SPECS", Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "tmf"))
_FALLBACKS = [Path("/work/shared/reference/tmf")]

SPECS = {
    "TMF666-Account-v4.0.0.swagger.json": (ACCOUNT_API, {
        "/billingAccount": {"get", "post"}, "/billingAccount/{id}": {"get", "patch", "delete"},
        "/billingCycleSpecification": {"get", "post"}, "/billingCycleSpecification/{id}": {"get"},
        "/hub": {"post"}, "/hub/{id}": {"delete"}}),
    "TMF678-CustomerBill-v4.0.0.swagger.json": (BILL_API, {
        "/customerBillOnDemand": {"post"}, "/customerBillOnDemand/{id}": {"get"}, "/customerBill": {"get"},
        "/customerBill/{id}": {"get", "patch"}, "/appliedCustomerBillingRate": {"get"},
        "/appliedCustomerBillingRate/{id}": {"get"}, "/hub": {"post"}, "/hub/{id}": {"delete"}}),
    "TMF676-Payment-v4.0.0.swagger.json": (PAYMENT_API, {
        "/payment": {"get", "post"}, "/payment/{id}": {"get"}, "/refund": {"get", "post"}, "/refund/{id}": {"get"},
        "/hub": {"post"}, "/hub/{id}": {"delete"}}),
}

DEVIATIONS = """Deviations from the official files, all documented in the README:
- Money.value is a decimal string (the specs say number: a float), and so is a tax rate (taxRate);
- the base paths are the ledger's (TMF676's file says /payment/v4/);
- only the operations the ledger implements are kept."""


def spec_dir() -> Path | None:
    for folder in [_SHARED, *_FALLBACKS]:
        if (folder / next(iter(SPECS))).exists():
            return folder
    return None


def ledger_view_of(name: str) -> dict[str, Any]:
    """One official file with the deviations applied."""
    folder = spec_dir()
    if folder is None:
        raise FileNotFoundError("the TMF specification files are not found (set LEDGER_TMF_SPECS)")
    doc = json.loads((folder / name).read_text())
    base, operations = SPECS[name]
    doc = copy.deepcopy(doc)
    doc["basePath"] = base
    doc["host"] = "localhost"
    doc["schemes"] = ["http"]
    doc["paths"] = {path: {m: op for m, op in ops.items() if m in operations[path]}
                    for path, ops in doc["paths"].items() if path in operations}
    for definition in doc["definitions"].values():
        props = definition.get("properties", {})
        if "unit" in props and "value" in props and set(props) <= {"unit", "value"}:
            props["value"] = {"type": "string", "pattern": DECIMAL, "description": "a decimal string"}
        if "taxRate" in props:
            props["taxRate"] = {"type": "string", "pattern": DECIMAL}
    return doc
