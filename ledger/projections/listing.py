"""Filtered, ordered, paged selections of the read-model tables: what the API's list endpoints serve from."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from ledger.projections.database import ReadModelDatabase
from ledger.projections.tables import PAYMENT_METHODS, Table

RANGES = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def select(db: ReadModelDatabase, table: Table, *, equal: Mapping[str, Any], ranges: Mapping[tuple[str, str], Any],
           within: tuple[str, Collection[str]] | None, order: list[str], offset: int, limit: int,
           columns: list[str]) -> tuple[list[dict[str, Any]], int]:
    """(rows of `columns` in order, from `offset`, at most `limit`; how many match in all). `equal`: column = value
    (None values ignored); `ranges`: (column, gt|gte|lt|lte) -> value; `within`: column IN the given values."""
    p = "%s" if db.dialect == "postgres" else "?"
    where: list[str] = []
    params: list[Any] = []
    for column, value in equal.items():
        if value is not None:
            where.append(f"{_column(table, column)} = {p}")
            params.append(value)
    for (column, op), value in ranges.items():
        if value is not None:
            where.append(f"{_column(table, column)} {RANGES[op]} {p}")
            params.append(value)
    if within is not None:
        values = sorted(within[1])
        if not values:
            return [], 0
        where.append(f"{_column(table, within[0])} IN ({', '.join([p] * len(values))})")
        params += values
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = int(db.conn.execute(f"SELECT COUNT(*) FROM {table.name}{clause}", params).fetchone()[0])
    wanted = ", ".join(_column(table, c) for c in columns)
    ordered = ", ".join(_column(table, c) for c in order + list(table.key))
    page = f" ORDER BY {ordered} LIMIT {int(limit)} OFFSET {int(offset)}"
    rows = db.conn.execute(f"SELECT {wanted} FROM {table.name}{clause}{page}", params).fetchall()
    return [dict(zip(columns, row)) for row in rows], total


def payment_method_refs(db: ReadModelDatabase, owners: Collection[tuple[str, str]] | None, method_type: str | None,
                        status: str | None, today: str, offset: int, limit: int) -> tuple[list[str], int]:
    """Payment method ids in the order they were added (a page of them, and how many match): the rows of the given
    (owner type, owner id) pairs (None: all) and type, with their status today (an active one past its valid_to is
    expired). What the API's list and `ledger payment-method list` select with."""
    columns = ["method_ref", "owner_type", "owner_ref", "status", "valid_to"]
    rows, _ = select(db, PAYMENT_METHODS, equal={"method_type": method_type}, ranges={}, within=None,
                     order=["created_at", "method_ref"], offset=0, limit=10**9, columns=columns)

    def status_of(row: dict[str, Any]) -> str:
        valid_to = row["valid_to"] and str(row["valid_to"])[:10]
        return "expired" if row["status"] == "active" and valid_to and today > valid_to else str(row["status"])

    found = [str(r["method_ref"]) for r in rows if (owners is None or (r["owner_type"], r["owner_ref"]) in owners)
             and (status is None or status_of(r) == status)]
    return found[offset:offset + limit], len(found)


def _column(table: Table, column: str) -> str:
    if column not in table.columns:
        raise KeyError(f"{table.name} has no column {column}")
    return column
