"""Loads many aggregates as they were at given versions: on PostgreSQL two queries for the lot (each one's latest
snapshot at or below its version, then its events up to that version), elsewhere one load each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ledger.errors import NotFound

if TYPE_CHECKING:
    from ledger.eventstore.store import LedgerStore

_EVENTS = ("SELECT a.n, e.originator_version, e.topic, e.state FROM {schema}.{table} e "
           "JOIN unnest(%b::{id_type}[], %b::bigint[], %b::bigint[]) WITH ORDINALITY AS a(i, after, upto, n) "
           "ON e.originator_id = a.i AND e.originator_version > a.after AND e.originator_version <= a.upto "
           "ORDER BY a.n, e.originator_version")
_SNAPSHOTS = ("SELECT DISTINCT ON (a.n) a.n, s.originator_version, s.topic, s.state FROM {schema}.{table} s "
              "JOIN unnest(%b::{id_type}[], %b::bigint[]) WITH ORDINALITY AS a(i, upto, n) "
              "ON s.originator_id = a.i AND s.originator_version <= a.upto "
              "ORDER BY a.n, s.originator_version DESC")


def load_at_versions(store: LedgerStore, cls: type, wanted: dict[UUID, int], what: str) -> dict[UUID, Any]:
    """{id: the aggregate right after its event at the given version}; raises NotFound when one has no such version.
    The aggregates are fresh objects (not the store's cached ones): the caller may move them forward."""
    if not wanted:
        return {}
    recorder = store.recorder
    if not isinstance(recorder, PostgresAggregateRecorder) or store.mapper.cipher or store.mapper.compressor:
        return _checked(cls, wanted, {i: store.load(cls, i, NotFound, what, version=v) for i, v in wanted.items()}, what)
    ids = list(wanted)
    built: list[Any] = [None] * len(ids)
    after = [0] * len(ids)
    snapshots = store.snapshots
    if snapshots is not None and isinstance(snapshots.recorder, PostgresAggregateRecorder):
        rows = _select(recorder, _SNAPSHOTS, snapshots.recorder.events_table_name, (ids, list(wanted.values())))
        for n, version, topic, state in rows:
            stored = StoredEvent(originator_id=ids[n - 1], originator_version=version, topic=topic, state=bytes(state))
            built[n - 1] = store.mapper.to_domain_event(stored).mutate(None)  # type: ignore[attr-defined]  # the library's concrete events, typed as their protocol
            after[n - 1] = version
    rows = _select(recorder, _EVENTS, recorder.events_table_name, (ids, after, list(wanted.values())))
    for n, version, topic, state in rows:
        stored = StoredEvent(originator_id=ids[n - 1], originator_version=version, topic=topic, state=bytes(state))
        built[n - 1] = store.mapper.to_domain_event(stored).mutate(built[n - 1])  # type: ignore[attr-defined]  # the library's concrete events, typed as their protocol
    return _checked(cls, wanted, dict(zip(ids, built)), what)


def _checked(cls: type, wanted: dict[UUID, int], found: dict[UUID, Any], what: str) -> dict[UUID, Any]:
    for aggregate_id, aggregate in found.items():
        if not isinstance(aggregate, cls) or aggregate.version != wanted[aggregate_id]:  # type: ignore[attr-defined]  # an aggregate of cls (checked first)
            raise NotFound(f"{what} not found at version {wanted[aggregate_id]}", id=aggregate_id)
    return found


def _select(recorder: PostgresAggregateRecorder, statement: str, table: str, params: Iterable[Any]) -> list[tuple[Any, ...]]:
    datastore = recorder.datastore
    query = SQL(statement).format(schema=Identifier(datastore.schema), table=Identifier(table),
                                  id_type=SQL(datastore.originator_id_type))
    with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
        curs.execute(query, tuple(params), prepare=True)
        return curs.fetchall()
