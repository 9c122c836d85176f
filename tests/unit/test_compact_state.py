"""The BillingAccount's compact state: snapshot round trips (current and versions 1 to 3 layouts), charge
records derived from unbilled entries, and the fast JSON transcoder."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Snapshot as LibrarySnapshot
from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.utils import get_topic, resolve_topic

from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.entries import CREDIT, TaxLine
from ledger.errors import IdempotencyConflict
from ledger.eventstore.json_transcoder import FastJSONTranscoder
from tests.support.accounts import new_account
from tests.support.snapshot_layouts import version_1_entry, version_2_snapshot_state, version_2_state, version_3_snapshot_state

D = Decimal
T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
OCT5 = datetime(2026, 10, 5, 10, tzinfo=UTC)


def transcoders() -> tuple[JSONTranscoder, FastJSONTranscoder]:
    plain, fast = JSONTranscoder(), FastJSONTranscoder()
    app = Application.__new__(Application)
    app.register_transcodings(plain)
    app.register_transcodings(fast)
    return plain, fast


def busy_account(*, keep_events: bool = False) -> BillingAccount:
    """An account with every kind of state: charges, a credit, an adjustment, a bill, prepayments, an overpayment."""
    account = new_account(at=T0, default_payment_method={"id": "m1", "type": "cash"}, time_zone="Europe/Paris")
    vat = [TaxLine("VAT", D(20), D("2.000002"))]
    for i in range(4):
        account.apply_charge(T0, charge_id=f"c{i}", charge_type="appliedBillingCharge", currency_code="EUR",
                             tax_excluded=D("10.00001"), taxes=vat, tax_included=D("12.000012"), effective_at=OCT5,
                             product_ref="P", description=f"usage {i}")
    account.apply_charge(T0, charge_id="cr", charge_type=CREDIT, currency_code="EUR", tax_excluded=D(5),
                         taxes=[TaxLine("VAT", D(20), D(1))], tax_included=D(6), effective_at=OCT5)
    account.adjust_charge(T0, adjustment_id="a1", charge_id="c0", tax_excluded=D(-1), taxes=[], tax_included=D(-1),
                          effective_at=OCT5, reason="fix")
    account.receive_payment(T0, payment_id=uuid4(), amount=D(4), effective_at=OCT5,
                            allocations=[{"target": "charge", "id": "c1", "amount": D(4)}])
    entries = [account.unbilled[k] for k in ("c0", "c1", "a1")]
    account.issue_bill(T0, bill_id=uuid4(), bill_number="ACC-1-00001", run_type="onCycle", cycle_id=None,
                        entries=entries, amount_due=D("23.00"), bill_date="2026-11-01", payment_due_date="2026-11-15")
    account.receive_payment(T0, payment_id=uuid4(), amount=D(3), effective_at=OCT5,
                            allocations=[{"target": "charge", "id": "c2", "amount": D(3)}])
    if not keep_events:
        account.collect_events()
    return account


def test_snapshot_round_trip_gives_the_same_state() -> None:
    """A snapshot encoded, decoded with the fast transcoder and restored equals the live account."""
    account = busy_account()
    _, fast = transcoders()
    mapper: Mapper[UUID] = Mapper(transcoder=fast)
    stored = mapper.to_stored_event(BillingAccount.Snapshot.take(account))
    restored = mapper.to_domain_event(stored).mutate(None)
    assert restored.__dict__ == account.__dict__
    assert restored.identity_holds() and restored.unbilled["c2"].paid_by == account.unbilled["c2"].paid_by


def test_snapshots_keep_their_stored_topic() -> None:
    """Account snapshots are stored, and found again, under the topic already in databases."""
    topic = "ledger.aggregates.billing_account:BillingAccount.Snapshot"
    assert get_topic(BillingAccount.Snapshot) == topic and resolve_topic(topic) is BillingAccount.Snapshot
    assert BillingAccount.Snapshot.take(busy_account()).topic == "ledger.aggregates.billing_account:BillingAccount"


def test_snapshot_state_holds_no_typed_values() -> None:
    """The snapshot's state is plain JSON: the only typed value in its stored form is the snapshot's timestamp."""
    plain, _ = transcoders()
    stored = Mapper(transcoder=plain).to_stored_event(BillingAccount.Snapshot.take(busy_account()))
    assert stored.state.count(b'"_type_":') == 1


def test_version_1_snapshot_is_upcast_to_the_compact_layout() -> None:
    """A snapshot taken by the library's Snapshot class in the old layout (dict entries, Decimal nets) restores
    to the same state as the compact account."""
    account = busy_account()
    legacy = version_2_state(account)
    entries, paid, nets = legacy.pop("entries"), legacy.pop("entry_paid"), legacy.pop("nets")
    legacy.pop("unbilled_sum")
    legacy["unbilled"] = {k: version_1_entry(account.unbilled[k]) for k in entries}
    legacy["charge_net"] = {k: D(v) for k, v in nets.items()}
    assert any(e["paid_by"] for e in legacy["unbilled"].values()) and paid
    snapshot = LibrarySnapshot(originator_id=account.id, originator_version=account.version,  # type: ignore[call-arg]
                               timestamp=T0, topic="ledger.aggregates.billing_account:BillingAccount", state=legacy)
    _, fast = transcoders()
    mapper: Mapper[UUID] = Mapper(transcoder=fast)
    restored = mapper.to_domain_event(mapper.to_stored_event(snapshot)).mutate(None)
    assert restored.__dict__ == account.__dict__


def test_version_2_snapshot_is_upcast_to_the_current_layout() -> None:
    """A snapshot of our Snapshot class in the version-2 layout restores to the same state as the account (records
    kept only for the billed, adjusted and odd charges, fingerprints moved into the unbilled charges' entries)."""
    account = busy_account()
    account.apply_charge(T0, charge_id="odd|id", charge_type=CREDIT, currency_code="EUR", tax_excluded=D(1),
                         taxes=[], tax_included=D(1), effective_at=OCT5, description="a|b")  # a JSON-packed entry
    account.collect_events()
    state = version_2_snapshot_state(account)
    snapshot = BillingAccount.Snapshot(originator_id=account.id, originator_version=account.version,  # type: ignore[call-arg]
                                       timestamp=T0, topic="ledger.aggregates.billing_account:BillingAccount",
                                       state=state)
    _, fast = transcoders()
    mapper: Mapper[UUID] = Mapper(transcoder=fast)
    restored = mapper.to_domain_event(mapper.to_stored_event(snapshot)).mutate(None)
    assert restored.__dict__ == account.__dict__
    assert sorted(account.charges) == ["c0", "c1"]  # adjusted; billed
    assert dict(restored.charge_net) == dict(account.charge_net) and len(account.charge_net) == 6


def test_version_3_snapshot_is_upcast_to_the_current_layout() -> None:
    """A version-3 snapshot (with last_activity) restores to the same state; last_activity is read from modified_on."""
    account = busy_account()
    snapshot = BillingAccount.Snapshot(originator_id=account.id, originator_version=account.version,  # type: ignore[call-arg]
                                       timestamp=T0, topic="ledger.aggregates.billing_account:BillingAccount",
                                       state=version_3_snapshot_state(account))
    _, fast = transcoders()
    mapper: Mapper[UUID] = Mapper(transcoder=fast)
    restored = mapper.to_domain_event(mapper.to_stored_event(snapshot)).mutate(None)
    assert restored.__dict__ == account.__dict__ and "last_activity" not in restored.__dict__
    assert restored.last_activity == T0.isoformat()


def test_unbilled_charges_keep_no_record_beside_their_entry() -> None:
    """An unbilled, unadjusted charge's fingerprint and net come from its entry; billing or adjusting it records
    them; a re-sent charge is still a duplicate (or a conflict) in every case."""
    account = busy_account()
    assert set(account.charges) == {"c0", "c1"} and not any(k.startswith("charge:") for k in account.caller_ids)
    vat = [TaxLine("VAT", D(20), D("2.000002"))]
    for charge_id in ("c0", "c1", "c2"):  # adjusted, billed, unbilled
        resent = dict(charge_id=charge_id, charge_type="appliedBillingCharge", currency_code="EUR",
                      tax_excluded=D("10.00001"), taxes=vat, tax_included=D("12.000012"), effective_at=OCT5,
                      product_ref="P")
        assert account.apply_charge(T0, **resent) is False
        with pytest.raises(IdempotencyConflict):
            account.apply_charge(T0, **{**resent, "product_ref": "Q"})
    assert account.charge_net["c0"] == D("11.000012") and account.charge_net["c2"] == D("12.000012")
    account.adjust_charge(T0, adjustment_id="a2", charge_id="c0", tax_excluded=D(1), taxes=[], tax_included=D(1),
                          effective_at=OCT5, reason="undo")
    assert set(account.charges) == {"c0", "c1"}  # c0's entry was billed: its record stays
    account.adjust_charge(T0, adjustment_id="a3", charge_id="c2", tax_excluded=D(-1), taxes=[], tax_included=D(-1),
                          effective_at=OCT5, reason="fix")
    assert account.charges["c2"].endswith("|11.000012")
    account.adjust_charge(T0, adjustment_id="a4", charge_id="c2", tax_excluded=D(1), taxes=[], tax_included=D(1),
                          effective_at=OCT5, reason="undo")
    assert "c2" not in account.charges  # back to what its entry says


def test_snapshot_decoded_without_the_scan_equals_the_library_decoding() -> None:
    """An account snapshot decoded reviving only its top-level timestamp equals the library transcoder's decoding."""
    plain, fast = transcoders()
    stored = Mapper(transcoder=plain).to_stored_event(BillingAccount.Snapshot.take(busy_account()))
    assert fast.decode_top_level_typed(stored.state, ("timestamp",)) == plain.decode(stored.state)


@pytest.mark.parametrize("value", [
    {"timestamp": T0, "id": uuid4(), "amount": D("1.000001"), "items": [{"a": "x", "n": 1, "b": True, "z": None}], "e": {}},
    {"nested_uuid": [{"id": uuid4()}], "t": T0},  # a typed value below the top level: the library's encoder
    {"nested_time": {"at": OCT5}}, {"f": 1.5}, {"tuple": ("a", 1)}, {"big": 2**70}, {"keys": {1: "a"}},
    {"text": 'quotes " \\ and \n controls \x01 \u2028 \U0001F600 é', "l": [[["deep"]]]},
    [T0, {"a": 1}], "just a string",
])
def test_fast_transcoder_writes_the_library_bytes(value: Any) -> None:
    """Whatever the value, the fast encoder writes exactly the bytes the library's transcoder writes."""
    plain, fast = transcoders()
    assert fast.encode(value) == plain.encode(value)


def test_fast_transcoder_writes_the_library_bytes_for_every_account_event() -> None:
    """The events of a busy account (charges, credit, adjustment, payments, bill) and its snapshot encode identically."""
    plain, fast = transcoders()
    account = busy_account(keep_events=True)
    account.receive_payment(T0, payment_id=uuid4(), amount=D(50), effective_at=OCT5, allocations=[])
    account.refund_credit(T0, refund_id="r1", amount=D(1), method="cash", reference="x", effective_at=OCT5)
    events = [{k: v for k, v in vars(e).items() if k not in ("originator_id", "originator_version")}
              for e in account.collect_events()]
    for state in events + [vars(BillingAccount.Snapshot.take(account))]:
        assert fast.encode(state) == plain.encode(state) and fast._top_level_typed(state) is not None  # the fast way


@pytest.mark.parametrize("value", [
    {"timestamp": T0, "x": "y", "n": [1, {"a": None}]},  # an event's only typed value, first
    {"timestamp": {"_type_": "datetime_iso", "_data_": T0.isoformat(), "more": 1}, "x": "y"},  # not a typed value
    {"timestamp": "2026-10-01", "at": T0},
])
def test_fast_transcoder_reads_a_timestamp_as_the_library_does(value: dict[str, Any]) -> None:
    plain, fast = transcoders()
    data = plain.encode(value)
    assert fast.decode(data) == plain.decode(data) == value


def test_fast_transcoder_reads_what_the_library_writes() -> None:
    """Typed values anywhere (nested in lists and dicts) decode as the library's transcoder decodes them."""
    plain, fast = transcoders()
    value: dict[str, Any] = {
        "timestamp": T0, "id": uuid4(), "amount": D("1.000001"),
        "nested": [{"at": OCT5, "ids": [uuid4(), None]}, {"_type_": "not a typed value", "x": 1}],
        "text": 'a "_type_": "uuid_hex" inside a string', "empty": {}, "n": 3,
    }
    data = plain.encode(value)
    assert fast.encode(value) == data
    assert fast.decode(data) == plain.decode(data) == value


def test_packed_entry_keeps_separators_and_empty_values() -> None:
    """Values holding the separator, empty strings and None survive packing (the JSON form is used for them)."""
    from ledger.aggregates.account_storage import charge_of_entry, pack_entry, unpack_entry

    odd = pack_entry("appliedBillingCharge", "", "", "1", [{"category": "V|A", "rate": "20", "amount": "0.2"}], "1.2",
                     "2026-10-05", "a|b", "f1")
    plain = pack_entry("appliedBillingCharge", None, None, "1", [], "1", "2026-10-05", "")
    assert odd.startswith("[") and not plain.startswith("[")
    entry = unpack_entry("e1", odd, None)
    assert (entry.charge_id, entry.product_ref, entry.description) == ("", "", "a|b")
    assert entry.taxes == (TaxLine("V|A", D(20), D("0.2")),)
    assert (unpack_entry("e2", plain, None).charge_id, unpack_entry("e2", plain, None).product_ref) == ("e2", None)
    assert charge_of_entry(odd) == ("f1", "1.2") and charge_of_entry(plain) is None
