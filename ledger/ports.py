"""Ports the service layer depends on; adapters (real and fake) live at the edge and are wired in bootstrap."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

if TYPE_CHECKING:
    from ledger.errors import NotFound
    from ledger.settings import Settings

A = TypeVar("A")
R = TypeVar("R")

VersionConflict = IntegrityError
"""What a save raises when another writer changed one of its aggregates first (reload and retry)."""

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(moment: datetime) -> Clock:
    """A clock that always reads `moment` (in UTC): one scripted step of a session, a test."""
    utc = moment.astimezone(UTC)
    return lambda: utc


class Progress(Protocol):
    """Reports long work (a cycle run, a verify) to whoever watches: a progress bar, a log, nothing."""

    def start(self, total: int, label: str) -> None: ...

    def advance(self, done: int) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, total: int, label: str) -> None:
        pass

    def advance(self, done: int) -> None:
        pass

    def finish(self) -> None:
        pass


class AggregateStore(Protocol):
    """What command handlers and queries need of the event store: load, find, load many, save (atomically)."""

    def load(self, cls: type[A], aggregate_id: UUID, missing: type[NotFound], what: str,
             version: int | None = None) -> A:
        """The aggregate (its latest state, or at `version`); raises `missing` when there is none of type `cls`."""
        ...

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None: ...

    def load_many(self, cls: type[A], aggregate_ids: Sequence[UUID], ahead: Any = None) -> Mapping[UUID, A | None]:
        """Many aggregates in as few round trips as the store allows; None for an id with none of type `cls`. `ahead`:
        a batch's `read_ahead` (BatchStore), whose rows hold them; None reads them now."""
        ...

    def save(self, *aggregates: Any) -> Any:
        """Every pending event of the given aggregates in one transaction; raises VersionConflict."""
        ...

    def history(self, aggregate_id: UUID) -> Iterable[Any]:
        """Every stored event of one aggregate, in order (for replays)."""
        ...

    def lean_history(self, aggregate_id: UUID, lean: Mapping[type, Callable[..., Any]], after: int = 0) -> Iterable[Any]:
        """`history` (the events after version `after`), with each event of a class in `lean` given as `lean[cls]`:
        a NamedTuple whose fields (originator_version, timestamp, then some of the event's own) hold what the
        event holds."""
        ...

    def histories(self, aggregate_ids: Sequence[UUID], after: Mapping[UUID, int] | None = None) -> Mapping[UUID, list[Any]]:
        """`history` of many aggregates (of each, the events after its version in `after`, when given) in as few
        round trips as the store allows."""
        ...

    def created(self, topics: Sequence[str]) -> Iterable[Any]:
        """The creation events of the given topics across every aggregate, in the order they were stored."""
        ...


class BookCheckpoints(Protocol):
    """Stored book checkpoints (ledger/queries/book_checkpoint.py): per account, the encoded book of its events up
    to a version, written by a code version (`code`); a store that keeps them has one as `book_checkpoints`."""

    def latest(self, account_id: UUID, code: str) -> tuple[int, bytes] | None:
        """(version, data) of the account's checkpoint of the highest version written by `code`, or None."""
        ...

    def version(self, account_id: UUID, code: str) -> int | None:
        """The highest version of the account's checkpoints written by `code` (its data not read), or None."""
        ...

    def put(self, account_id: UUID, version: int, code: str, data: bytes) -> bool:
        """Keep a checkpoint (replacing the account's older ones and other codes'); False when it could not be
        written (logged; never raised: a missing checkpoint only costs speed)."""
        ...

    def drop(self, account_id: UUID | None = None) -> int:
        """Remove the account's checkpoints (every account's: None); how many were removed."""
        ...

    def stored(self) -> list[tuple[UUID, int, str]]:
        """(account id, version, code) of every stored checkpoint."""
        ...


class PendingWork(Protocol):
    """A save written behind: `wait()` finishes it, or raises what its insert raised."""

    def wait(self) -> None: ...


class BatchStore(AggregateStore, Protocol):
    """What the cycle run's engine needs besides: reads ahead, writes behind, and the retry of a conflicting unit."""

    def preload(self, cls: type[A], aggregate_ids: Sequence[UUID], missing: type[NotFound], what: str,
                ahead: Any = None) -> dict[UUID, A]: ...

    def read_ahead(self, aggregate_ids: Sequence[UUID]) -> Any:
        """Start reading the rows of aggregates to `preload` next, in the background (None when the store can't)."""
        ...

    def save_behind(self, *aggregates: Any, rebase: tuple[Any, Callable[[Any], None]] | None = None) -> PendingWork:
        """`save` with the insert on a background thread. `rebase=(aggregate, redo)`: on a version conflict caused
        by other writers' events of `aggregate`, `redo` records the decision again on a fresh copy of it and the
        insert is tried again (the other aggregates' events unchanged)."""
        ...

    def forget(self) -> None:
        """Drop cached aggregates (after a version conflict some are stale)."""
        ...

    def catch_up(self, aggregates: Any) -> None:
        """Loaded aggregates brought up to date in place while other writers have lately been changing the store's
        aggregates (after a version conflict); otherwise nothing."""
        ...

    def restored(self, aggregates: Any) -> None:
        """In an attempt whose save met a version conflict: these aggregates are back as they were loaded (the attempt
        took its changes back), so the retry catches them up instead of dropping the cache."""
        ...

    def retrying(self, attempt: Callable[[], R], attempts: int) -> R: ...


class DirectoryMatches(NamedTuple):
    """One page of a directory search: the customers' ids in order, and how many match. `total_exact` False: more
    than the count cap match and `total` is a lower bound (at least that many), not the number."""

    ids: list[UUID]
    total: int
    total_exact: bool


class PersonalData(Protocol):
    """The personal-data vault: seals personal values with a key per customer, opens them (None once erased),
    erases by destroying the key, and keeps the directory customer search reads."""

    def seal(self, owner: UUID, fields: Mapping[str, str]) -> dict[str, str]: ...

    def open(self, owner: UUID, sealed: Mapping[str, str]) -> dict[str, str] | None: ...

    def erase(self, owner: UUID) -> bool: ...

    def index(self, owner: UUID, entry: Mapping[str, str]) -> None: ...

    def search(self, text: str, limit: int, offset: int, *, fields: Mapping[str, str] | None = None,
               within: Collection[UUID] | None = None) -> DirectoryMatches: ...


class HandlerContext(Protocol):
    """What a command handler is given (the Ledger is one): the store port, the clock, progress, settings and the
    personal-data vault."""

    store: BatchStore
    settings: Settings
    progress: Progress
    personal: PersonalData
    cycle_processes: CycleProcesses | None

    def now(self) -> datetime: ...


class CycleProcesses(Protocol):
    """Bills a cycle's accounts in `workers` processes and returns when every one is billed (bootstrap wires
    `ledger.cycle_processes.bill_in_workers`; a Ledger built without it runs cycles in its own process only)."""

    def __call__(self, ctx: HandlerContext, cycle_id: UUID, accounts: list[UUID], send: bool,
                 workers: int) -> None: ...


class OutboundMessage(NamedTuple):
    """One encoded event on its way to the event topic: key (billing account), value (Avro), headers."""

    key: bytes
    value: bytes
    headers: Sequence[tuple[str, bytes]]  # the relay's are a list, as kafka-python wants them


class EventPublisher(Protocol):
    """Sends encoded events onward (Kafka in production, a list in tests), in the order given.

    `publish` returns only once every message is acknowledged, and raises PublishFailed otherwise.
    """

    def publish(self, messages: list[OutboundMessage]) -> None: ...

    def close(self) -> None: ...


class PositionStore(Protocol):
    """Where a follower of the notification log keeps how far it got (the event store's database)."""

    def get(self, name: str) -> int: ...

    def set(self, name: str, position: int) -> None: ...

    def reconnect(self) -> None:
        """Drop the connection (after a failure); the next get or set connects again."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DeadLetter:
    """A message the ledger could not accept: its original bytes and where they came from, and why."""

    value: bytes | None
    key: bytes | None
    source_topic: str
    source_partition: int
    source_offset: int
    error: str
    reason: str


class DeadLetterSink(Protocol):
    """Keeps refused messages (a dead-letter topic in production); `send` returns once they are stored."""

    def send(self, letters: list[DeadLetter]) -> None: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- the HTTP API's own records (issue 12)


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as stored: never the key itself (only its hash is kept, beside this record)."""

    key_id: str
    role: str
    accounts: frozenset[str] | None  # a customer key's billing accounts; None for other roles
    label: str
    created_at: float
    revoked_at: float | None = None
    last_used_at: float | None = None


@dataclass(frozen=True)
class IdempotentResponse:
    """What a POST answered the first time under an Idempotency-Key (status 0: the first request still runs)."""

    fingerprint: str
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class ListenerRecord:
    """A hub listener (TMF EventSubscription) and how its deliveries go; its secret is kept apart."""

    id: str
    callback: str
    query: str
    position: int  # the notification id of the last event handled for it
    state: str  # active, retrying, failing
    failing_since: float | None
    last_error: str | None
    last_delivered_at: float | None
    delivered: int
    created_at: float


class ApiRecords(Protocol):
    """The API keys, idempotency keys and hub listeners, in the event store's database."""

    def add_key(self, record: ApiKeyRecord, key_hash: str) -> None: ...

    def key_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...

    def keys(self) -> list[ApiKeyRecord]: ...

    def revoke_key(self, key_id: str, at: float) -> bool: ...

    def touch_key(self, key_id: str, at: float) -> None: ...

    def claim(self, scope: str, key: str, fingerprint: str, now: float, keep_seconds: float) -> IdempotentResponse | None:
        """None: the caller holds the key and runs the request; else the stored (or still pending) response."""
        ...

    def complete(self, scope: str, key: str, response: IdempotentResponse) -> None: ...

    def release(self, scope: str, key: str) -> None: ...

    def purge(self, before: float) -> int: ...

    def add_listener(self, record: ListenerRecord, secret: str) -> None: ...

    def listener(self, listener_id: str) -> ListenerRecord | None: ...

    def listeners(self) -> list[ListenerRecord]: ...

    def listener_secret(self, listener_id: str) -> str | None: ...

    def remove_listener(self, listener_id: str) -> bool: ...

    def delivered(self, listener_id: str, position: int, count: int, at: float) -> None: ...

    def failed(self, listener_id: str, since: float, error: str, failing: bool) -> None: ...

    def close(self) -> None: ...
