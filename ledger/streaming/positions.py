"""How far each follower of the notification log got, kept in the event store's own database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
from psycopg import sql

from ledger.eventstore.setup_lock import setting_up

_TABLE = "ledger_follower_positions"


class SqlitePositions:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {_TABLE} (name TEXT PRIMARY KEY, position INTEGER NOT NULL)")

    def get(self, name: str) -> int:
        row = self.conn.execute(f"SELECT position FROM {_TABLE} WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def set(self, name: str, position: int) -> None:
        self.conn.execute(
            f"INSERT INTO {_TABLE} (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position", (name, position))

    def close(self) -> None:
        self.conn.close()


class PostgresPositions:
    def __init__(self, url: str, schema: str | None) -> None:
        self.conn = psycopg.connect(url, autocommit=True)
        self.table = sql.Identifier(schema, _TABLE) if schema else sql.Identifier(_TABLE)
        with setting_up(url):
            if schema:
                self.conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            self.conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, position bigint NOT NULL,"
                " updated_at timestamptz NOT NULL DEFAULT now())").format(self.table))

    def get(self, name: str) -> int:
        row = self.conn.execute(sql.SQL("SELECT position FROM {} WHERE name = %s").format(self.table), (name,)).fetchone()
        return int(row[0]) if row else 0

    def set(self, name: str, position: int) -> None:
        self.conn.execute(sql.SQL(
            "INSERT INTO {} (name, position) VALUES (%s, %s) ON CONFLICT (name)"
            " DO UPDATE SET position = excluded.position, updated_at = now()").format(self.table), (name, position))

    def close(self) -> None:
        self.conn.close()
