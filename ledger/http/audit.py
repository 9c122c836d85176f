"""Audit and administration under /ledger/v1 (not TMF): an account's history with its running balance and its whole
state as of a moment on either basis (JSON, or CSV for spreadsheets), a figure explained by the events that make it
up, verify (streams its progress), and API keys.

History, as-of state and explain are the auditors' queries (`ledger/queries/as_of.py`, `explain.py`), the same the
CLI's `ledger history --as-of / --explain` calls; their input is validated by the same query model (`AsOfQuery`).
"""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import Field

from ledger.commands.api_keys import ROLES, create_api_key, key_info, revoke_api_key
from ledger.contracts.tmf import LEDGER_API
from ledger.http.deps import Allowed, Services
from ledger.http.errors import error_responses
from ledger.http.idempotency import Once
from ledger.http.tmf import Json, Tmf
from ledger.queries.as_of import AsOfQuery, history_as_of
from ledger.queries.as_of_views import AccountAsOf, FigureExplained
from ledger.queries.explain import FIGURES, explain_figure
from ledger.queries.history import AccountHistory
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
    """An account as of a moment (`as_of`, default now) on the basis asked, from its events alone: its whole state
    then (`state`) and its history's lines up to then, each with its signed amount and the running balance."""

    account_id: str
    currency: str
    as_of: str
    basis: Basis
    balance: str
    state: AccountAsOf
    lines: list[HistoryLine]


def _query(id: str, as_of: datetime | None, basis: str, explain: str | None = None) -> AsOfQuery:  # noqa: A002
    return AsOfQuery.parse({"account_id": id, "as_of": as_of, "basis": basis, "explain": explain})


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
AsOf = Annotated[datetime | None, Query(alias="asOf", description="a moment with its offset (default: now)")]
BasisQuery = Annotated[Basis, Query(description="recorded: what the ledger knew then; effective: what was in force "
                                                "then (README \"Basis rules\")")]


@router.get("/billingAccount/{id}/history", name="history.get", response_model=HistoryDoc,
            responses={200: {"content": {"text/csv": {}}}, **error_responses(400, 401, 403, 404)})
def get_history(svc: Services, caller: Allowed, request: Request, id: AccountId, as_of: AsOf = None,  # noqa: A002
                basis: BasisQuery = "recorded",
                format: Annotated[Literal["json", "csv"] | None, Query()] = None) -> Response:  # noqa: A002
    """The account's whole state as of a moment and its history up to then: JSON, or the history's lines as CSV
    with format=csv or Accept: text/csv. A moment before the account was opened is 404 account_not_yet_open."""
    query = _query(id, as_of, basis)
    state, history = history_as_of(svc.reads, svc.now, query.account_id, query.as_of, query.basis)
    if format == "csv" or (format is None and "text/csv" in request.headers.get("accept", "")):
        return Response(_csv(history), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="history-{id}.csv"'})
    return Json(history.to_dict() | {"as_of": state.as_of.isoformat(), "balance": state.balance,
                                     "state": state.to_dict()})


@router.get("/billingAccount/{id}/explain", name="explain.get", response_model=FigureExplained,
            responses=error_responses(400, 401, 403, 404))
def explain(svc: Services, caller: Allowed, id: AccountId, as_of: AsOf = None,  # noqa: A002
            figure: Annotated[str, Query(max_length=50, description=f"{', '.join(FIGURES)}, or a bill number")] = "balance",
            basis: BasisQuery = "recorded") -> Json:
    """The events that make up one figure as of a moment (default now) on a basis, each with its signed
    contribution: the lines sum exactly to `amount`. An unknown figure is 400."""
    query = _query(id, as_of, basis, figure)
    assert query.explain is not None
    return Json(explain_figure(svc.reads, svc.now, query.account_id, query.explain, query.as_of, query.basis).to_dict())


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


