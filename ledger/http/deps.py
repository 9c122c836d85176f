"""The routes' dependencies, as Annotated aliases: the services, and the caller (authenticated, and allowed by
the roles table for the route's operation: the route's name)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPBearer

from ledger.http.auth import Caller
from ledger.http.errors import ApiError
from ledger.http.roles import PERMISSIONS
from ledger.http.services import ApiServices

# declared for the OpenAPI document (security schemes); the Authenticator reads the headers itself
_bearer = HTTPBearer(auto_error=False, description="an API key (lk_...) or an OAuth2 JWT")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key (lk_...)")


async def services(request: Request) -> ApiServices:
    return request.app.state.services


Services = Annotated[ApiServices, Depends(services)]


async def authorized(request: Request, svc: Services, _b: Annotated[object, Depends(_bearer)],
                     _k: Annotated[object, Depends(_api_key)],
                     authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
                     x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None) -> Caller:
    caller = svc.auth.cached(authorization, x_api_key)
    if caller is None:  # a database look-up (or a JWT's signature): off the event loop
        caller = await run_in_threadpool(svc.auth.authenticate, authorization, x_api_key)
    request.state.caller = caller
    operation = request.scope["route"].name
    if caller.role not in PERMISSIONS[operation]:
        raise ApiError(403, "forbidden", f"role {caller.role} may not {operation}")
    return caller


Allowed = Annotated[Caller, Depends(authorized)]
"""The caller, allowed to run this route's operation (roles.PERMISSIONS[route name])."""
