"""TMF `Error` bodies (code, reason, message, status) for everything the API refuses; never a stack trace.

400 malformed input, 401 no valid credential, 403 a role that may not, 404 unknown id, 405 method not allowed,
409 conflict (idempotency, concurrency), 413 body too large, 422 a rule the ledger refuses (with its error code).
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.errors import ConcurrencyConflict, IdempotencyConflict, InvalidInput, LedgerError, NotFound, StreamError


class TmfError(BaseModel):
    """The TMF Error resource."""

    code: str = Field(description="the ledger's error code, e.g. account_not_found, credit_limit_exceeded")
    reason: str
    message: str | None = None
    status: str | None = None
    type_: str = Field("Error", alias="@type")


class ApiError(Exception):
    """A refusal of the HTTP layer itself (credentials, roles, paging, headers)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity",
           500: "Internal Server Error", 503: "Service Unavailable"}


def status_of(error: LedgerError) -> int:
    if isinstance(error, InvalidInput):
        return 400
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, (IdempotencyConflict, ConcurrencyConflict)):
        return 409
    if isinstance(error, StreamError):
        return 503
    return 422


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"code": code, "reason": REASONS.get(status, "Error"), "message": message, "status": str(status), "@type": "Error"}
    return JSONResponse(body, status_code=status, headers=headers)


def ledger_error_response(error: LedgerError) -> JSONResponse:
    return error_response(status_of(error), error.code, error.message)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the error statuses a route may answer."""
    return {s: {"model": TmfError, "description": REASONS.get(s, "Error")} for s in statuses}


def install(app: FastAPI) -> None:
    log = structlog.get_logger("ledger.http")

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.code, error.message, error.headers)

    @app.exception_handler(LedgerError)
    async def ledger_error(_: Request, error: LedgerError) -> JSONResponse:
        return ledger_error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        # each problem's place and message, never the input itself (it may hold a credential)
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                             for e in error.errors())
        return error_response(400, "invalid_input", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        message = error.detail if isinstance(error.detail, str) else REASONS.get(error.status_code, "error")
        return error_response(error.status_code, code, message, getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("request failed", method=request.method, path=request.url.path, error=type(error).__name__,
                  exc_info=error)
        return error_response(500, "internal_error", "the ledger could not answer this request; nothing was changed "
                                                     "unless a later GET shows it")
