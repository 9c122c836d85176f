"""The TMF hub: listeners registered over HTTP, the notifier delivering to real loopback listeners (one down, one
slow, one failing at random), signed, in order, at least once, with the failing one marked and the others on time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger.bootstrap import notifier
from ledger.contracts.tmf import ACCOUNT_API, BILL_API
from tests.support.api import CHARGES, Api, api_on, charge_body, set_up
from tests.support.ledger_factory import FakeClock
from tests.support.listeners import Listener, flaky, signature_valid, slow
from tests.support.processes import free_ports

HUB = f"{BILL_API}/hub"


def _wait(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def hub_api(make_settings: Any) -> Iterator[tuple[Api, Any]]:
    settings = make_settings(notify_failing_after_seconds=1.0, notify_timeout_seconds=0.5, notify_max_backoff_seconds=0.5)
    with api_on(settings, FakeClock()) as api:
        yield api, settings


def test_a_listener_is_registered_shown_and_removed(api: Api) -> None:
    """POST /hub answers the listener with its secret once; GET shows it without; DELETE removes it."""
    made = api.post(HUB, {"callback": "http://127.0.0.1:9/x", "query": "eventType=CustomerBillCreateEvent"}, role="admin")
    assert made.status_code == 201 and made.json()["secret"]
    got = api.get(f"{ACCOUNT_API}/hub/{made.json()['id']}", role="admin").json()
    assert "secret" not in got and got["state"] == "active"
    assert api.call("DELETE", f"{HUB}/{made.json()['id']}", role="admin").status_code == 204
    assert api.get(f"{HUB}/{made.json()['id']}", role="admin").status_code == 404


def test_a_bad_query_or_callback_is_400(api: Api) -> None:
    """Unknown filter keys, unknown event types and non-http callbacks are refused."""
    for body in ({"callback": "ftp://x/y"}, {"callback": "http://127.0.0.1:9/x", "query": "colour=red"},
                 {"callback": "http://127.0.0.1:9/x", "query": "eventType=NoSuchEvent"}):
        assert api.post(HUB, body, role="admin").status_code == 400


def test_listeners_get_signed_events_in_order_and_a_dead_one_holds_no_one_back(hub_api: tuple[Api, Any]) -> None:
    """Good, slow and flaky listeners each get every charge event once or more, in order, signed; the one that is
    down is marked failing while the others are served."""
    api, settings = hub_api
    set_up(api, "A1", "A2")
    good, lazy, shaky = Listener(), Listener(slow(0.8)), Listener(flaky(seed=7))
    dead = f"http://127.0.0.1:{free_ports(1)[0]}/events"
    query = "eventType=AppliedCustomerBillingRateCreateEvent"
    registered = {}
    for name, url in (("good", good.url), ("slow", lazy.url), ("flaky", shaky.url), ("dead", dead)):
        registered[name] = api.post(HUB, {"callback": url, "query": query}, role="admin").json()
    hub = notifier(settings)
    stop = threading.Event()
    runner = threading.Thread(target=hub.run, args=(stop,), daemon=True)
    runner.start()
    try:
        expected = []
        for n in range(6):
            account = ("A1", "A2")[n % 2]
            api.post(CHARGES, charge_body(account, f"c{n}", "1.00", "2026-10-07T09:15:00Z"), role="rating")
            expected.append(f"{account}:c{n}")
        for listener in (good, lazy, shaky):
            _wait(lambda listener=listener: len(listener.event_ids()) == 6)
        _wait(lambda: api.get(f"{HUB}/{registered['dead']['id']}", role="admin").json()["state"] == "failing")
    finally:
        stop.set()
        runner.join(10)
        hub.close()
    for name, listener in (("good", good), ("slow", lazy), ("flaky", shaky)):
        first = {}
        for headers, body in listener.accepted:
            assert signature_valid(registered[name]["secret"], headers, body)
            first.setdefault(body["eventId"], body["event"]["appliedCustomerBillingRate"]["id"])
        assert list(first.values()) == expected
        listener.close()
    shown = api.get(f"{HUB}/{registered['dead']['id']}", role="admin").json()
    assert shown["lastError"] and shown["delivered"] == 0
    assert api.get(f"{HUB}/{registered['good']['id']}", role="admin").json()["delivered"] >= 6


def test_a_filter_by_account_selects_its_events(hub_api: tuple[Api, Any]) -> None:
    """billingAccount.id in the query keeps the listener to that account's events."""
    api, settings = hub_api
    set_up(api, "A1", "A2")
    only = Listener()
    api.post(HUB, {"callback": only.url, "query": "billingAccount.id=A2"}, role="admin")
    hub = notifier(settings)
    stop = threading.Event()
    runner = threading.Thread(target=hub.run, args=(stop,), daemon=True)
    runner.start()
    try:
        api.post(CHARGES, charge_body("A1", "c1", "1.00", "2026-10-07T09:15:00Z"), role="rating")
        api.post(CHARGES, charge_body("A2", "c2", "1.00", "2026-10-07T09:15:00Z"), role="rating")
        api.patch(f"{ACCOUNT_API}/billingAccount/A2", {"state": "suspended"})
        _wait(lambda: len(only.event_ids()) == 2)
    finally:
        stop.set()
        runner.join(10)
        hub.close()
        only.close()
    assert [b["eventType"] for _, b in only.accepted] == ["AppliedCustomerBillingRateCreateEvent",
                                                          "BillingAccountStateChangeEvent"]
    assert {b["billingAccount"]["id"] for _, b in only.accepted} == {"A2"}
