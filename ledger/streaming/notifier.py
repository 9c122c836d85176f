"""The TMF hub's notifier (`ledger notify`): follows the event store's notification log, like the relay, and POSTs
each listener the TMF events its query selects, in log order (so in order per billing account).

Each listener has its own position (in its row of the event store's database), recorded only after a delivery
succeeded, so delivery is at least once and every event carries a stable `eventId`. Each listener is served by its
own thread: a listener that is down or slow is retried with exponential backoff and jitter and does not hold back
the others; failing for longer than `LEDGER_NOTIFY_FAILING_AFTER_SECONDS` it is marked `failing` (GET /hub/{id}),
and it is still retried. The notifier is a supervised worker (ledger.runtime): `ledger notify` rides out database
outages with backoff, exposes health and metrics, and stops cleanly on SIGTERM.
Bodies are signed: `X-Ledger-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the listener's
secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from uuid import UUID

import orjson
import structlog

from ledger.aggregates import ids
from ledger.contracts.tmf_events import matches, notifications, parse_query
from ledger.eventstore.notification_log import NotificationLog
from ledger.ports import ApiRecords, ListenerRecord
from ledger.runtime.metrics import ProcessMetrics
from ledger.runtime.supervisor import RunPolicy, supervise

PAGE = 500
FIRST_BACKOFF = 0.2
Post = Callable[[str, bytes, dict[str, str], float], int]


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST with urllib; the HTTP status (an error status too), or raises OSError when nothing answered."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the admin registered it
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


class _Owners:
    """Which account (reference, currency) a bill, payment or account belongs to: loaded once, kept (bounded)."""

    def __init__(self, store: Any, size: int = 50_000) -> None:
        self.store = store
        self.refs: OrderedDict[UUID, str | None] = OrderedDict()
        self.currencies: dict[str, str] = {}
        self.size = size
        self.lock = threading.Lock()

    def owner(self, aggregate_id: UUID) -> str | None:
        with self.lock:
            if aggregate_id in self.refs:
                return self.refs[aggregate_id]
        found = self.store.find(object, aggregate_id)
        ref = getattr(found, "account_ref", None)
        with self.lock:
            self.refs[aggregate_id] = ref
            if len(self.refs) > self.size:
                self.refs.popitem(last=False)
            if ref is not None and hasattr(found, "currency") and getattr(found, "account_ref", None) == ref:
                self.currencies.setdefault(ref, found.currency)
        return ref

    def currency(self, account_ref: str) -> str:
        with self.lock:
            known = self.currencies.get(account_ref)
        if known is None:
            account = self.store.find(object, ids.account_id(account_ref))
            known = account.currency
            with self.lock:
                self.currencies[account_ref] = known
        return known


class Notifier:
    """A supervised worker (ledger.runtime; `ledger notify` runs it with `run_supervised`): each `step` refreshes
    the listener list (starting or stopping one delivery thread per listener), re-raises the last failure of a
    delivery thread if any (so that an outage is the supervisor's: backoff, readiness, metrics, logs), and returns
    how many notifications were delivered since the last step."""

    def __init__(self, store: Any, records: ApiRecords, *, failing_after: float, timeout: float, max_backoff: float,
                 post: Post = post_json, clock: Callable[[], float] = time.time, refresh_seconds: float = 0.5) -> None:
        self.store = store
        self.records = records
        self.log = NotificationLog(store)
        self.owners = _Owners(store)
        self.failing_after, self.timeout, self.max_backoff = failing_after, timeout, max_backoff
        self.post = post
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.idle_pause = refresh_seconds
        self.logger = structlog.get_logger("ledger.notify")
        self._threads: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._delivered = 0
        self._failure: BaseException | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._closed = False

    # ------------------------------------------------------------ as a supervised worker (ledger.runtime)

    def step(self) -> int:
        """Refresh the listeners (raises while the database is away); re-raise a delivery thread's last failure;
        the count delivered since the last step."""
        self.refresh()
        with self._lock:
            failure, self._failure = self._failure, None
            done, self._delivered = self._delivered, 0
        if failure is not None:
            with self._lock:
                self._delivered += done  # counted at the next step that succeeds
            raise failure
        return done

    def reset(self, dependency: str) -> None:
        """Nothing to rewind: each listener's position is in its row, and the pools reconnect by themselves."""

    def report(self, metrics: ProcessMetrics) -> None:
        """No metric of its own (the supervisor counts the notifications delivered)."""

    def run(self, stop: threading.Event, on_step: Callable[[int], None] | None = None, **supervision: Any) -> None:
        """Serve every registered listener until `stop` is set, supervised (in-process use and tests; the CLI goes
        through bootstrap.run_supervised, which knows the database's exceptions)."""
        supervise("notify", lambda: self, supervision.pop("dependencies", {}), stop,
                  supervision.pop("policy", RunPolicy(backoff_first_seconds=self.refresh_seconds,
                                                      backoff_cap_seconds=self.max_backoff)),
                  on_step=on_step, **supervision)

    def refresh(self) -> None:
        current = {listener.id for listener in self.records.listeners()}
        for listener_id in list(self._threads):
            thread, halt = self._threads[listener_id]
            if listener_id not in current or not thread.is_alive():
                halt.set()
                del self._threads[listener_id]
        for listener_id in current - set(self._threads):
            halt = threading.Event()
            thread = threading.Thread(target=self._serve, args=(listener_id, halt), daemon=True,
                                      name=f"notify-{listener_id[:8]}")
            self._threads[listener_id] = (thread, halt)
            thread.start()

    def close(self) -> None:
        """Stop the delivery threads (each after the POST in flight), then close the connections; once."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        for _, (_thread, halt) in list(self._threads.items()):
            halt.set()
        for _, (thread, _) in list(self._threads.items()):
            thread.join(timeout=self.timeout + 1)
        self._threads.clear()
        for part in (self.records, self.store):
            try:
                part.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close
                pass
        self.logger.info("notifier stopped")

    # ------------------------------------------------------------ one listener

    def _serve(self, listener_id: str, halt: threading.Event) -> None:
        def stopped() -> bool:
            return halt.is_set() or self._closing.is_set()

        while not stopped():
            try:
                listener = self.records.listener(listener_id)
                secret = self.records.listener_secret(listener_id)
                if listener is None or secret is None:
                    return
                moved = self.deliver_page(listener, secret, stopped)
            except Exception as error:  # noqa: BLE001 - kept for the next step to raise (the supervisor's outage)
                self.logger.debug("listener page failed", listener=listener_id, error=repr(error))
                with self._lock:
                    self._failure = error
                moved = False
                halt.wait(1.0)
            if not moved:
                halt.wait(self.refresh_seconds)

    def deliver_page(self, listener: ListenerRecord, secret: str, stopped: Callable[[], bool]) -> bool:
        """Deliver the listener's next page; True when its position moved."""
        page = self.log.page(listener.position, PAGE)
        if not page:
            return False
        wanted = parse_query(listener.query)
        position = listener.position
        for notification_id, event in page:
            notes = [n for n in notifications(event, self.owners.owner, self.owners.currency) if matches(wanted, n)]
            for note in notes:
                if not self._deliver(listener, secret, note, stopped):  # stopped before it was accepted
                    if position != listener.position:
                        self.records.delivered(listener.id, position, 0, self.clock())
                    return position != listener.position
            position = notification_id
            if notes:  # the position moves only once the event's notifications were accepted
                self.records.delivered(listener.id, position, len(notes), self.clock())
                with self._lock:
                    self._delivered += len(notes)
        self.records.delivered(listener.id, position, 0, self.clock())
        return True

    def _deliver(self, listener: ListenerRecord, secret: str, note: dict[str, Any], stopped: Callable[[], bool]) -> bool:
        """POST one notification until it is accepted (2xx); False only when stopped first."""
        body = orjson.dumps(note)
        attempt, first_failure = 0, None
        while not stopped():
            timestamp = int(self.clock())
            headers = {"X-Ledger-Event-Id": note["eventId"], "X-Ledger-Event-Type": note["eventType"],
                       "X-Ledger-Signature": signature(secret, timestamp, body)}
            try:
                status = self.post(listener.callback, body, headers, self.timeout)
                error = None if 200 <= status < 300 else f"HTTP {status}"
            except (OSError, ValueError) as failure:
                error = f"{type(failure).__name__}: {failure}"
            if error is None:
                return True
            now = self.clock()
            first_failure = first_failure or listener.failing_since or now
            failing = now - first_failure >= self.failing_after
            self.records.failed(listener.id, first_failure, error, failing)
            self.logger.warning("delivery failed; will retry", listener=listener.id, event_id=note["eventId"],
                                error=error, attempt=attempt, failing=failing)
            delay = min(self.max_backoff, FIRST_BACKOFF * 2 ** attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            deadline = time.monotonic() + delay
            while not stopped() and time.monotonic() < deadline:
                time.sleep(min(0.05, delay))
        return False
