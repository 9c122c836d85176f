"""Where the ledger skips steps of the eventsourcing library (9.5.6) on its hot paths: each bypass here gives what the
library's own path gives, and a test pins it (tests/unit/test_event_paths.py unless said otherwise).

Recording events (ledger/aggregates/base.py, LedgerAggregate):
- `record`: Aggregate.trigger_event without constructing the event through its frozen dataclass __init__ (keyword
  binding, one object.__setattr__ per field, the copy of the keywords) and without the explicit-TOPIC check (the
  ledger's aggregates set no TOPIC); the same event (attributes in the same order) is applied, then the version and
  modified_on are set and the event is appended to the pending events. Anything but exactly the event's own fields
  goes the library's way, which raises. Pinned by test_recording_an_event_gives_the_librarys_event_and_state,
  test_recording_with_wrong_fields_fails_as_the_library_does.
- `create`: Aggregate._create without the event's __init__ (nor the explicit-TOPIC check), when given a UUID id, a
  timestamp and exactly the creation event's own fields (else the library's way, create_id and all). Pinned by
  test_creating_an_aggregate_gives_the_librarys_event_and_state,
  test_creating_with_wrong_fields_fails_as_the_library_does.
- `construct`: a creation event's mutate(None) (CanInitAggregate.mutate) without filtering the event's attributes for
  __base_init__ and __init__, for an aggregate class that defines neither (else the library's way). Pinned by the
  two tests above and test_replaying_gives_the_librarys_state.
- `event_from_state`: an event object from its attributes, as Mapper.to_domain_event makes it (object.__new__ and
  the attributes as its __dict__, no __init__). Pinned by the recording tests above and
  test_a_row_read_back_is_the_mappers_event.

Reading back (ledger/eventstore/store.py):
- `mutate`: event.mutate(aggregate) for events read back by the aggregate's id, without the originator-id check
  (the rows were selected by that id); a creation event by `construct`; a snapshot, or a version out of sequence,
  through the library's own mutate (which raises for the latter). Pinned by test_replaying_gives_the_librarys_state.
- `project`: the repository's projector (project_aggregate) without its runtime typing.Protocol isinstance check per
  event, which costs more than applying most events. Pinned by test_replaying_gives_the_librarys_state.

In the event store, beside the transcoder and the recorder they need (ledger/eventstore/):
- store.py `LedgerStore._event` / `domain_event`: Mapper.to_domain_event of a row with no cipher or compressor, the
  class resolved once per topic, without the id convertor (the ids are UUIDs already) and its error wrapping;
  events with a class version to upcast go the library's way. Pinned by test_a_row_read_back_is_the_mappers_event.
- store.py `LedgerStore._snapshot`: an account snapshot decoded reviving only its top-level timestamp (the state is
  plain JSON, `account_storage.AccountSnapshot`). Pinned by test_a_stored_snapshot_read_back_is_the_mappers_snapshot
  and tests/unit/test_compact_state.py::test_snapshot_decoded_without_the_scan_equals_the_library_decoding.
- store.py `LedgerStore._collect`: ProcessingEvent.collect_events without its Protocol isinstance checks for the
  ledger's aggregates. Pinned by test_collecting_gives_the_librarys_processing_event.
- store.py `LedgerStore._take_snapshots`: snapshots taken from the aggregates just saved, where
  Application.take_snapshot reloads each one from its events. Pinned by
  tests/integration/test_application.py::test_snapshots_give_the_same_state_as_a_full_replay.
- store.py `LedgerStore._get`, `load_many`, `_build`: Repository.get by two batch queries (latest snapshots, the events
  after them). Pinned by tests/integration/test_store_batches.py::test_preload_gives_the_accounts_single_loads_give and
  tests/integration/test_relay.py::test_accounts_load_at_any_version_as_single_loads_give_them.
- store.py `LedgerStore.lean_history` (json_transcoder.py `FastJSONTranscoder.decode_lean`): an account's history
  for the as-of query with each ChargeApplied row read as the NamedTuple of the fields the postings need, without
  making the event or scanning the document for typed values; anything it cannot read that way goes the history
  way. Pinned by test_a_lean_history_holds_what_the_history_holds and
  test_the_as_of_book_from_the_lean_history_is_the_book_from_the_history.
- json_transcoder.py `FastJSONTranscoder`: the library's JSONTranscoder bytes, written by orjson. Pinned by
  tests/unit/test_compact_state.py::test_fast_transcoder_*.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanInitAggregate
from eventsourcing.utils import get_topic, resolve_topic

_BASE_FIELDS = ("originator_id", "originator_version", "timestamp")
_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}


def event_fields(event_class: type) -> tuple[tuple[str, ...], frozenset[str]]:
    """An event class's own fields in declaration order (after the id, version and timestamp every event has), and
    as a set."""
    found = _FIELDS.get(event_class)
    if found is None:
        names = tuple(f.name for f in dataclasses.fields(event_class) if f.name not in _BASE_FIELDS)
        found = _FIELDS[event_class] = (names, frozenset(names))
    return found


def event_from_state(event_class: type, state: dict[str, Any]) -> Any:
    """An event (or snapshot) object whose attributes are `state`, made as the library's mapper makes it."""
    event: Any = object.__new__(event_class)
    object.__setattr__(event, "__dict__", state)
    return event


def record(aggregate: Any, event_class: type, now: datetime, fields: dict[str, Any]) -> bool:
    """Trigger the aggregate's next event as trigger_event does; False (nothing done) unless `fields` are exactly
    the event's own fields."""
    names, name_set = event_fields(event_class)
    if fields.keys() != name_set:
        return False
    version = aggregate._version + 1
    state = {"originator_id": aggregate._id, "originator_version": version, "timestamp": now}
    for name in names:
        state[name] = fields[name]
    event = event_from_state(event_class, state)
    event.apply(aggregate)
    aggregate._version = version
    aggregate._modified_on = now
    aggregate._pending_events.append(event)
    return True


def create(cls: Any, event_class: type, aggregate_id: UUID | None, timestamp: datetime | None,
           fields: dict[str, Any]) -> Any:
    """The new aggregate as cls._create makes it (its creation event pending); None (nothing done) unless given an id,
    a timestamp and exactly the creation event's own fields (its originator_topic excepted)."""
    names, name_set = event_fields(event_class)
    if not isinstance(aggregate_id, UUID) or timestamp is None or fields.keys() != name_set - {"originator_topic"}:
        return None
    state = {"originator_id": aggregate_id, "originator_version": cls.INITIAL_VERSION, "timestamp": timestamp}
    for name in names:
        state[name] = get_topic(cls) if name == "originator_topic" else fields[name]
    created = event_from_state(event_class, state)
    aggregate = construct(created)
    aggregate._pending_events.append(created)
    return aggregate


def construct(created: Any) -> Any:
    """created.mutate(None) for a creation event: the library's steps (base attributes, then apply) without its
    keyword filtering for an __init__ the aggregate class does not define."""
    cls = resolve_topic(created.originator_topic)
    if cls.__init__ is not object.__init__ or cls.__base_init__ is not BaseAggregate.__base_init__:
        return created.mutate(None)
    aggregate = object.__new__(cls)
    aggregate._id = created.originator_id
    aggregate._version = created.originator_version
    aggregate._created_on = aggregate._modified_on = created.timestamp
    aggregate._pending_events = []
    created.apply(aggregate)
    return aggregate


def mutate(event: Any, aggregate: Any) -> Any:
    """event.mutate(aggregate) for an event read back by the aggregate's id (see the module's docstring)."""
    if aggregate is None and isinstance(event, CanInitAggregate):
        return construct(event)
    if aggregate is None or event.originator_version != aggregate._version + 1:
        return event.mutate(aggregate)
    event.apply(aggregate)
    aggregate._version = event.originator_version
    aggregate._modified_on = event.timestamp
    return aggregate


def project(aggregate: Any, events: Iterable[Any]) -> Any:
    """Apply events in order (a snapshot's mutate builds the aggregate), as the repository's projector does."""
    for event in events:
        aggregate = mutate(event, aggregate)
    return aggregate
