"""Idempotency-Key on every POST: the same key and body get the first response again (status and body) without
running the command twice; the same key with another body is 409. Keys are kept in the event store's database
(`LEDGER_API_IDEMPOTENCY_HOURS`, 24 by default), per caller, so a retry after a restart is still recognised.
A 5xx or a 409 (a conflict worth retrying) is not kept: the key can be used again."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ledger.errors import LedgerError
from ledger.http.auth import Caller
from ledger.http.errors import ApiError, ledger_error_response
from ledger.http.services import ApiServices
from ledger.http.tmf import Build, Json, created, one
from ledger.ports import IdempotentResponse

_KEPT_HEADERS = ("location", "content-type")
R = TypeVar("R")


@dataclass(frozen=True)
class Idempotency:
    key: str | None
    request: str  # method and path
    services: ApiServices

    def once(self, caller: Caller, body: BaseModel | dict[str, Any] | None, build: Build) -> Response:
        if self.key is None:
            return _answer(build)
        data = body.model_dump(mode="json", by_alias=True) if isinstance(body, BaseModel) else body
        fingerprint = hashlib.sha256(self.request.encode() + b"\n" + orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()
        records, now = self.services.records, self.services.epoch()
        keep = self.services.settings.api_idempotency_hours * 3600.0
        self.services.purge_idempotency_keys(now, keep)
        stored = records.claim(caller.subject, self.key, fingerprint, now, keep)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise ApiError(409, "idempotency_key_reused", "this Idempotency-Key was used with another request body")
            if stored.status == 0:
                raise ApiError(409, "idempotency_key_in_use", "a request with this Idempotency-Key is still running")
            return Response(stored.body, status_code=stored.status, headers={**stored.headers, "Idempotent-Replayed": "true"})
        try:
            response = _answer(build)
        except BaseException:
            records.release(caller.subject, self.key)
            raise
        if response.status_code >= 500 or response.status_code == 409:
            records.release(caller.subject, self.key)
        else:
            headers = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
            records.complete(caller.subject, self.key, IdempotentResponse(fingerprint, response.status_code,
                                                                          bytes(response.body), headers))
        return response

    def create(self, caller: Caller, body: BaseModel, run: Callable[[], R], doc: Callable[[R], dict[str, Any]],
               fresh: Callable[[R], bool]) -> Response:
        """A creating POST, once per key: `run` executes the command; the resource `doc(result)` answers 201 when
        `fresh(result)` (the command made it), else 200 as it stands (the ledger's own business key matched)."""

        def build() -> Json:
            result = run()
            page = doc(result)
            return created(page) if fresh(result) else one(page, None)

        return self.once(caller, body, build)


def _answer(build: Build) -> Response:
    try:
        return build()
    except LedgerError as error:
        return ledger_error_response(error)


async def idempotency(request: Request, idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", max_length=255, pattern=r"^[\x21-\x7e]+$",
        description="a unique key per request: a retry with the same key and body gets the first response")] = None
                ) -> Idempotency:
    return Idempotency(idempotency_key, f"{request.method} {request.url.path}", request.app.state.services)


Once = Annotated[Idempotency, Depends(idempotency)]
