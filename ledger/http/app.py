"""The app factory: routers, error handlers, middleware, the health check and the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from ledger.bootstrap import ApiParts
from ledger.http import (
    accounts,
    audit,
    bills,
    catalogue,
    charges,
    customers,
    errors,
    groups,
    hub,
    payment_methods,
    payments,
    products,
)
from ledger.http.fast_reads import AccountGet
from ledger.http.middleware import AccessLog, BodyLimit
from ledger.http.services import ApiServices
from ledger.http.tmf import ALWAYS, Resource

ROUTERS = (accounts.router, charges.router, bills.router, payments.router, customers.router, catalogue.router,
           products.router, payment_methods.router, hub.router, audit.router,
           groups.router)

DESCRIPTION = """The ledger as a TM Forum Open API service: TMF666 Account Management, TMF678 Customer Bill
Management, TMF676 Payment Management, TMF629 Customer Management, TMF620 Product Catalog Management, TMF637
Product Inventory and TMF670 Payment Methods (v4), plus audit routes under /ledger/v1.

Every route needs an API key (`Authorization: Bearer lk_...` or `X-API-Key`) or an OAuth2 bearer JWT, except
`/health` and this document. Amounts are TMF Money values whose `value` is a decimal string, never a number.
Every POST takes an `Idempotency-Key` header. Errors are TMF Error bodies."""


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TmfError"}}}}


def create_app(parts: ApiParts, fast_reads: bool = True) -> FastAPI:
    """The app; `fast_reads` False leaves out ledger.http.fast_reads (every GET by id through FastAPI: the tests
    comparing both paths)."""
    services = ApiServices(parts)

    # No lifespan hook closes the services: an ASGI test client runs the lifespan around each call it makes. The
    # server process ends with its connections; in-process users call app.state.services.close().
    app = FastAPI(title="ledger", version="1", description=DESCRIPTION, docs_url=None, redoc_url=None)
    app.state.services = services
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/health", name="health", tags=["health"])
    def health() -> dict[str, str]:
        """No credential needed: answers while the process serves."""
        return {"status": "ok"}

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        """FastAPI's document, saying what the server really does: malformed input is a 400 TMF Error (FastAPI's
        own 422 validation answer is never sent)."""
        if app.openapi_schema is None:
            doc = generate()
            for operations in doc["paths"].values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    if "HTTPValidationError" in json.dumps(responses.get("422", {})):
                        del responses["422"]
                        responses.setdefault("400", _error("Bad Request"))
                    if any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])):
                        responses.setdefault("409", _error("Conflict: the Idempotency-Key was used for another request"))
            schemas = doc.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            for name in Resource.selectable():  # fields= may leave out any other attribute
                for variant in (name, f"{name}-Output"):
                    if variant in schemas:
                        schemas[variant]["required"] = [r for r in schemas[variant].get("required", []) if r in ALWAYS]
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if fast_reads:
        app.add_middleware(AccountGet, services=services)  # inside BodyLimit and AccessLog
    app.add_middleware(BodyLimit, limit=parts.settings.api_max_body_bytes)
    app.add_middleware(AccessLog)
    return app
