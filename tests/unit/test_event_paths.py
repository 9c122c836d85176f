"""The ledger's short paths for recording, replaying, reading back and collecting events give what the eventsourcing
library's own paths give (the bypasses listed in ledger/aggregates/library_bypasses.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import Aggregate, OriginatorVersionError

from ledger.aggregates.bill_composition import compose
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.customer_bill import ON_CYCLE, CustomerBill
from ledger.aggregates.entries import CREDIT, TaxLine
from ledger.aggregates.library_bypasses import mutate, project
from ledger.eventstore.store import LedgerStore
from tests.support.accounts import new_account

D = Decimal
T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
ACCOUNT_ID = UUID("12345678-1234-5678-1234-567812345678")


def _account() -> BillingAccount:
    return new_account(at=T0, id=ACCOUNT_ID, account_ref="A-1", time_zone="Europe/Paris")


def _bill_kwargs(account: BillingAccount) -> dict[str, Any]:
    entries = [account.unbilled[k] for k in account.entries]
    return dict(id=UUID(int=5), account_id=account.id, account_ref="A-1", bill_number="A-1-00001", run_type=ON_CYCLE,
                off_cycle_reason=None, cycle_id=UUID(int=6), currency_code="EUR",
                billing_period=(date(2026, 10, 1), date(2026, 10, 31)),
                bill_date=date(2026, 11, 1), mailing_date=None, payment_due_date=date(2026, 11, 15),
                totals=compose(entries, "EUR"))


def _charged() -> BillingAccount:
    account = _account()
    account.apply_charge(T0, charge_id="c1", charge_type="appliedBillingCharge", currency_code="EUR",
                         tax_excluded=D("10.5"), taxes=[TaxLine("VAT", D(20), D("2.1"))], tax_included=D("12.6"),
                         effective_at=T0, product_ref="P")
    return account


def _busy() -> BillingAccount:
    """An account that has recorded every kind of account event: charges, a credit, an adjustment, a payment, a
    bill, a refund, a reversal leaving a debit, a suspension and a resumption."""
    account = _charged()
    account.apply_charge(T0, charge_id="cr", charge_type=CREDIT, currency_code="EUR", tax_excluded=D(1), taxes=[],
                         tax_included=D(1), effective_at=T0)
    account.adjust_charge(T0, adjustment_id="a1", charge_id="c1", tax_excluded=D("-0.5"), taxes=[],
                          tax_included=D("-0.5"), effective_at=T0, reason="fix")
    payment = UUID(int=7)
    account.receive_payment(T0, payment_id=payment, amount=D(20), allocations=[], effective_at=T0)
    entries = account.entries_for_bill(None, None)
    account.issue_bill(T0, bill_id=UUID(int=8), bill_number="A-1-00001", run_type=ON_CYCLE, cycle_id=None,
                       entries=entries, amount_due=compose(entries, "EUR").tax_included_amount, bill_date="2026-11-01",
                       payment_due_date="2026-11-15")
    account.refund_credit(T0, refund_id="r1", amount=D(5), method="cash", reference="x", effective_at=T0)
    account.reverse_payment(T0, payment_id=payment, amount=D(20), allocations=[], to_balance=D(20), bills={},
                            reason="bounced", effective_at=T0)
    account.suspend(T0, "check")
    account.resume(T0, "checked")
    return account


def _popo_store() -> LedgerStore:
    """A store on the library's in-memory recorders (no I/O), with the ledger's transcoder."""
    return LedgerStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, snapshot_interval=0)


def _same(fast: Any, slow: Any) -> None:
    assert type(fast) is type(slow) and list(vars(fast)) == list(vars(slow)) and vars(fast) == vars(slow)


def test_recording_an_event_gives_the_librarys_event_and_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """_record makes the events trigger_event makes (same attributes, same order) and leaves the same state, for
    every kind of account event."""
    fast = _busy()
    monkeypatch.setattr(BillingAccount, "_record", lambda self, cls, now, **f: self.trigger_event(cls, timestamp=now, **f))
    slow = _busy()
    monkeypatch.undo()
    mine, theirs = fast.collect_events(), slow.collect_events()
    assert len(mine) == len(theirs) == 10
    for event, library_event in zip(mine, theirs):
        _same(event, library_event)
    _same(fast, slow)


def test_recording_with_wrong_fields_fails_as_the_library_does() -> None:
    """Fields other than exactly the event's own go the library's way, which refuses them."""
    with pytest.raises(TypeError):
        _account()._record(BillingAccount.StatusChanged, T0, status="x", reason="y")  # final_bill_id missing


@pytest.mark.parametrize("create", [lambda: CustomerBill.issue(T0, **_bill_kwargs(_charged())), _account],
                         ids=["bill", "account"])
def test_creating_an_aggregate_gives_the_librarys_event_and_state(create: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """_create (a bill, an account) makes the creation event and aggregate the library's _create makes."""
    with monkeypatch.context() as library:
        for cls in (CustomerBill, BillingAccount):
            library.setattr(cls, "_create", classmethod(Aggregate._create.__func__))  # type: ignore[attr-defined]
        slow = create()
    fast = create()
    [mine], [theirs] = fast.collect_events()[-1:], slow.collect_events()[-1:]
    _same(mine, theirs)
    _same(fast, slow)


def test_creating_with_wrong_fields_fails_as_the_library_does() -> None:
    """A creation with fields other than exactly the event's own goes the library's way, which refuses them."""
    with pytest.raises(TypeError):
        BillingAccount._create(BillingAccount.Opened, id=ACCOUNT_ID, timestamp=T0, account_ref="A-1")


def test_replaying_gives_the_librarys_state() -> None:
    """mutate (creation, then next versions) rebuilds what each event's own mutate rebuilds; out of sequence raises."""
    account = _charged()
    account.suspend(T0, "check")
    events = account.collect_events()
    slow = None
    for event in events:
        slow = event.mutate(slow)
    _same(project(None, events), slow)
    with pytest.raises(OriginatorVersionError):
        mutate(events[2], project(None, events[:1]))


def test_a_row_read_back_is_the_mappers_event() -> None:
    """An event read back from its stored row (LedgerStore._event) is the event the library's mapper decodes."""
    store = _popo_store()
    for event in _busy().collect_events():
        stored = store.mapper.to_stored_event(event)
        read = store._event(stored.originator_id, stored.originator_version, stored.topic, stored.state)
        _same(read, store.mapper.to_domain_event(stored))
        _same(store.domain_event(stored), read)


def test_a_stored_snapshot_read_back_is_the_mappers_snapshot() -> None:
    """An account snapshot read back without the scan for typed values (LedgerStore._snapshot) is the snapshot the
    library's mapper decodes, and restores the same account."""
    store = _popo_store()
    account = _busy()
    account.collect_events()
    stored = store.mapper.to_stored_event(BillingAccount.Snapshot.take(account))
    read, library = store._snapshot(stored), store.mapper.to_domain_event(stored)
    _same(read, library)
    _same(read.mutate(None), library.mutate(None))
    assert read.mutate(None).__dict__ == account.__dict__


def test_collecting_gives_the_librarys_processing_event() -> None:
    """LedgerStore._collect takes the same events, aggregates and arguments as the library's collect_events."""
    store = _popo_store()
    mine = [_busy(), None, CustomerBill.issue(T0, **_bill_kwargs(_charged()))]
    theirs = [_busy(), None, CustomerBill.issue(T0, **_bill_kwargs(_charged()))]
    collected = store._collect(mine, {"note": 1})
    library: ProcessingEvent[UUID] = ProcessingEvent()
    library.collect_events(*theirs, note=1)
    assert len(collected.events) == len(library.events) == 11
    for event, library_event in zip(collected.events, library.events):
        _same(event, library_event)
    assert list(collected.aggregates) == list(library.aggregates) and collected.saved_kwargs == library.saved_kwargs
    assert not any(aggregate.pending_events for aggregate in collected.aggregates.values())


def test_a_lean_history_holds_what_the_history_holds() -> None:
    """lean_history gives every event history gives, a ChargeApplied one as its ChargeFacts holding the event's
    values, by the lean decoding and by the history way alike (a typed value in a named field falls back)."""
    from ledger.queries.postings import ChargeFacts

    store = _popo_store()
    account = _busy()
    store.save(account)
    lean = {BillingAccount.ChargeApplied: ChargeFacts}
    plain = list(store.history(account.id))
    expected = [ChargeFacts(*(getattr(e, f) for f in ChargeFacts._fields)) if isinstance(e, BillingAccount.ChargeApplied)
                else e for e in plain]
    assert any(isinstance(e, ChargeFacts) for e in expected)
    assert list(store.lean_history(account.id, lean)) == expected
    assert list(store._lean_of(e, lean) for e in plain) == expected
    assert store.mapper.transcoder.decode_lean(b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-10-01T09:00:00+00:00"},'
                                               b'"charge_id":{"_type_":"uuid_hex","_data_":"00"}}', ("charge_id",)) is None


def test_the_as_of_book_from_the_lean_history_is_the_book_from_the_history() -> None:
    """The as-of query's book (charges read lean, as `as_of.load` reads them) equals the book projected from the
    account's plain events."""
    from ledger.queries.book_loading import LEAN
    from ledger.queries.postings import project

    store = _popo_store()
    account = _busy()
    store.save(account)
    assert project(list(store.lean_history(account.id, LEAN))) == project(list(store.history(account.id)))


_STAMP = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-10-01T09:00:00+00:00"},'


@pytest.mark.parametrize("rest", [
    b'"charge_id":"c1","class_version":2}',  # a class version: the upcasting way
    b'"charge_id":1.5}',  # a float is not a plain scalar
    b'"charge_id":["c1"]}',  # nor a list
    b'"other":"c1"}',  # the named field missing
])
def test_a_lean_decoding_refuses_what_the_plain_decoding_must_read(rest: bytes) -> None:
    """decode_lean answers None (read it the plain way) for a document that is not a timestamp and plain scalars."""
    store = _popo_store()
    assert store.mapper.transcoder.decode_lean(_STAMP + rest, ("charge_id",)) is None


def test_a_lean_decoding_refuses_a_timestamp_with_more_than_its_type_and_data() -> None:
    """A stored timestamp with an extra key is not the library's typed value: decode_lean leaves it to decode."""
    store = _popo_store()
    doc = b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-10-01T09:00:00+00:00","x":1},"charge_id":"c1"}'
    assert store.mapper.transcoder.decode_lean(doc, ("charge_id",)) is None


def test_a_lean_decoding_gives_the_plain_decodings_values() -> None:
    """The timestamp and the named scalars come as `decode` gives them (other fields skipped, whatever they hold)."""
    transcoder = _popo_store().mapper.transcoder
    doc = _STAMP + b'"charge_id":"c\\u00e9","n":3,"flag":true,"gone":null,"taxes":[{"a":{"_type_":"decimal_str","_data_":"1"}}]}'
    plain = transcoder.decode(doc)
    assert transcoder.decode_lean(doc, ("charge_id", "n", "flag", "gone")) == (
        plain["timestamp"], [plain["charge_id"], plain["n"], plain["flag"], plain["gone"]])


def test_a_prepaid_book_from_the_lean_history_is_the_book_from_the_history() -> None:
    """A prepaid account's charges, read lean, post to the prepaid balance as the plain events do."""
    from ledger.queries.book_loading import LEAN
    from ledger.queries.postings import project

    store = _popo_store()
    account = new_account(rating_type="prepaid", at=T0)
    account.receive_payment(T0, payment_id=UUID(int=9), amount=D(30), allocations=[], effective_at=T0)
    for n, kind in enumerate(["appliedBillingCharge", CREDIT, "appliedBillingCharge"]):
        account.apply_charge(T0, charge_id=f"p{n}", charge_type=kind, currency_code="EUR", tax_excluded=D(2),
                             taxes=[], tax_included=D(2), effective_at=T0)
    store.save(account)
    book = project(list(store.lean_history(account.id, LEAN)))
    assert book == project(list(store.history(account.id)))
    assert book.entries == {} and [p.kind for p in book.postings][1:] == ["appliedBillingCharge", CREDIT, "appliedBillingCharge"]
