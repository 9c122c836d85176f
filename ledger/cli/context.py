"""What every subcommand gets (App: settings, the ledger built on first use) and gives back (Outcome)."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from ledger.bootstrap import bootstrap, local_projection, read_model_db
from ledger.cli.progress import ProgressBar
from ledger.projections.database import ReadModelDatabase
from ledger.service import Ledger
from ledger.settings import Settings

DEFAULT_SQLITE_PATH = Settings.model_fields["sqlite_path"].default


def store_label(settings: Settings) -> str | None:
    """A store as a person would name it (never its password); None for the default SQLite file."""
    if settings.store == "sqlite":
        return None if settings.sqlite_path == DEFAULT_SQLITE_PATH else f"SQLite {settings.sqlite_path}"
    info = conninfo_to_dict(settings.postgres_url or "")
    where = f"{info.get('dbname', 'postgres')} on {info.get('host', 'localhost')}:{info.get('port', '5432')}"
    return f"PostgreSQL {where}" + (f", schema {settings.postgres_schema}" if settings.postgres_schema else "")


@dataclass
class Outcome:
    """What a subcommand produced: a JSON-ready document, its human text, and the exit code."""

    data: Any
    text: str
    code: int = 0


class App:
    """Per-invocation context: settings built once, the ledger built on first use."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        self.settings = settings
        self.args = args
        self._ledger: Ledger | None = None
        self._used = False

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = bootstrap(self.settings, progress=ProgressBar())
            self._used = True
        return self._ledger

    @contextlib.contextmanager
    def read_models(self) -> Iterator[ReadModelDatabase]:
        """The read models the lists select from (the same as the HTTP lists'). Without Kafka nobody else feeds
        them, so they are first brought up to date from the local event store."""
        db = read_model_db(self.settings)
        try:
            if not self.settings.kafka_bootstrap:
                local_projection(self.ledger, db)
            yield db
        finally:
            db.close()

    def store_used(self) -> str | None:
        """The event store this command used, when it is not the default (.ledger/ledger.sqlite); else None."""
        if not self._used:
            return None
        return store_label(self.settings)

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
