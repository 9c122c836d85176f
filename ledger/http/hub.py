"""The TMF hub (one per API, one listener registry): POST /hub registers a listener (callback, optional query),
GET /hub/{id} shows how its deliveries go, DELETE /hub/{id} removes it. The notifier (`ledger notify`) delivers."""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Literal
from urllib.parse import urlparse

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import Field

from ledger.contracts.tmf import ACCOUNT_API, BILL_API, PAYMENT_API
from ledger.contracts.tmf_events import parse_query
from ledger.errors import InvalidInput, NotFound
from ledger.http.deps import Allowed, Services
from ledger.http.errors import error_responses
from ledger.http.idempotency import Once
from ledger.http.tmf import Json, Tmf, dump
from ledger.ports import ListenerRecord

router = APIRouter(tags=["TMF hub (notifications)"])


class ListenerNotFound(NotFound):
    code = "listener_not_found"


class EventSubscriptionInput(Tmf):
    callback: str = Field(min_length=8, max_length=2000, description="http(s) URL the notifications are POSTed to")
    query: str = Field("", max_length=2000, description="eventType=A,B&billingAccount.id=X (each optional)")


class EventSubscription(Tmf):
    """A listener. `secret` (returned once, at registration) signs each notification: X-Ledger-Signature
    t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">. `state` (active, retrying, failing) and the rest
    are the ledger's extensions."""

    id: str
    callback: str
    query: str
    state: Literal["active", "retrying", "failing"]
    secret: str | None = None
    failingSince: float | None = None
    lastError: str | None = None
    lastDeliveredAt: float | None = None
    delivered: int
    position: int
    type_: str = Field("EventSubscription", alias="@type")

    @classmethod
    def of(cls, r: ListenerRecord, secret: str | None = None) -> EventSubscription:
        return cls(id=r.id, callback=r.callback, query=r.query, state=r.state, secret=secret,
                   failingSince=r.failing_since, lastError=r.last_error, lastDeliveredAt=r.last_delivered_at,
                   delivered=r.delivered, position=r.position)


ListenerId = Annotated[str, Path(min_length=1, max_length=100)]


def _register(svc: Services, caller: Allowed, once: Once, body: EventSubscriptionInput) -> Response:
    """Register a listener for the events from now on (its secret is in this answer only)."""

    def build() -> Json:
        url = urlparse(body.callback)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise InvalidInput("callback must be an http(s) URL")
        try:
            parse_query(body.query)
        except ValueError as error:
            raise InvalidInput(str(error)) from None
        record = ListenerRecord(uuid.uuid4().hex, body.callback, body.query, svc.reads.recorder.max_notification_id() or 0,
                                "active", None, None, None, 0, svc.epoch())
        secret = secrets.token_urlsafe(32)
        svc.records.add_listener(record, secret)
        return Json(dump(EventSubscription.of(record, secret)), status_code=201)

    return once.once(caller, body, build)


def _get(svc: Services, caller: Allowed, id: ListenerId) -> Json:  # noqa: A002
    record = svc.records.listener(id)
    if record is None:
        raise ListenerNotFound(f"no listener {id!r}")
    return Json(dump(EventSubscription.of(record)))


def _delete(svc: Services, caller: Allowed, id: ListenerId) -> Response:  # noqa: A002
    if not svc.records.remove_listener(id):
        raise ListenerNotFound(f"no listener {id!r}")
    return Response(status_code=204)


for _api in (ACCOUNT_API, BILL_API, PAYMENT_API):
    router.add_api_route(f"{_api}/hub", _register, methods=["POST"], name="hub.create", status_code=201,
                         response_model=EventSubscription, responses=error_responses(400, 401, 403, 409))
    router.add_api_route(f"{_api}/hub/{{id}}", _get, methods=["GET"], name="hub.get", response_model=EventSubscription,
                         responses=error_responses(401, 403, 404))
    router.add_api_route(f"{_api}/hub/{{id}}", _delete, methods=["DELETE"], name="hub.delete", status_code=204,
                         responses={204: {"description": "removed"}, **error_responses(401, 403, 404)})
