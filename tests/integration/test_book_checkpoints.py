"""Book checkpoints on SQLite and PostgreSQL: the as-of queries write them read-through and read them, a checkpoint
they cannot trust is passed over (only slower, never wrong), and verify and rebuild cover them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from ledger.aggregates import ids
from ledger.queries import book_checkpoint, book_codec, book_loading
from ledger.queries.as_of import Figures, account_as_of, from_events_for, state
from ledger.queries.verify import verify
from ledger.service import Ledger
from ledger.settings import Settings
from tests.support.ledger_factory import FakeClock, define_spec, make_ledger, open_account, pay, post_charge, run_cycle

OPENED = datetime(2026, 1, 1, tzinfo=UTC)
REF = "ACC-CP"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(OPENED)


@pytest.fixture
def ledger(make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Iterator[Ledger]:
    """An account of 14 events: 12 charges (one backdated), a bill and a payment; checkpoints written after 10."""
    monkeypatch.setattr(book_loading, "CHECKPOINT_AFTER", 10)
    made = make_ledger(make_settings(), clock)
    define_spec(made)
    open_account(made, REF, "EUR", time_zone="Europe/Paris")
    for n in range(11):
        clock.advance(hours=20)
        post_charge(made, REF, f"c{n}", f"{n + 1}.25", "EUR", (clock() - timedelta(hours=3)).isoformat())
    clock.set(datetime(2026, 2, 1, 6, tzinfo=UTC))
    run_cycle(made, OPENED.date())
    clock.advance(days=1)
    pay(made, REF, "P1", "20.00", "EUR", clock().isoformat())
    clock.advance(days=1)
    post_charge(made, REF, "late", "2.00", "EUR", datetime(2026, 1, 20, tzinfo=UTC).isoformat())
    yield made
    made.close()


def same_as_from_events(ledger: Ledger, at: datetime) -> bool:
    for basis in ("recorded", "effective"):
        slow = from_events_for(ledger.store, REF, at, basis)
        expected = state(slow, Figures(slow.book, at, basis)).model_dump_json()
        if account_as_of(ledger.store, ledger.now, REF, at, basis).model_dump_json() != expected:
            return False
    return True


MOMENTS = [OPENED + timedelta(days=5), datetime(2026, 1, 21, tzinfo=UTC), datetime(2026, 2, 1, 12, tzinfo=UTC),
           datetime(2026, 3, 1, tzinfo=UTC)]


def stored(ledger: Ledger) -> list[tuple[Any, int, str]]:
    assert ledger.store.book_checkpoints is not None
    return ledger.store.book_checkpoints.stored()


def test_the_first_long_as_of_writes_a_checkpoint_and_later_ones_go_on_from_it(ledger: Ledger) -> None:
    """No checkpoint: the query projects every event and writes one at the last version; then it reads it."""
    account_id = ids.account_id(REF)
    assert stored(ledger) == []
    assert same_as_from_events(ledger, MOMENTS[0])
    last = ledger.store.version(account_id)
    assert stored(ledger) == [(account_id, last, book_codec.CODE)]
    post_charge(ledger, REF, "after", "1.00", "EUR", datetime(2026, 1, 3, tzinfo=UTC).isoformat())
    assert all(same_as_from_events(ledger, at) for at in MOMENTS)
    assert stored(ledger) == [(account_id, last, book_codec.CODE)]  # a tail of 1 event: not rewritten
    assert verify(ledger.store, ledger.progress).ok


def test_a_checkpoint_whose_event_is_not_the_one_it_was_made_from_is_passed_over(ledger: Ledger) -> None:
    """Labelled with a version whose stored event was recorded at another moment: verify names it; the query
    projects from events (the same answers) and writes a good one in its place."""
    account_id = ids.account_id(REF)
    projector, _ = book_checkpoint.from_events(ledger.store, account_id, upto=5)
    assert ledger.store.book_checkpoints is not None
    ledger.store.book_checkpoints.put(account_id, 9, book_codec.CODE, book_codec.encode(projector, 9))
    assert "not usable" in (book_checkpoint.difference(ledger.store, account_id) or "")
    assert all(same_as_from_events(ledger, at) for at in MOMENTS)
    assert stored(ledger) == [(account_id, ledger.store.version(account_id), book_codec.CODE)]
    assert verify(ledger.store, ledger.progress).ok


def test_a_checkpoint_of_other_code_is_never_read(ledger: Ledger) -> None:
    """A row written by another code version (or damaged) is ignored by the query and by verify."""
    account_id = ids.account_id(REF)
    assert ledger.store.book_checkpoints is not None
    ledger.store.book_checkpoints.put(account_id, 3, "book-0-other", b"not a checkpoint")
    assert all(same_as_from_events(ledger, at) for at in MOMENTS)
    assert verify(ledger.store, ledger.progress).checked["book_checkpoints"] == 1  # the query wrote its own


def test_verify_reports_a_checkpoint_whose_book_differs_from_the_events(ledger: Ledger) -> None:
    """A checkpoint with one amount changed: verify finds its book differs from the events' book."""
    account_id = ids.account_id(REF)
    assert book_checkpoint.write(ledger.store, REF, upto=8) == 8
    assert ledger.store.book_checkpoints is not None
    version, data = ledger.store.book_checkpoints.latest(account_id, book_codec.CODE) or (0, b"")
    raw = msgspec.json.decode(data)
    raw[9][6][3] = "999.25"  # the 4th charge's amount (charges by column: amounts are the 7th)
    ledger.store.book_checkpoints.drop(account_id)
    ledger.store.book_checkpoints.put(account_id, version, book_codec.CODE, msgspec.json.encode(raw))
    report = verify(ledger.store, ledger.progress)
    assert any("differs from the book of the events alone" in line for line in report.differences)


def test_rebuild_drops_every_checkpoint_and_writes_one_per_long_account(ledger: Ledger) -> None:
    """rebuild: the stored checkpoints go, each account of CHECKPOINT_AFTER events or more gets one of all of them."""
    account_id = ids.account_id(REF)
    assert book_checkpoint.write(ledger.store, REF, upto=4) == 4
    assert book_checkpoint.rebuild(ledger.store, [account_id]) == 1
    assert stored(ledger) == [(account_id, ledger.store.version(account_id), book_codec.CODE)]
    assert verify(ledger.store, ledger.progress).ok


def test_without_the_table_the_queries_answer_from_events(ledger: Ledger) -> None:
    """The checkpoints' table gone (a store that does not create tables): the same answers, nothing written."""
    table = ledger.store.book_checkpoints
    assert table is not None
    with table.datastore.transaction(commit=True) as cur:
        cur.execute(f"DROP TABLE {table.table}")
    assert all(same_as_from_events(ledger, at) for at in MOMENTS)


def test_an_account_recorded_out_of_order_is_answered_from_events_and_never_checkpointed(ledger: Ledger,
                                                                                         clock: FakeClock) -> None:
    """A charge recorded 3 hours before the event ahead of it (another writer's clock behind): the recorded basis
    between the two is the prefix the ledger had (from events); no checkpoint is written or rebuilt for it."""
    ahead = clock()
    clock.set(ahead - timedelta(hours=3))
    post_charge(ledger, REF, "behind", "3.00", "EUR", datetime(2026, 1, 25, tzinfo=UTC).isoformat())
    between = ahead - timedelta(hours=1)
    at_between = account_as_of(ledger.store, ledger.now, REF, between, "recorded")
    assert "behind" not in at_between.model_dump_json()  # recorded after an event the ledger did not have at T
    assert all(same_as_from_events(ledger, at) for at in [*MOMENTS, between])
    assert stored(ledger) == []
    assert book_checkpoint.rebuild(ledger.store, [ids.account_id(REF)]) == 0
