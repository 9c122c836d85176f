"""Rebuild: project everything again into fresh read-model tables, then swap them in at once."""

from __future__ import annotations

import os
from collections.abc import Callable

import psycopg
from psycopg import sql

from ledger.projections.database import ReadModelDatabase
from ledger.settings import Settings

REBUILD_SUFFIX = "__rebuild"


def _drop_fresh(settings: Settings) -> None:
    kind, where = settings.read_model_target()
    if kind == "postgres":
        with psycopg.connect(str(where), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                sql.Identifier(settings.read_model_schema + REBUILD_SUFFIX)))
    else:
        for suffix in ("", "-wal", "-shm"):
            path = str(where) + REBUILD_SUFFIX + suffix
            if os.path.exists(path):
                os.remove(path)


def swap_in(settings: Settings) -> None:
    """Replace the live read models with the rebuilt ones in one step (one transaction on PostgreSQL)."""
    kind, where = settings.read_model_target()
    live = settings.read_model_schema
    if kind == "postgres":
        old, fresh = live + "__old", live + REBUILD_SUFFIX
        with psycopg.connect(str(where)) as conn, conn.transaction():
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(old)))
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(live), sql.Identifier(old)))
            conn.execute(sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(fresh), sql.Identifier(live)))
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(old)))
        return
    os.replace(str(where) + REBUILD_SUFFIX, str(where))
    for suffix in ("-wal", "-shm"):
        if os.path.exists(str(where) + REBUILD_SUFFIX + suffix):
            os.remove(str(where) + REBUILD_SUFFIX + suffix)


def rebuild(settings: Settings, open_db: Callable[[Settings, str], ReadModelDatabase],
            build: Callable[[ReadModelDatabase], int]) -> int:
    """Build fresh tables with `build` (which feeds them from the start), then swap them in; returns the count."""
    _drop_fresh(settings)
    fresh = open_db(settings, REBUILD_SUFFIX)
    try:
        count = build(fresh)
    finally:
        fresh.close()
    open_db(settings, "").close()  # the live tables exist, so there is something to swap out
    swap_in(settings)
    return count
