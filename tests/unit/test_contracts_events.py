"""Outbound ledger event contracts: every domain event class has a schema, and real events survive to_record/encode/decode."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID, uuid5

import pytest
from eventsourcing.domain import DomainEvent, Snapshot

from ledger.aggregates import ids
from ledger.aggregates.bill_composition import compose
from ledger.aggregates.billing_account import BillingAccount
from ledger.aggregates.billing_calendar import CycleSpecification, occurrence
from ledger.aggregates.billing_cycle_specification import BillingCycleSpecification
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.customer_payment import CustomerPayment
from ledger.aggregates.entries import CHARGE, CREDIT, TaxLine
from ledger.aggregates.party_billing_cycle import PartyBillingCycle, trigger_record
from ledger.aggregates.payment_plan import oldest_due_first
from ledger.commands.billing import issue_bill
from ledger.contracts import SchemaRegistry, UnencodableRecord, account_position, event_id, event_type, to_record
from ledger.contracts.ledger_events import EVENTS, event_fields, schema_name
from tests.support.accounts import new_account
from tests.support.ledger_factory import FakeClock
from tests.support.master_data import MASTER_DATA_AGGREGATES, master_data_events

D = Decimal
T0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
AGGREGATES = (BillingAccount, CustomerBill, CustomerPayment, PartyBillingCycle, BillingCycleSpecification,
              *MASTER_DATA_AGGREGATES)
BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}
ENVELOPE = ["event_id", "event_type", "aggregate_type", "aggregate_id", "aggregate_version", "billing_account_id",
            "recorded_at", "position"]


def domain_event_classes() -> dict[str, type]:
    """Every event class the aggregates declare (generic Event/Created bases and snapshots, which are not published, excluded)."""
    found = {}
    for aggregate in AGGREGATES:
        for name, value in vars(aggregate).items():
            if inspect.isclass(value) and issubclass(value, DomainEvent) and not issubclass(value, Snapshot) \
                    and name not in ("Event", "Created"):
                found[value.__qualname__] = value
    return found


def domain_fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name not in BASE_FIELDS]


def _pay(clock: FakeClock, account: BillingAccount, ref: str, amount: str, plan: list[dict[str, Any]],
         bills: dict[str, CustomerBill]) -> CustomerPayment:
    now, pid = clock(), ids.payment_id(ref)
    rest = account.receive_payment(now, payment_id=pid, amount=D(amount), allocations=plan, effective_at=now)
    payment = CustomerPayment.receive(now, id=pid, account_id=account.id, account_ref=account.account_ref,
                                      external_reference=ref, amount=D(amount), currency_code="EUR", method="check",
                                      payer_ref="payer-ACME", payment_date=now, fingerprint=f"fp-{ref}")
    payment.allocate(now, plan, rest, kind="overpayment" if plan else "prepayment")
    for alloc in plan:
        if alloc["target"] == "bill":
            bills[alloc["id"]].apply_payment(now, payment_id=pid, amount=alloc["amount"])
    return payment


@cache
def scenario() -> tuple[list[DomainEvent], dict[UUID, UUID]]:
    """A month of one account, built on the aggregates directly: every event type, with its billing account."""
    clock = FakeClock(T0, tick=timedelta(seconds=1, microseconds=7))  # each event at its own moment
    spec_values = CycleSpecification("monthly", payment_due_date_offset=14)
    spec = BillingCycleSpecification.define(clock(), id=ids.cycle_spec_id("monthly"), spec=spec_values)
    account = new_account(
        at=clock(), id=ids.account_id("ACME"), account_ref="ACME", customer_id="CUST-ACME", payment_terms_days=10,
        default_payment_method={"id": "pm-1", "type": "bankCard"}, time_zone="Europe/Paris", name="Acme Paris")
    account.apply_charge(
        clock(), charge_id="usage-1", charge_type=CHARGE, currency_code="EUR", tax_excluded=D("18.456789"),
        taxes=[TaxLine("VAT", D("20"), D("3.691358"))], tax_included=D("22.148147"),
        effective_at=datetime(2026, 10, 7, 7, 15, 0, 123456, tzinfo=UTC), product_ref="DATA-EU",
        period_start="2026-10-01", period_end="2026-10-31", description="data 1,845.6789 MB")
    account.apply_charge(
        clock(), charge_id="goodwill-1", charge_type=CREDIT, currency_code="EUR", tax_excluded=D("5.00"),
        taxes=[TaxLine("VAT", D("8.875"), D("1.00"))], tax_included=D("6.00"),
        effective_at=datetime(2026, 10, 14, 10, tzinfo=UTC))
    account.adjust_charge(
        clock(), adjustment_id="adj-1", charge_id="usage-1", tax_excluded=D("-2.00"),
        taxes=[TaxLine("VAT", D("20"), D("-0.40"))], tax_included=D("-2.40"),
        effective_at=datetime(2026, 10, 20, tzinfo=UTC), reason="rating correction")
    bills: dict[str, CustomerBill] = {}
    prepayment = _pay(clock, account, "PAY-0", "5.00", [{"target": "charge", "id": "usage-1", "amount": D("5.00")}], bills)

    cycle = PartyBillingCycle.trigger(
        clock(), id=ids.cycle_id("monthly", date(2026, 10, 1)), specification="monthly",
        specification_values=asdict(spec_values),
        dates={k: v.isoformat() for k, v in asdict(occurrence(spec_values, date(2026, 10, 1))).items()},
        trigger=trigger_record("person", "alice", "October bill run"))
    cycle.resume(clock(), trigger_record("scheduler", "nightly", "catch-up before the cut-off", early_run=True))
    entries = account.entries_for_bill(None, None)
    totals = compose(entries, "EUR")
    bill_id, number, now = ids.on_cycle_bill_id(account.id, cycle.id), account.next_bill_number(), clock()
    _, prepaid = account.issue_bill(now, bill_id=bill_id, bill_number=number, run_type="onCycle", cycle_id=cycle.id,
                                     entries=entries, amount_due=totals.tax_included_amount, bill_date="2026-11-01",
                                     payment_due_date="2026-11-11")
    bill = CustomerBill.issue(
        now, id=bill_id, account_id=account.id, account_ref="ACME", bill_number=number, run_type="onCycle",
        off_cycle_reason=None, cycle_id=cycle.id, currency_code="EUR", billing_period=(date(2026, 10, 1), date(2026, 10, 31)),
        bill_date=date(2026, 11, 1), mailing_date=date(2026, 11, 3), payment_due_date=date(2026, 11, 11), totals=totals)
    bills[str(bill_id)] = bill
    for part in prepaid:
        bill.apply_payment(now, payment_id=UUID(part["payment_id"]), amount=D(part["amount"]), source="chargePrepayment")
    bill.validate(clock(), "issued by run")
    bill.send(clock(), "issued by run")
    cycle.accounts_billed(clock(), [{"account_id": str(account.id), "bill_id": str(bill.id), "currency": "EUR",
                                     "amount_due": str(bill.amount_due)}], [str(ids.account_id("ANNA"))])
    cycle.complete(clock())

    bounced = _pay(clock, account, "PAY-1", "20.00", oldest_due_first(account.open_bills, D("20.00")), bills)
    now = clock()
    info = {bid: {"bill_number": bill.bill_number, "bill_date": bill.bill_date, "payment_due_date": bill.payment_due_date}
            for target, bid in account.current_targets(bounced.allocations) if target == "bill"}
    undone = account.reverse_payment(now, payment_id=bounced.id, amount=bounced.amount, allocations=bounced.allocations,
                                     to_balance=bounced.to_balance, bills=info, reason="returned unpaid", effective_at=now)
    bounced.reverse(now, reason="returned unpaid", kind="bouncedCheck", undone=undone)
    for undo in undone:
        if undo["target"] == "bill":
            bills[undo["id"]].undo_payment(now, payment_id=bounced.id, amount=D(undo["amount"]), reason="bouncedCheck")
    paid = _pay(clock, account, "PAY-2", "30.00", oldest_due_first(account.open_bills, D("30.00")), bills)
    account.refund_credit(clock(), refund_id="REF-1", amount=D("5.00"), method="bankCard", reference="RF-77",
                          effective_at=datetime(2026, 11, 16, 9, tzinfo=UTC))
    account.suspend(clock(), "fraud check")
    account.resume(clock(), "cleared")
    account.change_terms(clock(), credit_limit=D("0"), payment_terms_days=None,
                         default_payment_method={"id": "dd-7", "type": "directDebit"}, reason="mandate signed")
    account.link_customer(clock(), customer_id="CUST-ACME-GROUP", current_exists=True, relink=True,
                          reason="merged into the group's customer")
    account.close(clock(), "customer left", final_bill_id=bill.id)
    planned = new_account(at=clock(), id=ids.account_id("PLANNED"), account_ref="PLANNED", customer_id="CUST-P")
    plan: dict[str, dict[str, Any]] = {}  # a subscription bill run's charges, recorded as one event
    for n, vat in ((1, {"category": "VAT", "rate": "20", "amount": "2.000000"}), (2, None)):
        planned.apply_plan_charge(
            clock(), charge_id=f"rc:SUB-{n}", tax_excluded=D("10.000000"), tax_line=vat,
            tax_amount=D(vat["amount"]) if vat else D(0), effective_at=clock(), product_ref=f"SUB-{n}",
            period_start="2026-11-01", period_end="2026-11-30", description="BASIC x1", pending=plan)
    planned.record_plan_charges(clock(), plan)
    sent = issue_bill(clock(), planned, bill_id=ids.on_cycle_bill_id(planned.id, cycle.id), run_type="onCycle",
                      cycle_id=cycle.id, off_cycle_reason=None, entries=planned.entries_for_bill(None, None),
                      period=(date(2026, 11, 1), date(2026, 11, 30)), bill_date=date(2026, 12, 1), mailing_date=None,
                      payment_due_date=date(2026, 12, 15), send=True)  # validated and sent as one StatesChanged

    events, owner = [], {}
    for event, account_id in master_data_events(clock, account):
        events.append(event)
        if account_id is not None:
            owner[event.originator_id] = account_id
    for aggregate in (spec, account, cycle, bill, prepayment, bounced, paid):
        for event in aggregate.collect_events():
            events.append(event)
            if not isinstance(aggregate, (PartyBillingCycle, BillingCycleSpecification)):
                owner[event.originator_id] = account.id
    events += planned.collect_events()  # the other account's, after ACME's (samples are ACME's)
    for event in sent.collect_events():
        events.append(event)
        owner[event.originator_id] = planned.id
    return events, owner


@cache
def positions() -> dict[int, dict[str, Any]]:
    """The ACME account's figures right after each of its events, by version (replayed event by event)."""
    account, result = None, {}
    for event in scenario()[0]:
        if event_type(event).startswith("BillingAccount.") and event.originator_id == ids.account_id("ACME"):
            account = event.mutate(account)
            result[event.originator_version] = account_position(account)
    return result


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


def sample(kind: str) -> DomainEvent:
    return next(e for e in scenario()[0] if event_type(e) == kind)


def matches(domain: Any, decoded: Any) -> bool:
    """Does a decoded Avro value carry exactly the domain value (strings of amounts, moments, dates, ids converted back)?"""
    if isinstance(decoded, bool):  # a flag kept as "true" in the domain's dicts of strings
        return domain in (decoded, str(decoded).lower())
    if isinstance(decoded, Decimal):
        return not isinstance(domain, float) and Decimal(str(domain)) == decoded
    if isinstance(decoded, datetime):
        return (datetime.fromisoformat(domain) if isinstance(domain, str) else domain) == decoded
    if isinstance(decoded, date):
        return date.fromisoformat(domain) == decoded
    if isinstance(decoded, UUID):
        return UUID(str(domain)) == decoded
    if isinstance(decoded, dict):
        present = {k for k, v in decoded.items() if v is not None and v is not False}  # absent: null or false
        return isinstance(domain, dict) and present <= domain.keys() and all(matches(domain[k], decoded.get(k)) for k in domain)
    if isinstance(decoded, list):
        return len(domain) == len(decoded) and all(matches(a, b) for a, b in zip(domain, decoded))
    return domain == decoded


def test_every_domain_event_class_has_a_mapping() -> None:
    """The mapping covers exactly the event classes the aggregates declare, Created ones included."""
    assert set(domain_event_classes()) == set(EVENTS)


def test_every_domain_event_class_has_a_schema() -> None:
    """Each event type has a ledger.events.* schema in schemas/."""
    assert {schema_name(kind) for kind in domain_event_classes()} <= set(registry().names())


def test_every_schema_has_an_event_class() -> None:
    """No ledger.events.* schema is left without a domain event class."""
    events = {n for n in registry().names() if n.startswith("ledger.events.")}
    assert events == {schema_name(kind) for kind in domain_event_classes()}


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_mapping_keeps_every_domain_field(kind: str) -> None:
    """to_record maps every attribute of the domain event, under the same name."""
    assert sorted(event_fields(kind)) == sorted(domain_fields(domain_event_classes()[kind]))


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_schema_fields_are_envelope_then_mapping(kind: str) -> None:
    """Every schema field is produced by to_record: the envelope first, then the event's fields in order."""
    fields = [f["name"] for f in registry().schema(schema_name(kind))["fields"]]
    assert fields == ENVELOPE + event_fields(kind)


def test_scenario_produces_every_event_type() -> None:
    """The scenario below exercises every event type, so the round trip covers them all."""
    assert {event_type(e) for e in scenario()[0]} == set(EVENTS)


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_every_event_round_trips(kind: str) -> None:
    """Each real event of the type survives to_record, encode and decode with nothing lost."""
    events, owner = scenario()
    for event in (e for e in events if event_type(e) == kind):
        name, record = to_record(event, owner.get(event.originator_id))
        decoded_name, decoded = registry().decode(registry().encode(name, record))
        assert decoded_name == name
        for field in domain_fields(type(event)):
            assert matches(getattr(event, field), decoded[field]), (kind, field, getattr(event, field), decoded[field])


def test_envelope_identifies_the_event() -> None:
    """The envelope carries a stable event id, the type, the aggregate and its version, and the UTC recording time."""
    event = sample("BillingAccount.ChargeApplied")
    _, decoded = registry().decode(registry().encode(*to_record(event, None)))
    assert decoded["event_id"] == event_id(event.originator_id, event.originator_version)
    assert (decoded["event_type"], decoded["aggregate_type"]) == ("BillingAccount.ChargeApplied", "BillingAccount")
    assert (decoded["aggregate_id"], decoded["aggregate_version"]) == (event.originator_id, event.originator_version)
    assert decoded["recorded_at"] == event.timestamp and decoded["recorded_at"].utcoffset() == timedelta(0)


def test_event_id_is_a_stable_uuid5() -> None:
    """event_id depends only on aggregate id and version."""
    aggregate = ids.account_id("ACME")
    assert event_id(aggregate, 3) == event_id(aggregate, 3) != event_id(aggregate, 4)
    assert event_id(aggregate, 3).version == 5


def test_account_events_belong_to_their_own_account() -> None:
    """A BillingAccount event's billing_account_id is the account itself when none is given."""
    event = sample("BillingAccount.Opened")
    assert to_record(event, None)[1]["billing_account_id"] == str(event.originator_id)


@pytest.mark.parametrize("kind", ["CustomerBill.Issued", "CustomerPayment.Received"])
def test_creation_of_bill_or_payment_names_its_account(kind: str) -> None:
    """A bill's or payment's creation event gives its account when none is given."""
    event = sample(kind)
    assert to_record(event, None)[1]["billing_account_id"] == str(event.account_id)


def test_given_billing_account_id_is_used() -> None:
    """The relay's billing_account_id is carried as given (for bill and payment events that do not name it)."""
    event, account = sample("CustomerBill.StateChanged"), ids.account_id("ACME")
    assert to_record(event, account)[1]["billing_account_id"] == str(account)


@pytest.mark.parametrize("kind", ["PartyBillingCycle.Triggered", "BillingCycleSpecification.Defined"])
def test_cycle_and_specification_events_have_no_account(kind: str) -> None:
    """Cycle and specification events carry a null billing_account_id."""
    assert to_record(sample(kind), None)[1]["billing_account_id"] is None


def test_position_round_trips() -> None:
    """The account's figures after the event travel in `position`, amounts exact."""
    event = sample("BillingAccount.BillIssued")
    position = positions()[event.originator_version]
    _, decoded = registry().decode(registry().encode(*to_record(event, None, position)))
    assert decoded["position"] == {**position, **{k: Decimal(v) for k, v in position.items() if isinstance(v, Decimal)}}
    assert decoded["position"]["unbilled_count"] == 0 and decoded["position"]["receivable"] > 0


def test_position_defaults_to_null() -> None:
    """Without figures, `position` is null."""
    assert to_record(sample("CustomerBill.Issued"), None)[1]["position"] is None


def test_amounts_are_quantized_to_six_places() -> None:
    """Money becomes a Decimal with exactly six places, never a float."""
    event = sample("BillingAccount.PaymentReceived")
    amount = to_record(event, None)[1]["amount"]
    assert amount == Decimal(event.amount) and amount.as_tuple().exponent == -6


def test_float_amount_is_refused() -> None:
    """A float in an amount field is refused rather than rounded."""
    event = dataclasses.replace(sample("CustomerPayment.Allocated"), amount=0.1)
    with pytest.raises(UnencodableRecord, match="float"):
        to_record(event, None)


def test_unknown_key_in_a_nested_dict_is_refused() -> None:
    """A dict key without a contract field fails loudly instead of being dropped."""
    event = sample("BillingAccount.PaymentReceived")
    changed = dataclasses.replace(event, allocations=[{**event.allocations[0], "note": "x"}])
    with pytest.raises(UnencodableRecord, match="note"):
        to_record(changed, None)


def test_event_without_contract_is_refused() -> None:
    """An event class with no mapping raises UnencodableRecord naming it."""
    with pytest.raises(UnencodableRecord, match="BillingAccount.Event"):
        to_record(BillingAccount.Event(originator_id=ids.account_id("X"), originator_version=2, timestamp=T0), None)


def test_ids_become_strings_and_decode_as_uuids() -> None:
    """UUID fields are strings in the record and uuid.UUID after decoding (logicalType uuid)."""
    name, record = to_record(sample("CustomerBill.Issued"), None)
    assert isinstance(record["account_id"], str)
    assert isinstance(registry().decode(registry().encode(name, record))[1]["account_id"], UUID)


def test_event_namespace_is_not_the_aggregate_namespace() -> None:
    """Event ids never collide with aggregate ids built from the same ledger namespace."""
    aggregate = ids.account_id("ACME")
    assert event_id(aggregate, 1) != uuid5(ids.LEDGER_NAMESPACE, f"{aggregate}:1")


# ---------------------------------------------------------------- the relay's fast paths give what the plain ones gave


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_every_real_event_encodes_as_fastavro_encodes_it(kind: str) -> None:
    """The registry's compiled writer writes, for every real event (with its position), fastavro's very bytes."""
    import io

    import fastavro

    from ledger.contracts import MAGIC

    events, owner = scenario()
    figures = positions()
    for event in (e for e in events if event_type(e) == kind):
        position = figures.get(event.originator_version) if kind.startswith("BillingAccount.") else None
        name, record = to_record(event, owner.get(event.originator_id), position)
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, fastavro.parse_schema(registry().schema(name), named_schemas={}), record)
        assert registry().encode(name, record) == MAGIC + registry().fingerprint(name) + buffer.getvalue()


def test_event_id_text_is_the_uuid5_text() -> None:
    """The relay's event id, built without UUID objects, is the text of `event_id`."""
    from random import Random

    from ledger.contracts.ledger_events import event_id_text

    rng = Random(5)
    for _ in range(2_000):
        aggregate, version = UUID(int=rng.getrandbits(128)), rng.choice((1, 2, 99, rng.getrandbits(40)))
        assert event_id_text(str(aggregate), version) == str(event_id(aggregate, version))


@pytest.mark.parametrize("value", ["0", "-0", "0E+5", Decimal("0"), Decimal("-0E-9"), Decimal("0.00"), "12.3456", "-0.000001",
                                   "1E+3", "0.0000005", "0.0000015", "-2.5E-7",
                                   Decimal("7.000000"), Decimal("-7.000000"), Decimal("1.10"), Decimal("0E-10"),
                                   Decimal("123456789012345678901234.123456"), 42])
def test_money_quantizes_as_before(value: Any) -> None:
    """Amounts already at six places are passed through; any other is quantized (half even) as it always was."""
    from decimal import Context

    from ledger.contracts.ledger_events import money

    expected = Decimal(value).quantize(Decimal("0.000001"), context=Context(prec=30))
    got = money(value)
    assert got == expected and str(got) == str(expected) and got.as_tuple() == expected.as_tuple()


def test_money_refuses_more_than_thirty_digits() -> None:
    from ledger.contracts.ledger_events import money

    with pytest.raises(UnencodableRecord):
        money(Decimal("1234567890123456789012345.000000"))
    with pytest.raises(UnencodableRecord):
        money(Decimal("1234567890123456789012345.5"))
