"""The app factory: routers, error handlers, middleware, the health check and the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from ledger.bootstrap import ApiParts
from ledger.http import accounts, audit, bills, charges, errors, hub, payments
from ledger.http.middleware import AccessLog, BodyLimit
from ledger.http.services import ApiServices

ROUTERS = (accounts.router, charges.router, bills.router, payments.router, hub.router, audit.router)

DESCRIPTION = """The ledger as a TM Forum Open API service: TMF666 Account Management, TMF678 Customer Bill
Management, TMF676 Payment Management (v4), plus audit routes under /ledger/v1.

Every route needs an API key (`Authorization: Bearer lk_...` or `X-API-Key`) or an OAuth2 bearer JWT, except
`/health` and this document. Amounts are TMF Money values whose `value` is a decimal string, never a number.
Every POST takes an `Idempotency-Key` header. Errors are TMF Error bodies."""


def create_app(parts: ApiParts) -> FastAPI:
    services = ApiServices(parts)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        services.close()

    app = FastAPI(title="ledger", version="1", description=DESCRIPTION, lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    app.state.services = services
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/health", name="health", tags=["health"])
    def health() -> dict[str, str]:
        """No credential needed: answers while the process serves."""
        return {"status": "ok"}

    app.add_middleware(BodyLimit, limit=parts.settings.api_max_body_bytes)  # type: ignore[arg-type]
    app.add_middleware(AccessLog)  # type: ignore[arg-type]
    return app
