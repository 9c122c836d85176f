"""The hot read path: `GET /tmf-api/accountManagement/v4/billingAccount/{id}` answered by plain ASGI code.

Profiled under a paced load, a cached GET by id spent most of its worker's CPU in FastAPI's per-request work
(resolving the route's dependencies, re-inspecting their annotations, validating the path and header parameters),
not in the ledger's. `AccountGet` answers the common case before FastAPI sees the request; any other case goes to
the app unchanged.

What it does, in order (the same steps as the route `accounts.get_billing_account` and its dependencies):
the API key is one checked in the last LEDGER_API_KEY_CACHE_SECONDS (`Authenticator.cached`: no I/O); its role may
`billingAccount.get` (roles.PERMISSIONS); the caller sees the account (a customer key: its own accounts only);
the account's stored version is awaited from the database (`svc.versions`, as committed when the request arrived:
read your writes across workers); the body built for that version is served from `svc.views`, or built in a
thread (as the route does) and cached. The caller is put in the request's state for the access log.

What it skips, and why that changes nothing in the answer: FastAPI's routing (the path is matched here:
the prefix, then an id of 1-200 characters without a slash, as the route's `Path` constraint), dependency
resolution, parameter validation (the request has no query string: a `fields=` or any other query goes to the
app), the OpenAPI security declarations (they read headers and never refuse), and the exception handlers (nothing
here raises an answer: a request that would be a 401, 403 or 404, a failing database look-up, or any error while
building the body goes to the app, which does the work again and answers it as before). The answer is the route's:
status 200, `content-length` and `content-type: application/json`, the body as orjson rendered it when it was cached
(tests/integration/test_fast_account_get.py compares both paths byte for byte).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from ledger.contracts.tmf import ACCOUNT_API
from ledger.http.accounts import CachedAccount, build_account_body
from ledger.http.roles import PERMISSIONS
from ledger.http.services import ApiServices
from ledger.queries.accounts import account_aggregate_id, account_day

PREFIX = f"{ACCOUNT_API}/billingAccount/"
OPERATION = "billingAccount.get"
MAX_ID = 200  # as the route's Path(max_length=200)


class AccountGet:
    """ASGI middleware: a GET of one billing account with a recently checked API key, answered without FastAPI."""

    def __init__(self, app: Any, services: ApiServices) -> None:
        self.app = app
        self.services = services
        self.allowed = PERMISSIONS[OPERATION]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope.get("query_string"):
            path: str = scope["path"]
            if path.startswith(PREFIX):
                body = await self._answer(scope, path[len(PREFIX):])
                if body is not None:
                    await send({"type": "http.response.start", "status": 200,
                                "headers": [(b"content-length", str(len(body)).encode()),
                                            (b"content-type", b"application/json")]})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)

    async def _answer(self, scope: dict[str, Any], account_id: str) -> bytes | None:
        """The rendered body, or None when the app must answer (any refusal, error or unusual request)."""
        if not account_id or len(account_id) > MAX_ID or "/" in account_id:
            return None
        authorization = api_key = None
        for name, value in scope["headers"]:  # Starlette's Headers.get: the first of a repeated header
            if name == b"authorization" and authorization is None:
                authorization = value.decode("latin-1")
            elif name == b"x-api-key" and api_key is None:
                api_key = value.decode("latin-1")
        svc = self.services
        caller = svc.auth.cached(authorization, api_key)
        if caller is None or caller.role not in self.allowed or not caller.sees(account_id):
            return None
        try:
            aggregate_id = account_aggregate_id(account_id)
            version = await svc.versions.version(aggregate_id)
            if version is None:
                return None  # no such account: the app answers the 404
            cached: CachedAccount | None = svc.views.get(aggregate_id, version, lambda c: account_day(svc.now, c[0]))
            if cached is None:
                cached = await run_in_threadpool(build_account_body, svc, account_id, aggregate_id)
            body = cached[1]
        except Exception:  # noqa: BLE001 - the app does the work again and answers the error as it always does
            return None
        scope.setdefault("state", {})["caller"] = caller
        return body
