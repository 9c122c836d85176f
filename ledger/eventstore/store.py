"""The event store: an eventsourcing Application that loads and atomically saves the ledger's aggregates.

Its shortcuts past the library's own steps (decoding rows, collecting events, snapshots, batch loads) are listed,
with the tests that pin them, in ledger/aggregates/library_bypasses.py, which holds the pure ones it uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Cache, LRUCache, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording, StoredEvent, Transcoder
from eventsourcing.utils import Environment, get_topic, resolve_topic

from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.library_bypasses import event_from_state, mutate, project
from ledger.errors import NotFound
from ledger.eventstore import contention
from ledger.eventstore.book_checkpoints import BookCheckpointTable
from ledger.eventstore.json_transcoder import FastJSONTranscoder
from ledger.eventstore.overlap import PendingSave, ReadAhead, Rows
from ledger.eventstore.postgres_pool import hand_out_last_used_first
from ledger.eventstore.versions import BlockingVersions, PostgresVersions, Versions

A = TypeVar("A")
ACCOUNT_SNAPSHOT_TOPIC = get_topic(BillingAccount.Snapshot)
_EVENT_CLASSES: dict[str, tuple[type, bool]] = {}  # topic -> (event class, has a class version to upcast from)
R = TypeVar("R")
REBASE_ATTEMPTS = 50
"""Inserts of a rebased save (`save_behind(..., rebase=...)`) before its version conflict is raised."""
Rebase = tuple[Any, Callable[[Any], None]]
"""(aggregate, redo): the aggregate whose events a conflicting insert records again on a fresh copy with `redo`."""
CONTENDED_BATCHES = 50
"""After a version conflict, the batches of charges whose cached accounts are caught up before deciding on them."""


class LedgerStore(Application):
    """Persistence for every aggregate; one `save()` writes all events of a command in one transaction."""

    name = "Ledger"

    def __init__(self, env: dict[str, str], snapshot_interval: int) -> None:
        super().__init__(env=env)
        self.snapshotting_intervals = {BillingAccount: snapshot_interval} if snapshot_interval else {}  # type: ignore[misc]  # the library's concrete recorder and ids, typed by their protocols
        self._background: ThreadPoolExecutor | None = None  # reads ahead and writes behind; started on first use
        self.saving: list[UUID] = []  # the stored aggregates the last save wrote (whose locks a retry takes)
        self._restored: set[UUID] = set()  # of those, the ones put back as loaded after the save failed (`restored`)
        self._contended = 0  # `catch_up` calls left that catch up (a conflict sets CONTENDED_BATCHES)
        self.take_locks: Callable[[Iterable[UUID]], None] | None = None  # in `retrying`, with writer locks
        datastore = getattr(self.recorder, "datastore", None)
        self.retry_strategy = self.env.get("LEDGER_RETRY_STRATEGY") or "locks"
        locking = hasattr(self.recorder, "share_locks") and self.retry_strategy == "locks"
        self.writer_locks = contention.WriterLocks(datastore) if locking else None
        if self.writer_locks is not None:
            self.recorder.share_locks = self.writer_locks.share  # type: ignore[attr-defined]
        recorder = self.recorder
        # the as-of queries' book checkpoints (ledger/queries/book_checkpoint.py): only where events are stored as
        # they are (a checkpoint holds them decoded: never beside a cipher)
        self.book_checkpoints = BookCheckpointTable.of(recorder, self.factory) if self._plain_events else None
        if hasattr(recorder, "compress_with_lz4") and self.factory.env_create_table():  # type: ignore[attr-defined]
            recorder.compress_with_lz4(recorder.events_table_name)  # type: ignore[attr-defined]  # our PostgreSQL recorder: bills' events insert faster
            if self.snapshots is not None:  # big snapshots read back faster
                recorder.store_uncompressed(self.snapshots.recorder.events_table_name)  # type: ignore[attr-defined]

    def construct_factory(self, env: Environment) -> Any:
        """The library's factory; on PostgreSQL its connection pool hands out the connection used last first."""
        factory = super().construct_factory(env)
        datastore = getattr(factory, "datastore", None)
        if datastore is not None:
            hand_out_last_used_first(getattr(datastore, "pool", None))
        return factory

    def construct_transcoder(self) -> Transcoder:
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save (record, snapshot, notify, cache the saved aggregates), collecting pending events
        straight from our aggregates instead of through runtime typing.Protocol isinstance checks."""
        processing_event = self._collect(objs, kwargs)
        return self._saved(processing_event, self._record(processing_event))

    def save_behind(self, *objs: Any, rebase: Rebase | None = None) -> PendingSave:
        """`save`, with the insert on a background thread (PostgreSQL): the events are taken from the aggregates and
        encoded now, the caller goes on computing while the server inserts them, and `wait()` on the result finishes
        the save (cache, snapshots) or raises what the insert raised (then the aggregates, changed in memory and
        cached, are not what is stored: `forget()`). Elsewhere (SQLite) the save is done before this returns.
        The caller must not change the saved aggregates before `wait()` (their snapshots are taken then)."""
        if not self._bulk:
            self.save(*objs)
            return PendingSave.done()
        processing_event = self._collect(objs, {})
        events = processing_event.events
        stored = [self.mapper.to_stored_event(event) for event in events]
        insert: Callable[[], Any] = partial(self.recorder.insert_events, stored)
        if rebase is not None:
            insert = partial(self._insert_rebasing, stored, processing_event, rebase)

        def finish(_: Any) -> None:  # no Recording per event: nothing here listens for them (_notify is not used)
            if self.repository.cache is not None and not self.repository.fastforward:  # as the library's _record
                for aggregate_id, aggregate in processing_event.aggregates.items():
                    self.repository.cache.put(aggregate_id, aggregate)
            self._take_snapshots(processing_event)

        return PendingSave(self._threads().submit(insert), finish)

    def _insert_rebasing(self, stored: list[StoredEvent], processing_event: ProcessingEvent[UUID], rebase: Rebase,
                         attempts: int = REBASE_ATTEMPTS) -> Any:
        """The insert of `save_behind(..., rebase=(aggregate, redo))`, on the background thread: when it meets a
        version conflict because other writers stored events of `aggregate` meanwhile (several processes recording
        their batches on one cycle), the aggregate is read afresh (not from the cache: the caller still reads the
        old object), `redo` records the decision again on that fresh copy, and the same insert is tried again with
        the fresh copy's events in place of the old ones; the other aggregates' events are inserted as they were
        encoded. Skips: deciding the other aggregates again (they are not what conflicted). A conflict where
        `aggregate` is unchanged (another aggregate of the save conflicted) is raised as it was. The fresh copy is
        what the save caches. Proven equal to the plain path by tests/integration/test_cycle_workers.py (two
        workers' cycle record equal to one worker's)."""
        aggregate, redo = rebase
        versions_before = aggregate.version - sum(1 for e in processing_event.events if e.originator_id == aggregate.id)
        for _ in range(attempts):
            try:
                return self.recorder.insert_events(stored)
            except IntegrityError:
                events = self.histories([aggregate.id])[aggregate.id]
                if not events or events[-1].originator_version <= versions_before:
                    raise  # not this aggregate's conflict
                fresh = project(None, events)
                redo(fresh)
                mine = [self.mapper.to_stored_event(event) for event in fresh.collect_events()]
                stored = [e for e in stored if e.originator_id != aggregate.id] + mine
                processing_event.aggregates[aggregate.id] = fresh
                versions_before = events[-1].originator_version
        raise IntegrityError(f"{aggregate.id}: other writers kept changing it ({attempts} rebased inserts)")

    def _collect(self, objs: Sequence[Any], kwargs: dict[str, Any]) -> ProcessingEvent[UUID]:
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        other: list[Any] = []
        for obj in objs:
            if isinstance(obj, LedgerAggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            elif obj is not None:
                other.append(obj)
        if other:  # anything else (a bare event, a foreign aggregate): the library's way
            processing_event.collect_events(*other)
        processing_event.saved_kwargs.update(kwargs)
        self.saving = [event.originator_id for event in processing_event.events if event.originator_version > 1]
        self._restored = set()
        return processing_event

    def _saved(self, processing_event: ProcessingEvent[UUID], recordings: list[Recording[UUID]]) -> list[Recording[UUID]]:
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated hook, kept for parity with Application.save
        return recordings

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshot from the aggregates just saved, not by reloading them (the library's default re-reads every event)."""
        if not (self.snapshots and self.snapshotting_intervals):
            return
        due = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate))
            if interval and event.originator_version % interval == 0:
                due[event.originator_id] = aggregate
        if due:
            self.snapshots.put([type(agg).Snapshot.take(agg) for agg in due.values()])

    def _get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        """The repository's get (cache, then latest snapshot + later events), by batch reads when the recorder has them."""
        if version is not None or not self._reads_in_batches:
            return self.repository.get(aggregate_id, version=version, projector_func=project)
        cached = self._cached(aggregate_id)
        if cached is not None:
            return cached
        aggregate = self._bulk_reconstruct([aggregate_id])[aggregate_id]
        if aggregate is None:
            raise AggregateNotFoundError(aggregate_id)
        return aggregate

    @property
    def _reads_in_batches(self) -> bool:
        """Loads go through the batch reads (not the library's repository: no fast-forward or deep copies asked)."""
        repository = self.repository
        return self._bulk and not (repository.fastforward or repository.deepcopy_from_cache)

    def _cached(self, aggregate_id: UUID) -> Any:
        """The cache's copy of an aggregate, or None."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            return cache.get(aggregate_id)
        except KeyError:
            return None

    @property
    def _bulk(self) -> bool:
        """The recorder reads many aggregates per query (our PostgreSQL recorder) and events decode the plain way."""
        return hasattr(self.recorder, "select_events_after") and self._plain_events

    @property
    def _plain_events(self) -> bool:
        """Stored events are the transcoder's bytes as they are (no cipher, no compressor)."""
        return self.mapper.cipher is None and self.mapper.compressor is None

    def domain_event(self, stored: Any) -> Any:
        """mapper.to_domain_event of a stored event or notification, by the batch reads' decoding when it applies."""
        if self._plain_events:
            return self._event(stored.originator_id, stored.originator_version, stored.topic, stored.state)
        return self.mapper.to_domain_event(stored)

    def _event(self, aggregate_id: UUID, version: int, topic: str, state: bytes) -> Any:
        """Mapper.to_domain_event for a row of a batch read (no cipher or compressor; class versions upcast)."""
        try:
            cls, versioned = _EVENT_CLASSES[topic]
        except KeyError:
            cls = resolve_topic(topic)
            cls, versioned = _EVENT_CLASSES[topic] = (cls, getattr(cls, "class_version", 1) > 1)
        event_state = self.mapper.transcoder.decode(state)
        if versioned or "class_version" in event_state:
            return self.mapper.to_domain_event(StoredEvent(aggregate_id, version, topic, state))
        event_state["originator_id"] = aggregate_id
        event_state["originator_version"] = version
        return event_from_state(cls, event_state)

    def _snapshot(self, stored: StoredEvent) -> Any:
        """Mapper.to_domain_event for a stored snapshot; an account's snapshot, plain JSON but for its timestamp
        (`BillingAccount.Snapshot`), is decoded without scanning its megabytes for typed values."""
        transcoder = self.mapper.transcoder
        if stored.topic != ACCOUNT_SNAPSHOT_TOPIC or not isinstance(transcoder, FastJSONTranscoder):
            return self.mapper.to_domain_event(stored)
        event_state = transcoder.decode_top_level_typed(stored.state, ("timestamp",))
        event_state["originator_id"] = stored.originator_id
        event_state["originator_version"] = stored.originator_version
        return event_from_state(BillingAccount.Snapshot, event_state)

    def version(self, aggregate_id: UUID) -> int | None:
        """The version of an aggregate's last stored event, None when it has none: one cheap select, never the
        cache (what the database holds now)."""
        select = getattr(self.recorder, "select_max_version", None)
        if select is not None:
            return select(aggregate_id)
        last = self.recorder.select_events(aggregate_id, desc=True, limit=1)
        return last[0].originator_version if last else None

    def versions(self) -> Versions:
        """`version` for an asyncio server: on PostgreSQL asynchronous and coalescing (eventstore/versions.py), on
        its own connection; elsewhere the same select as `version`."""
        datastore = getattr(self.recorder, "datastore", None)
        pool = getattr(datastore, "pool", None)
        if pool is None or not hasattr(self.recorder, "select_max_version"):
            return BlockingVersions(self.version)
        return PostgresVersions(dict(pool.kwargs), datastore.schema, self.recorder.events_table_name,  # type: ignore[union-attr, attr-defined]
                                datastore.originator_id_type)  # type: ignore[union-attr]

    def load(self, cls: type[A], aggregate_id: UUID, missing: type[NotFound], what: str, version: int | None = None) -> A:
        try:
            aggregate = self._get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise missing(f"{what} not found", id=aggregate_id) from None
        if not isinstance(aggregate, cls):
            raise missing(f"{what} not found (id {aggregate_id} holds a {type(aggregate).__name__})", id=aggregate_id)
        return aggregate

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate = self._get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def preload(self, cls: type[A], aggregate_ids: Sequence[UUID], missing: type[NotFound], what: str,
                ahead: ReadAhead | None = None) -> dict[UUID, A]:
        """Load many aggregates at once (a bill-run batch): the cached ones from the cache, the others with one query
        for their latest snapshots and one for the events after them (PostgreSQL; or from `ahead`, when it read them),
        or one by one (SQLite). Loaded aggregates go into the cache like single loads do. Raises `missing` for an id
        with no events."""
        found = self.load_many(cls, aggregate_ids, ahead)
        for aggregate_id in aggregate_ids:
            if found[aggregate_id] is None:
                raise missing(f"{what} not found", id=aggregate_id)
        return found  # type: ignore[return-value]

    def load_many(self, cls: type[A], aggregate_ids: Sequence[UUID], ahead: ReadAhead | None = None) -> dict[UUID, A | None]:
        """Like `preload`, but an id with no events (or holding another aggregate type) maps to None. With `ahead`,
        the aggregates its rows hold besides `aggregate_ids` are kept on it for the next load of the batch (a cycle
        run's subscriptions, read with its accounts): that load builds nothing again and reads nothing."""
        found: dict[UUID, Any] = {aggregate_id: self._cached(aggregate_id) for aggregate_id in aggregate_ids}
        todo = [aggregate_id for aggregate_id, aggregate in found.items() if aggregate is None]
        if todo and self._reads_in_batches:
            kept = ahead.kept(todo) if ahead is not None else None  # built by an earlier load of the same read
            rows = ahead.take(todo) if ahead is not None and kept is None else None
            if kept is not None:
                found.update(self._cache(kept))
            elif rows is None:
                found.update(self._bulk_reconstruct(todo))
            else:  # read in the background: it may hold rows of ids cached since, which the cache's copy outranks
                built = self._build(ahead.ids, rows)  # type: ignore[union-attr]
                wanted = set(todo)
                ahead.keep({i: a for i, a in built.items() if i not in wanted})  # type: ignore[union-attr]  # the batch's other aggregates, for its next load
                found.update(self._cache({aggregate_id: built[aggregate_id] for aggregate_id in todo}))
        else:
            for aggregate_id in todo:
                try:
                    found[aggregate_id] = self.repository.get(aggregate_id, projector_func=project)
                except AggregateNotFoundError:
                    found[aggregate_id] = None
        return {aggregate_id: found[aggregate_id] if isinstance(found[aggregate_id], cls) else None
                for aggregate_id in aggregate_ids}

    def read_ahead(self, aggregate_ids: Sequence[UUID]) -> ReadAhead | None:
        """Start reading the stored rows of aggregates the caller will `preload` next (those not cached now), on a
        background thread with its own connection, so the server works while this thread bills the batch before.
        None when there is nothing to read or the store reads one aggregate at a time (SQLite)."""
        ids = [aggregate_id for aggregate_id in aggregate_ids if self._cached(aggregate_id) is None]
        if not ids or not self._reads_in_batches:
            return None
        return ReadAhead(ids, self._threads().submit(self._read_rows, ids))

    def _threads(self) -> ThreadPoolExecutor:
        """Two background threads, each with its own pooled connection: one reading ahead, one writing behind."""
        if self._background is None:
            self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ledger-store")
        return self._background

    def _read_rows(self, ids: list[UUID]) -> Rows:
        """Two queries: the latest snapshot of each aggregate, then the events after it (after 0 without one); for
        one aggregate both in one statement (`select_one_with_snapshot`: one round trip)."""
        recorder = self.recorder
        snapshots: list[StoredEvent] = []
        after = [0] * len(ids)
        if self.snapshots is not None:
            table = self.snapshots.recorder.events_table_name  # type: ignore[attr-defined]
            if len(ids) == 1:
                return recorder.select_one_with_snapshot(table, ids[0])  # type: ignore[attr-defined]
            snapshots = recorder.select_latest_snapshots(table, ids)  # type: ignore[attr-defined]
            position = {aggregate_id: k for k, aggregate_id in enumerate(ids)}
            for stored in snapshots:
                after[position[stored.originator_id]] = stored.originator_version  # type: ignore[index]  # the library's concrete recorder and ids, typed by their protocols
        return snapshots, recorder.select_events_after(ids, after)  # type: ignore[attr-defined]

    def _bulk_reconstruct(self, aggregate_ids: list[UUID]) -> dict[UUID, Any]:
        """Each aggregate from its latest snapshot and the events after it, read by two queries; None for an id with
        no events; cached like single loads."""
        return self._cache(self._build(aggregate_ids, self._read_rows(aggregate_ids)))

    def _build(self, ids: list[UUID], rows: Rows) -> dict[UUID, Any]:
        """The aggregates of `ids` from their rows (None for an id with none), kept by position while building:
        a UUID hashes in Python."""
        event = self._event
        snapshots, events = rows
        built: list[Any] = [None] * len(ids)
        if snapshots:
            position = {aggregate_id: k for k, aggregate_id in enumerate(ids)}
            for stored in snapshots:
                built[position[stored.originator_id]] = self._snapshot(stored).mutate(None)  # type: ignore[index]  # the library's concrete recorder and ids, typed by their protocols
        for n, version, topic, state in events:
            k = n - 1
            built[k] = mutate(event(ids[k], version, topic, state), built[k])
        return dict(zip(ids, built))

    def _cache(self, found: dict[UUID, Any]) -> dict[UUID, Any]:
        cache = self.repository.cache
        if cache is not None:
            for aggregate_id, aggregate in found.items():
                if aggregate is not None:  # an id not (yet) stored must be looked up again next time
                    cache.put(aggregate_id, aggregate)
        return found

    def close(self) -> None:
        if self._background is not None:
            self._background.shutdown(wait=True, cancel_futures=True)
            self._background = None
        super().close()

    def forget(self) -> None:
        """Drop cached aggregates (after a version conflict some are stale)."""
        cache = self.repository.cache
        if cache is not None:
            # A fresh cache: the library's LRUCache.clear() only resets its recency list and keeps every entry.
            self.repository.cache = LRUCache(maxsize=cache.maxsize) if isinstance(cache, LRUCache) else Cache()

    def restored(self, aggregates: Iterable[Any]) -> None:
        """Say that these aggregates, changed by an attempt whose save just failed, are back as they were loaded (the
        attempt took its changes back): the retry then catches them up instead of dropping the cache."""
        self._restored = {aggregate.id for aggregate in aggregates}

    def after_conflict(self) -> None:
        """Before retrying an attempt whose save met a version conflict: when every stored aggregate that save wrote
        was put back as loaded (`restored`), bring those still cached up to date with only the events stored after
        their versions (one query on PostgreSQL); otherwise, or if that fails, drop the cache (`forget`): the
        failed attempt left changed aggregates in it. Either way the next CONTENDED_BATCHES `catch_up` calls
        catch up too: other writers are changing the same aggregates."""
        restored, self._restored = self._restored, set()
        self._contended = CONTENDED_BATCHES
        if not restored or not restored.issuperset(self.saving):
            self.forget()
            return
        cached = [aggregate for aggregate_id in restored if (aggregate := self._cached(aggregate_id)) is not None]
        try:
            self._catch_up(cached)
        except Exception:  # noqa: BLE001  (a read or an event that fails: the retry reloads them, and meets it there)
            self.forget()

    def catch_up(self, aggregates: Iterable[Any]) -> None:
        """Loaded aggregates (cached ones maybe stale) brought up to date with the events stored after their versions,
        in place and in one query on PostgreSQL, while other writers have lately been changing this store's
        aggregates (a version conflict in the last CONTENDED_BATCHES calls); otherwise nothing (one writer: nothing
        to catch up, no query). On PostgreSQL the command first takes these aggregates' writer locks (as a retry
        does, ledger/eventstore/contention.py): writers on the same aggregates then decide one after the other, on
        state nobody changes before their save, instead of all deciding and all but one deciding again."""
        if not self._contended:
            return
        self._contended -= 1
        loaded = [aggregate for aggregate in aggregates if aggregate is not None]
        try:
            if self.take_locks is not None:  # PostgreSQL: hold the batch's locks first, so nobody changes them meanwhile
                self.take_locks([aggregate.id for aggregate in loaded])
            self._catch_up(loaded)
        except BaseException:
            self.forget()
            raise

    def _catch_up(self, aggregates: list[Any]) -> None:
        if not aggregates:
            return
        found = self.histories([a.id for a in aggregates], {a.id: a.version for a in aggregates})
        by_id = {a.id: a for a in aggregates}
        for aggregate_id, events in found.items():
            if events:
                project(by_id[aggregate_id], events)  # in place: the cached object is the one the next load gives

    def retrying(self, attempt: Callable[[], R], attempts: int) -> R:
        """Run a load-decide-save attempt; on a version conflict catch up (or reload) and try again (optimistic
        concurrency), backing off, and on PostgreSQL holding the conflicting aggregates' locks
        (ledger/eventstore/contention.py; `after_conflict`, `catch_up`)."""
        return contention.retrying(self, attempt, attempts, self.writer_locks, backoff=self.retry_strategy != "plain")

    def notifications(self, start: int, limit: int, topics: list[str] | None = None) -> Any:
        return self.recorder.select_notifications(start=start, limit=limit, topics=topics or ())

    def history(self, aggregate_id: UUID, after: int = 0) -> Iterator[Any]:
        """Every stored event of one aggregate (those after version `after`), in version order (no snapshot, no
        cache), decoded the way the batch reads decode (an auditor's as-of state reads every event of a long
        account), each when it is asked for."""
        if self._bulk:  # PostgreSQL: binary tuple rows
            event = self._event
            rows = self.recorder.select_events_after([aggregate_id], [after])  # type: ignore[attr-defined]
            return (event(aggregate_id, version, topic, state) for _, version, topic, state in rows)
        return (self.domain_event(stored) for stored in self.recorder.select_events(aggregate_id, gt=after or None))

    def lean_history(self, aggregate_id: UUID, lean: Mapping[type, Callable[..., Any]], after: int = 0) -> Iterator[Any]:
        """`history` (the events after version `after`), except that an event of a class in `lean` comes as
        `lean[cls](originator_version, timestamp, *fields)`, the fields named by the rest of its `_fields` (a
        NamedTuple holding what a reader needs).

        Skips, for those events only, when the stored document allows it (`FastJSONTranscoder.decode_lean`): the
        event object, the scan of the whole document for typed values, the revival of any typed value but the
        timestamp, and on PostgreSQL nothing else (the same rows as `history`). Anything else (a cipher or a
        compressor, another transcoder, an event class with a class version, a document with one, a named field
        missing or not a plain scalar) is decoded the `history` way and its tuple made from the event's attributes,
        so the tuples are always what `history`'s events hold. Pinned by
        tests/unit/test_event_paths.py::test_a_lean_history_holds_what_the_history_holds."""
        transcoder = self.mapper.transcoder
        if not lean or not self._plain_events or not isinstance(transcoder, FastJSONTranscoder):
            return (self._lean_of(event, lean) for event in self.history(aggregate_id, after))
        by_topic: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {}
        for cls, make in lean.items():
            if getattr(cls, "class_version", 1) == 1:
                by_topic[get_topic(cls)] = (make, tuple(make._fields[2:]))  # type: ignore[attr-defined]  # a NamedTuple class
        if self._bulk:
            rows: Iterable[tuple[Any, int, str, bytes]] = self.recorder.select_events_after(  # type: ignore[attr-defined]
                [aggregate_id], [after])
        else:
            rows = ((0, s.originator_version, s.topic, s.state)
                    for s in self.recorder.select_events(aggregate_id, gt=after or None))
        return self._lean_rows(aggregate_id, rows, by_topic, transcoder, lean)

    def _lean_rows(self, aggregate_id: UUID, rows: Iterable[tuple[Any, int, str, bytes]],
                   by_topic: dict[str, tuple[Callable[..., Any], tuple[str, ...]]], transcoder: FastJSONTranscoder,
                   lean: Mapping[type, Callable[..., Any]]) -> Iterator[Any]:
        event, lean_of = self._event, self._lean_of
        return transcoder.decode_lean_rows(
            rows, by_topic, lambda version, topic, state: lean_of(event(aggregate_id, version, topic, state), lean))

    @staticmethod
    def _lean_of(event: Any, lean: Mapping[type, Callable[..., Any]]) -> Any:
        make = lean.get(type(event))
        if make is None:
            return event
        return make(*(getattr(event, name) for name in make._fields))  # type: ignore[attr-defined]  # a NamedTuple class

    def histories(self, aggregate_ids: Sequence[UUID], after: Mapping[UUID, int] | None = None) -> dict[UUID, list[Any]]:
        """`history` of many aggregates (of each, the events after its version in `after`, when given): on PostgreSQL
        one query for all of them."""
        ids = list(dict.fromkeys(aggregate_ids))
        after = after or {}
        if not self._bulk:
            return {i: [self.domain_event(s) for s in self.recorder.select_events(i, gt=after.get(i) or None)] for i in ids}
        found: dict[UUID, list[Any]] = {aggregate_id: [] for aggregate_id in ids}
        rows = self.recorder.select_events_after(ids, [after.get(i, 0) for i in ids])  # type: ignore[attr-defined]
        for n, version, topic, state in rows:
            found[ids[n - 1]].append(self._event(ids[n - 1], version, topic, state))
        return found

    def created(self, topics: Sequence[str], page: int = 5_000) -> Iterator[Any]:
        """The events of the given topics (creation events, say) across every aggregate, in notification order,
        read a page at a time from the notification log."""
        start = 1
        while True:
            found = self.notifications(start=start, limit=page, topics=list(topics))
            for notification in found:
                yield self.domain_event(notification)
            if len(found) < page:
                return
            start = found[-1].id + 1

