"""Filtered, ordered, paged selections of the read-model tables: what the API's list endpoints serve from."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import date
from typing import Any

from ledger.projections.database import ReadModelDatabase
from ledger.projections.tables import ACCOUNT_BALANCES, OFFERING_PRICES, PAYMENT_METHODS, PRODUCT_OFFERINGS, SUBSCRIPTIONS, Table

RANGES = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _conditions(table: Table, p: str, equal: Mapping[str, Any], ranges: Mapping[tuple[str, str], Any],
                within: tuple[str, Collection[str]] | None, alias: str = "") -> tuple[list[str], list[Any]] | None:
    """(the WHERE conditions, their parameters) of `select`'s filters on `table`'s columns (named `alias` + column);
    None when `within` allows no value (nothing can match)."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in equal.items():
        if value is not None:
            where.append(f"{alias}{_column(table, column)} = {p}")
            params.append(value)
    for (column, op), value in ranges.items():
        if value is not None:
            where.append(f"{alias}{_column(table, column)} {RANGES[op]} {p}")
            params.append(value)
    if within is not None:
        values = sorted(within[1])
        if not values:
            return None
        where.append(f"{alias}{_column(table, within[0])} IN {_in(p, values)}")
        params += values
    return where, params


def select(db: ReadModelDatabase, table: Table, *, equal: Mapping[str, Any], ranges: Mapping[tuple[str, str], Any],
           within: tuple[str, Collection[str]] | None, order: list[str], offset: int, limit: int,
           columns: list[str]) -> tuple[list[dict[str, Any]], int]:
    """(rows of `columns` in order, from `offset`, at most `limit`; how many match in all). `equal`: column = value
    (None values ignored); `ranges`: (column, gt|gte|lt|lte) -> value; `within`: column IN the given values."""
    p = "%s" if db.dialect == "postgres" else "?"
    conditions = _conditions(table, p, equal, ranges, within)
    if conditions is None:
        return [], 0
    where, params = conditions
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    total = int(db.conn.execute(f"SELECT COUNT(*) FROM {table.name}{clause}", params).fetchone()[0])
    wanted = ", ".join(_column(table, c) for c in columns)
    ordered = ", ".join(_column(table, c) for c in order + list(table.key))
    page = f" ORDER BY {ordered} LIMIT {int(limit)} OFFSET {int(offset)}"
    rows = db.conn.execute(f"SELECT {wanted} FROM {table.name}{clause}{page}", params).fetchall()
    return [dict(zip(columns, row)) for row in rows], total


def _column(table: Table, column: str) -> str:
    if column not in table.columns:
        raise KeyError(f"{table.name} has no column {column}")
    return column


def select_offerings(db: ReadModelDatabase, *, equal: Mapping[str, Any], offset: int,
                     limit: int) -> tuple[list[str], int]:
    """(offering ids in the order they were created, from `offset`, at most `limit`; how many match in all);
    `equal`: name, lifecycle_status (None: any)."""
    rows, total = select(db, PRODUCT_OFFERINGS, equal=equal, ranges={}, within=None, order=["created_at", "offering_ref"],
                         offset=offset, limit=limit, columns=["offering_ref"])
    return [str(r["offering_ref"]) for r in rows], total


def select_prices(db: ReadModelDatabase, *, equal: Mapping[str, Any], offset: int,
                  limit: int) -> tuple[list[tuple[str, str]], int]:
    """((offering id, price id) by offering id then price id, from `offset`, at most `limit`; how many match in
    all); `equal`: offering_ref, price_type (None: any)."""
    rows, total = select(db, OFFERING_PRICES, equal=equal, ranges={}, within=None, order=["offering_ref", "price_id"],
                         offset=offset, limit=limit, columns=["offering_ref", "price_id"])
    return [(str(r["offering_ref"]), str(r["price_id"])) for r in rows], total


def _day(db: ReadModelDatabase) -> str:
    """A day parameter (PostgreSQL: typed as a date, so a CASE of days is a date; SQLite: the ISO text)."""
    return "CAST(%s AS date)" if db.dialect == "postgres" else "?"


def _in(p: str, values: Collection[Any]) -> str:
    return f"({', '.join([p] * len(values))})"


def select_subscriptions(db: ReadModelDatabase, *, equal: Mapping[str, Any], within: tuple[str, Collection[str]] | None,
                         status: str | None, offering: str | None, today_in: Callable[[str], date], offset: int,
                         limit: int) -> tuple[list[str], int]:
    """(subscription ids in the order they were made, from `offset`, at most `limit`; how many match in all), with
    `status` and `offering` judged today in each subscription's account's time zone (`today_in(zone)`): created
    before its start, terminated after its end, else its phase's state; the offering of the phase in force (before
    the start: the first; after the end: the last). The database filters, counts and pages."""
    if status is None and offering is None:
        rows, total = select(db, SUBSCRIPTIONS, equal=equal, ranges={}, within=within,
                             order=["created_at", "subscription_ref"], offset=offset, limit=limit,
                             columns=["subscription_ref"])
        return [str(r["subscription_ref"]) for r in rows], total
    p, day = ("%s" if db.dialect == "postgres" else "?"), _day(db)
    zones = {str(z or "UTC") for (z,) in db.conn.execute("SELECT DISTINCT time_zone FROM account_balances").fetchall()}
    by_day: dict[str, list[str]] = {}
    for zone in sorted(zones | {"UTC"}):
        by_day.setdefault(today_in(zone).isoformat(), []).append(zone)
    params: list[Any] = []
    cases = []
    for text, names in by_day.items():
        cases.append(f"WHEN COALESCE(a.time_zone, 'UTC') IN {_in(p, names)} THEN {day}")
        params += [*names, text]
    conditions = _conditions(SUBSCRIPTIONS, p, equal, {}, within, alias="s.")
    if conditions is None:
        return [], 0
    where, filtered = conditions
    params += filtered
    inner = (f"SELECT s.subscription_id, s.subscription_ref, s.created_at, s.start_date, s.end_date, "
             f"CASE {' '.join(cases)} END AS today FROM subscriptions s "
             f"LEFT JOIN account_balances a ON a.billing_account_id = s.billing_account_id"
             + (f" WHERE {' AND '.join(where)}" if where else ""))
    # the phase in force: the latest from_date on or before today (before the start: the start; after the end: any)
    phase = ("ph.from_date = (SELECT MAX(q.from_date) FROM subscription_phases q WHERE q.subscription_id = "
             "t.subscription_id AND (t.today > t.end_date OR q.from_date <= CASE WHEN t.today < t.start_date "
             "THEN t.start_date ELSE t.today END))")
    outer: list[str] = []
    if status is not None:
        outer.append(f"(CASE WHEN t.today < t.start_date THEN 'created' WHEN t.today > t.end_date THEN 'terminated' "
                     f"ELSE ph.state END) = {p}")
        params.append(status)
    if offering is not None:
        outer.append(f"ph.offering_ref = {p}")
        params.append(offering)
    body = (f"FROM ({inner}) t JOIN subscription_phases ph ON ph.subscription_id = t.subscription_id AND {phase} "
            f"WHERE {' AND '.join(outer)}")
    total = int(db.conn.execute(f"SELECT COUNT(*) {body}", params).fetchone()[0])
    page = f" ORDER BY t.created_at, t.subscription_ref, t.subscription_id LIMIT {int(limit)} OFFSET {int(offset)}"
    rows = db.conn.execute(f"SELECT t.subscription_ref {body}{page}", params).fetchall()
    return [str(r[0]) for r in rows], total


def select_payment_methods(db: ReadModelDatabase, *, owners: Collection[tuple[str, str]] | None,
                           method_type: str | None, status: str | None, today: date, offset: int,
                           limit: int) -> tuple[list[str], int]:
    """(payment method ids in the order they were added, from `offset`, at most `limit`; how many match in all):
    those of the given (owner type, owner id) pairs (None: every owner), of a type, with a status today (an active
    one past its valid_to is expired). The database filters, counts and pages."""
    p, day = ("%s" if db.dialect == "postgres" else "?"), _day(db)
    where: list[str] = []
    params: list[Any] = []
    if owners is not None:
        by_type: dict[str, list[str]] = {}
        for owner_type, owner_ref in sorted(owners):
            by_type.setdefault(owner_type, []).append(owner_ref)
        if not by_type:
            return [], 0
        where.append("(" + " OR ".join(f"(owner_type = {p} AND owner_ref IN {_in(p, refs)})"
                                       for refs in by_type.values()) + ")")
        for owner_type, refs in by_type.items():
            params += [owner_type, *refs]
    if method_type is not None:
        where.append(f"method_type = {p}")
        params.append(method_type)
    if status == "expired":
        where.append(f"status = 'active' AND valid_to < {day}")
        params.append(today.isoformat())
    elif status == "active":
        where.append(f"status = 'active' AND (valid_to IS NULL OR valid_to >= {day})")
        params.append(today.isoformat())
    elif status is not None:
        where.append(f"status = {p}")
        params.append(status)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    table = PAYMENT_METHODS.name
    total = int(db.conn.execute(f"SELECT COUNT(*) FROM {table}{clause}", params).fetchone()[0])
    page = f" ORDER BY created_at, method_ref, method_id LIMIT {int(limit)} OFFSET {int(offset)}"
    rows = db.conn.execute(f"SELECT method_ref FROM {table}{clause}{page}", params).fetchall()
    return [str(r[0]) for r in rows], total


def account_customers(db: ReadModelDatabase) -> list[tuple[str, str]]:
    """(account id, the customer id it names) of every billing account, by account id."""
    rows, _ = select(db, ACCOUNT_BALANCES, equal={}, ranges={}, within=None, order=["account_ref"], offset=0,
                     limit=10**9, columns=["account_ref", "customer_id"])
    return [(str(r["account_ref"]), str(r["customer_id"])) for r in rows]
