"""Property-based API tests (schemathesis): generated requests against the served OpenAPI document and against the
official TMF v4 files (for the operations implemented), authenticated with the role each operation allows: no 5xx,
no response that violates its schema. A few examples per operation keep the suite fast."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from ledger.http.app import ROUTERS
from ledger.http.roles import PERMISSIONS
from tests.support.api import CHARGES, Api, api_on, charge_body, payment_body, set_up
from tests.support.ledger_factory import FakeClock, sqlite_settings
from tests.support.tmf_specs import SPECS, ledger_view_of, spec_dir

EXAMPLES = settings(max_examples=3, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
PREFERRED = ("billing-ops", "rating", "admin", "auditor", "reporting", "customer")
_ROUTES = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", r.path) + "$"), m, r.name) for router in ROUTERS
           for r in router.routes if isinstance(r, APIRoute) for m in r.methods]


def role_for(method: str, path: str) -> str:
    for pattern, m, name in _ROUTES:
        if m == method and pattern.match(path):
            return next(role for role in PREFERRED if role in PERMISSIONS[name])
    return "billing-ops"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An app on SQLite with some accounts, charges, a bill and a payment for the generated requests to meet."""
    folder = Path(tmp_path_factory.mktemp("schemathesis"))
    with api_on(sqlite_settings(folder / "l.sqlite", read_model_sqlite_path=folder / "r.sqlite"), FakeClock()) as api:
        set_up(api, "ACME", "BETA")
        api.post(CHARGES, charge_body("ACME", "c1", "10.00", "2026-10-07T09:15:00Z"), role="rating")
        api.post(PAYMENTS_URL, payment_body("ACME", "PAY-1", "3.00", "2026-10-08T09:15:00Z"))
        yield api


PAYMENTS_URL = "/tmf-api/paymentManagement/v4/payment"


def _call(api: Api, case: Any) -> Any:
    key = api.key(role_for(case.method.upper(), case.formatted_path))
    return case.call(headers={"X-API-Key": key})


# the explicit examples and the generated ones (bounded by EXAMPLES); not the coverage phase's many extra cases
CONFIG = SchemathesisConfig.from_str("[phases.coverage]\nenabled = false\n")


def _loaded(doc: dict[str, Any], api: Api) -> Any:
    schema = schemathesis.openapi.from_dict(doc, config=CONFIG)
    schema.app = api.client.app  # requests go to the app in-process (ASGI)
    return schema


@pytest.fixture(scope="module")
def served(seeded: Api) -> Any:
    return _loaded(seeded.client.get("/openapi.json").json(), seeded)


served_schema = schemathesis.pytest.from_fixture("served")


@served_schema.parametrize()
@EXAMPLES
def test_the_served_document_describes_what_the_server_does(case: Any, seeded: Api) -> None:
    """Every operation of /openapi.json: no 5xx, documented statuses, headers and bodies."""
    response = _call(seeded, case)
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                             response_headers_conformance, response_schema_conformance])


def _official(name: str) -> Any:
    @pytest.fixture(scope="module")
    def official(seeded: Api) -> Any:
        if spec_dir() is None:
            pytest.fail("the TMF specification files are missing (LEDGER_TMF_SPECS)")
        return _loaded(ledger_view_of(name), seeded)

    return official


tmf666 = _official("TMF666-Account-v4.0.0.swagger.json")
tmf678 = _official("TMF678-CustomerBill-v4.0.0.swagger.json")
tmf676 = _official("TMF676-Payment-v4.0.0.swagger.json")
assert len(SPECS) == 3


@schemathesis.pytest.from_fixture("tmf666").parametrize()
@EXAMPLES
def test_tmf666_operations_meet_the_official_spec(case: Any, seeded: Api) -> None:
    """Requests shaped by the official TMF666 file: no 5xx, responses valid against its schemas."""
    case.validate_response(_call(seeded, case), checks=[not_a_server_error, response_schema_conformance])


@schemathesis.pytest.from_fixture("tmf678").parametrize()
@EXAMPLES
def test_tmf678_operations_meet_the_official_spec(case: Any, seeded: Api) -> None:
    """Requests shaped by the official TMF678 file: no 5xx, responses valid against its schemas."""
    case.validate_response(_call(seeded, case), checks=[not_a_server_error, response_schema_conformance])


@schemathesis.pytest.from_fixture("tmf676").parametrize()
@EXAMPLES
def test_tmf676_operations_meet_the_official_spec(case: Any, seeded: Api) -> None:
    """Requests shaped by the official TMF676 file: no 5xx, responses valid against its schemas."""
    case.validate_response(_call(seeded, case), checks=[not_a_server_error, response_schema_conformance])
