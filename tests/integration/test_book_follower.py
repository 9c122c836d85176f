"""The book checkpoints' follower on SQLite and PostgreSQL: it writes a long account's checkpoint as its events
arrive, so the as-of query after it projects no more than CHECKPOINT_AFTER - 1 events, and it records its position."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ledger.aggregates import ids
from ledger.bootstrap import book_follower
from ledger.queries import book_codec, book_loading
from ledger.queries.as_of import Figures, account_as_of, from_events_for, state
from ledger.queries.verify import verify
from ledger.service import Ledger
from ledger.settings import Settings
from tests.support.ledger_factory import FakeClock, define_spec, make_ledger, open_account, post_charge

OPENED = datetime(2026, 1, 1, tzinfo=UTC)
EVERY = 8
LONG, SHORT = "ACC-LONG", "ACC-SHORT"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(OPENED)


@pytest.fixture
def ledger(make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Iterator[Ledger]:
    """Two accounts: LONG of 1 + 10 events, SHORT of 1 + 3; checkpoints every 8 events."""
    monkeypatch.setattr(book_loading, "CHECKPOINT_AFTER", EVERY)
    made = make_ledger(make_settings(), clock)
    define_spec(made)
    open_account(made, LONG, "EUR")
    open_account(made, SHORT, "EUR")
    charges(made, clock, LONG, 10)
    charges(made, clock, SHORT, 3)
    yield made
    made.close()


def charges(ledger: Ledger, clock: FakeClock, ref: str, count: int) -> None:
    for _ in range(count):
        clock.advance(hours=5)
        post_charge(ledger, ref, f"{ref}-{clock().isoformat()}", "1.25", "EUR", (clock() - timedelta(hours=1)).isoformat())


def stored(ledger: Ledger) -> dict[str, int]:
    assert ledger.store.book_checkpoints is not None
    by_id = {ids.account_id(ref): ref for ref in (LONG, SHORT)}
    return {by_id[account_id]: version for account_id, version, code in ledger.store.book_checkpoints.stored()
            if code == book_codec.CODE}


def test_the_follower_writes_a_long_accounts_checkpoint_at_its_last_event(ledger: Ledger) -> None:
    """After catching up, the account of 11 events has a checkpoint at version 11; the account of 4 has none."""
    follower = book_follower(ledger)
    try:
        assert follower.catch_up() > 0
    finally:
        follower.close()
    assert stored(ledger) == {LONG: 11}
    assert follower.written == 1


def test_a_query_after_the_follower_projects_no_event(ledger: Ledger) -> None:
    """The query's book is the checkpoint with no event after it, and its answer is the from-events one."""
    follower = book_follower(ledger)
    follower.catch_up()
    follower.close()
    checkpoints = ledger.store.book_checkpoints
    assert checkpoints is not None
    projector, tail = book_loading.restored(ledger.store, checkpoints, ids.account_id(LONG))
    assert projector is not None and tail == []
    at = OPENED + timedelta(hours=26)
    for basis in ("recorded", "effective"):
        slow = from_events_for(ledger.store, LONG, at, basis)
        expected = state(slow, Figures(slow.book, at, basis)).model_dump_json()
        assert account_as_of(ledger.store, ledger.now, LONG, at, basis).model_dump_json() == expected
    assert verify(ledger.store, ledger.progress).ok


def test_the_follower_rewrites_a_checkpoint_only_every_so_many_events(ledger: Ledger, clock: FakeClock) -> None:
    """7 more events leave the checkpoint at 11; the 8th moves it to 19, read on from the stored position."""
    first = book_follower(ledger)
    first.catch_up()
    first.close()
    charges(ledger, clock, LONG, EVERY - 1)
    second = book_follower(ledger)  # a restart: goes on from the recorded position
    assert second.position == first.position
    second.catch_up()
    assert stored(ledger) == {LONG: 11}
    charges(ledger, clock, LONG, 1)
    second.catch_up()
    second.close()
    assert stored(ledger) == {LONG: 11 + EVERY}
    assert verify(ledger.store, ledger.progress).ok
