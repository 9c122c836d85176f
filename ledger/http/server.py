"""The factory `ledger serve` gives uvicorn (each worker process builds its own app from LEDGER_* settings)."""

from __future__ import annotations

from fastapi import FastAPI

from ledger.bootstrap import api_parts, tune_gc
from ledger.http.app import create_app
from ledger.logging_setup import configure_logging
from ledger.settings import Settings


def app() -> FastAPI:
    settings = Settings()
    configure_logging(settings.log_level, True)
    tune_gc()
    return create_app(api_parts(settings))
