"""The authorisation matrix: every route with every role, each cell checked against ledger/http/roles.py."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from ledger.commands.api_keys import ROLES
from ledger.http.app import ROUTERS
from ledger.http.roles import PERMISSIONS
from tests.support.api import Api

ROUTES = [(route, method) for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)
          for method in sorted(route.methods)]


def _url(route: APIRoute) -> str:
    return re.sub(r"\{[^}]+\}", "x:y", route.path)


def test_every_route_has_a_row_and_every_row_a_route() -> None:
    """The table names exactly the routes the app serves (a new route needs its row)."""
    assert {route.name for route, _ in ROUTES} == set(PERMISSIONS)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_on_each_route_gets_what_the_table_says(api: Api, role: str) -> None:
    """Allowed: anything but 401/403 (a 400 for the empty body, a 404 for the made-up id); not allowed: 403."""
    headers = api.auth(role)
    wrong = []
    for route, method in ROUTES:
        body = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
        status = api.client.request(method, _url(route), headers=headers, **body).status_code
        allowed = role in PERMISSIONS[route.name]
        if (allowed and status in (401, 403)) or (not allowed and status != 403) or status >= 500:
            wrong.append(f"{method} {route.path} ({route.name}) as {role}: {status}")
    assert wrong == []


def test_every_route_needs_a_credential(api: Api) -> None:
    """Without a credential every route in the table answers 401."""
    assert [route.path for route, method in ROUTES
            if api.client.request(method, _url(route), json={}).status_code != 401] == []
