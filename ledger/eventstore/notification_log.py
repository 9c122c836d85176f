"""Reads pages of the event store's notification log as domain events: on PostgreSQL one binary query whose rows
become events directly, elsewhere the store's own notifications and mapper."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import resolve_topic
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

if TYPE_CHECKING:
    from ledger.eventstore.store import LedgerStore


class NotificationLog:
    """`page(after, limit)`: [(notification id, domain event)] in notification order, as the library's
    select_notifications + Mapper.to_domain_event give them, with less work per row (tuple rows in binary, no
    Notification objects, each topic's class resolved once)."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        recorder, mapper = store.recorder, store.mapper
        self._direct = isinstance(recorder, PostgresApplicationRecorder) and not (mapper.cipher or mapper.compressor)
        if self._direct:
            self._query = SQL(
                "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
                "WHERE notification_id >= %s ORDER BY notification_id LIMIT %s"
            ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))  # type: ignore[attr-defined]  # the library's concrete recorder, typed as its protocol
        self._classes: dict[str, tuple[type, bool]] = {}  # topic -> (event class, whose stored state needs upcasting)
        self._decode = mapper.transcoder.decode

    def page(self, after: int, limit: int) -> list[tuple[int, Any]]:
        if not self._direct:
            to_event = self.store.mapper.to_domain_event
            return [(n.id, to_event(n)) for n in self.store.notifications(start=after + 1, limit=limit)]
        datastore = self.store.recorder.datastore  # type: ignore[attr-defined]  # the library's concrete recorder, typed as its protocol
        with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
            curs.execute(self._query, (after + 1, limit), prepare=True)
            rows = curs.fetchall()
        return [(row[0], self._event(*row[1:])) for row in rows]

    def _event(self, originator_id: Any, version: int, topic: str, state: bytes) -> Any:
        """Mapper.to_domain_event without its per-row generality; upcasts and non-UUID ids go the library's way."""
        known = self._classes.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self._classes[topic] = (cls, getattr(cls, "class_version", 1) > 1)
        cls, upcast = known
        try:
            event_state = self._decode(state)
        except Exception:  # noqa: BLE001 - the library's path raises its MapperDeserialisationError with the details
            upcast = True
        if upcast or "class_version" in event_state or type(originator_id) is not UUID:
            return self.store.mapper.to_domain_event(StoredEvent(originator_id, version, topic, bytes(state)))
        event_state["originator_id"] = originator_id
        event_state["originator_version"] = version
        event = object.__new__(cls)  # type: ignore[var-annotated]  # an event of the class the topic names
        object.__setattr__(event, "__dict__", event_state)
        return event
