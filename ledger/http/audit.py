"""Audit and administration under /ledger/v1 (not TMF): an account's history with its running balance and its state
as of a moment on either basis (JSON, or CSV for spreadsheets), explaining a figure, verify (streams its progress),
and API keys.

Seams for the auditors' issue (11): `as_of_state` and `EXPLAIN` are where its as-of state and explain-a-figure
query functions plug in; today they are built on `ledger.queries.history.account_history`.
"""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from ledger.commands.api_keys import ROLES, create_api_key, key_info, revoke_api_key
from ledger.contracts.tmf import LEDGER_API
from ledger.errors import RuleViolation
from ledger.http.deps import Allowed, Services
from ledger.http.errors import error_responses
from ledger.http.idempotency import Once
from ledger.http.tmf import Json, Tmf
from ledger.ports import AggregateStore
from ledger.queries.history import AccountHistory, HistoryQuery, account_history
from ledger.queries.verify import verify

router = APIRouter(prefix=LEDGER_API, tags=["ledger audit and administration"])
Basis = Literal["recorded", "effective"]


class HistoryLine(Tmf):
    recorded_at: str
    effective_at: str
    kind: str
    description: str
    amount: str
    balance: str
    refs: dict[str, str]


class HistoryDoc(Tmf):
    """An account's history replayed from its events alone: each line's signed amount and the running balance;
    `state`: the account's figures as of the moment on the basis asked (effective: the balance)."""

    account_id: str
    currency: str
    as_of: str | None
    basis: Basis
    balance: str
    state: dict[str, Any]
    lines: list[HistoryLine]


def history(store: AggregateStore, account_id: str, as_of: datetime | None, basis: str) -> AccountHistory:
    """SEAM (issue 11): the history and as-of state the auditors' queries define; today's account_history."""
    query = HistoryQuery.parse({"account_id": account_id, "as_of": as_of, "basis": basis})
    return account_history(store, query.account_id, query.as_of, query.basis)


def _explain_balance(h: AccountHistory) -> dict[str, Any]:
    lines = [line.to_dict() for line in h.lines if line.amount]
    return {"figure": "balance", "value": str(h.balance), "currency": h.currency, "basis": h.basis,
            "as_of": h.as_of.isoformat() if h.as_of else None,
            "explanation": f"the sum of the {len(lines)} signed amounts below", "parts": lines}


EXPLAIN: dict[str, Callable[[AccountHistory], dict[str, Any]]] = {"balance": _explain_balance}
"""SEAM (issue 11): figure -> how it is explained; the auditors' explain functions add the other figures."""

_CSV_COLUMNS = ["recorded_at", "effective_at", "kind", "amount", "balance", "description", "refs"]


def _csv(h: AccountHistory) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_COLUMNS)
    for line in h.lines:
        d = line.to_dict()
        writer.writerow([d["recorded_at"], d["effective_at"], d["kind"], d["amount"], d["balance"], d["description"],
                         ";".join(f"{k}={v}" for k, v in sorted(d["refs"].items()))])
    return out.getvalue()


AccountId = Annotated[str, Path(min_length=1, max_length=200)]
AsOf = Annotated[datetime | None, Query(alias="asOf", description="a moment with its offset")]


@router.get("/billingAccount/{id}/history", name="history.get", response_model=HistoryDoc,
            responses={200: {"content": {"text/csv": {}}}, **error_responses(400, 401, 403, 404)})
def get_history(svc: Services, caller: Allowed, request: Request, id: AccountId, as_of: AsOf = None,  # noqa: A002
                basis: Annotated[Basis, Query()] = "recorded",
                format: Annotated[Literal["json", "csv"] | None, Query()] = None) -> Response:  # noqa: A002
    """JSON, or CSV with format=csv or Accept: text/csv."""
    h = history(svc.reads, id, as_of, basis)
    if format == "csv" or (format is None and "text/csv" in request.headers.get("accept", "")):
        return Response(_csv(h), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="history-{id}.csv"'})
    return Json(h.to_dict())


class Explanation(Tmf):
    figure: str
    value: str
    currency: str
    basis: Basis
    as_of: str | None
    explanation: str
    parts: list[HistoryLine]


@router.get("/billingAccount/{id}/explain", name="explain.get", response_model=Explanation,
            responses=error_responses(400, 401, 403, 404, 422))
def explain(svc: Services, caller: Allowed, id: AccountId, as_of: AsOf = None,  # noqa: A002
            figure: Annotated[str, Query(max_length=50)] = "balance", basis: Annotated[Basis, Query()] = "recorded") -> Json:
    """Which events make a figure (as of a moment, on a basis)."""
    how = EXPLAIN.get(figure)
    if how is None:
        raise RuleViolation(f"figure {figure!r} cannot be explained yet (known: {', '.join(EXPLAIN)})", figure=figure)
    return Json(how(history(svc.reads, id, as_of, basis)))


class _Progress:
    """verify's Progress as lines on a queue, for the streamed answer."""

    def __init__(self, lines: queue.Queue[bytes | None]) -> None:
        self.lines, self.total, self.done = lines, 0, 0

    def start(self, total: int, label: str) -> None:
        self.total = total
        self.lines.put(orjson.dumps({"progress": 0, "total": total, "label": label}) + b"\n")

    def advance(self, done: int) -> None:
        self.done += done
        self.lines.put(orjson.dumps({"progress": self.done, "total": self.total}) + b"\n")

    def finish(self) -> None:
        pass


@router.post("/verification", name="verify.run", responses={200: {"content": {"application/x-ndjson": {}}},
                                                            **error_responses(401, 403)})
def run_verify(svc: Services, caller: Allowed) -> StreamingResponse:
    """Rebuild every aggregate from its events and check the books: NDJSON lines of progress, then the report
    ({"ok": ..., "checked": ..., "differences": [...]}) as the last line."""
    lines: queue.Queue[bytes | None] = queue.Queue()

    def work() -> None:
        try:
            report = verify(svc.reads, _Progress(lines))
            lines.put(orjson.dumps({"report": report.to_dict()}) + b"\n")
        except Exception as error:  # noqa: BLE001 - reported on the stream, logged
            svc.log.error("verify failed", error=type(error).__name__, exc_info=error)
            lines.put(orjson.dumps({"error": "verify failed; see the server's log"}) + b"\n")
        finally:
            lines.put(None)

    threading.Thread(target=work, daemon=True, name="ledger-verify").start()

    def stream() -> Iterator[bytes]:
        while (line := lines.get()) is not None:
            yield line

    return StreamingResponse(stream(), media_type="application/x-ndjson")


class ApiKeyCreate(Tmf):
    role: Literal["rating", "billing-ops", "auditor", "reporting", "customer", "admin"]
    accounts: list[str] | None = Field(None, max_length=1000)
    label: str = Field("", max_length=200)


class ApiKeyDoc(Tmf):
    key_id: str
    role: str
    accounts: list[str] | None
    label: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None
    key: str | None = Field(None, description="the key itself: in the creation answer only")


assert set(ApiKeyCreate.model_fields["role"].annotation.__args__) == set(ROLES)  # type: ignore[union-attr]


@router.post("/apiKey", name="apiKey.create", status_code=201, response_model=ApiKeyDoc,
             responses=error_responses(400, 401, 403))
def create_key(svc: Services, caller: Allowed, once: Once, body: ApiKeyCreate) -> Response:
    def build() -> Json:
        key, record = create_api_key(svc.records, body.role, body.accounts, body.label, svc.epoch())
        return Json({**key_info(record), "key": key}, status_code=201)

    return once.once(caller, body, build)


@router.get("/apiKey", name="apiKey.list", response_model=list[ApiKeyDoc], responses=error_responses(401, 403))
def list_keys(svc: Services, caller: Allowed) -> Json:
    return Json([key_info(r) for r in svc.records.keys()])


@router.delete("/apiKey/{key_id}", name="apiKey.delete", status_code=204,
               responses={204: {"description": "revoked"}, **error_responses(401, 403, 404)})
def revoke_key(svc: Services, caller: Allowed, key_id: Annotated[str, Path(min_length=1, max_length=50)]) -> Response:
    revoke_api_key(svc.records, key_id, svc.epoch())
    svc.auth.forget(key_id)
    return Response(status_code=204)


