"""Turns the event store's notification log into contract records: each event with its account and, for
account events, the account's figures right after it (what the relay publishes and the projections read)."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from ledger.aggregates.billing_account import BillingAccount
from ledger.contracts.ledger_events import account_position, to_record
from ledger.errors import NotFound
from ledger.eventstore.account_history import load_at_versions
from ledger.eventstore.notification_log import NotificationLog
from ledger.eventstore.store import mutate

if TYPE_CHECKING:
    from ledger.eventstore.store import LedgerStore


class FeedItem(NamedTuple):
    """One stored event as a contract record, with its place in the notification log."""

    position: int
    schema: str
    event_type: str
    billing_account_id: UUID | None
    record: dict[str, Any]


def _new_item(fields: tuple[Any, ...]) -> FeedItem:
    return tuple.__new__(FeedItem, fields)


class _Lru(OrderedDict):
    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def remember(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self.maxsize:
            self.popitem(last=False)


class EventFeed:
    """Reads pages of the notification log and enriches each event; keeps bounded caches, so memory stays flat."""

    def __init__(self, store: LedgerStore, cache_size: int = 20_000) -> None:
        self.store = store
        self.log = NotificationLog(store)
        self._owner: _Lru = _Lru(cache_size * 4)  # bill/payment id -> account id
        self._accounts: _Lru = _Lru(cache_size)  # account id's int -> the account at the last event seen

    def page(self, after: int, limit: int) -> list[FeedItem]:
        """Up to `limit` events after notification id `after`, in order."""
        events = self.log.page(after, limit)
        self._load_missing([event for _, event in events])
        return [self.item(position, event) for position, event in events]

    def item(self, position: int, event: Any) -> FeedItem:
        position_after: dict[str, Any] | None
        if _owner_type(type(event)) == "BillingAccount":  # most events: no need to ask _account_of
            account_id, position_after = event.originator_id, account_position(self._account_after(event))
        else:
            account_id, position_after = self._account_of(event)
        schema, record = to_record(event, account_id, position_after)
        return _new_item((position, schema, type(event).__qualname__, account_id, record))

    def _account_of(self, event: Any) -> tuple[UUID | None, dict[str, Any] | None]:
        owner_type = _owner_type(type(event))
        aggregate_id = event.originator_id
        if owner_type == "BillingAccount":
            return aggregate_id, account_position(self._account_after(event))
        if owner_type in ("CustomerBill", "CustomerPayment", "Subscription"):
            account_id = (getattr(event, "account_id", None) or self._owner.get(aggregate_id)
                          or self._first_account_id(aggregate_id))
            self._owner.remember(aggregate_id, account_id)
            return account_id, None
        return None, None

    def _load_missing(self, events: list[Any]) -> None:
        """Load together the accounts the page needs and the cache cannot give (after a start, an eviction or a
        retried page): each as it was right after its first event in the page. A creation needs no load."""
        wanted: dict[UUID, int] = {}
        seen = set()
        accounts, owners = self._accounts, _OWNER_TYPES
        for event in events:
            key = event.originator_id.int
            if key in seen or (owners.get(type(event)) or _owner_type(type(event))) != "BillingAccount":
                continue
            seen.add(key)
            version = event.originator_version
            cached = accounts.get(key)
            if version > 1 and (cached is None or cached.version not in (version - 1, version)):
                wanted[event.originator_id] = version
        loaded = load_at_versions(self.store, BillingAccount, wanted, "billing account")
        for account_id, account in loaded.items():
            accounts.remember(account_id.int, account)

    def _account_after(self, event: Any) -> BillingAccount:
        """The account as it was right after `event`: the cached one moved forward, else loaded at that version.
        Cached by the id's integer: a UUID's own hash and equality run in Python."""
        key, version = event.originator_id.int, event.originator_version
        account = self._accounts.pop(key, None)
        if account is not None and account.version == version - 1:
            account = mutate(event, account)  # the store's read-back path: no per-event id and version checks
        elif version == 1:  # the account's creation: nothing to load
            account = mutate(event, None)
        elif account is None or account.version != version:
            account = self.store.load(BillingAccount, event.originator_id, NotFound, "billing account", version=version)
        self._accounts.remember(key, account)
        return account

    def _first_account_id(self, aggregate_id: UUID) -> UUID | None:
        first = list(self.store.events.get(aggregate_id, lte=1))
        return getattr(first[0], "account_id", None) if first else None


_OWNER_TYPES: dict[type, str] = {}


def _owner_type(cls: type) -> str:
    """'BillingAccount' of BillingAccount.ChargeApplied (the aggregate class an event class is declared in)."""
    name = _OWNER_TYPES.get(cls)
    if name is None:
        name = _OWNER_TYPES[cls] = cls.__qualname__.split(".")[0]
    return name
