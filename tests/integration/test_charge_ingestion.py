"""Charge ingestion with the in-memory dead-letter sink: good charges applied in one batch, bad ones set aside."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consumers.charge_ingestion import ChargeIngestion
from consumers.dead_letters import MemoryDeadLetters
from ledger.contracts.codec import SchemaRegistry
from ledger.contracts.rating import CHARGE_SCHEMA, charge_record
from tests.support.kafka_fakes import ConsumedRecord
from tests.support.ledger_factory import FakeClock, account_of, define_spec, make_ledger, open_account


@pytest.fixture
def ledger(make_settings):
    ledger = make_ledger(make_settings(), FakeClock())
    define_spec(ledger)
    open_account(ledger, "ACC-1", "EUR")
    open_account(ledger, "ACC-2", "USD")
    yield ledger
    ledger.close()


def _charge(registry: SchemaRegistry, charge_id: str, account: str = "ACC-1", amount: str = "10.00",
            currency: str = "EUR", **extra) -> bytes:
    record = charge_record(charge_id=charge_id, account_id=account, tax_excluded_amount=Decimal(amount),
                           currency=currency, date="2026-10-01T10:00:00+00:00", **extra)
    return registry.encode(CHARGE_SCHEMA, record)


def _ingest(ledger, registry, messages):
    letters = MemoryDeadLetters()
    result = ChargeIngestion(ledger.execute, registry, letters).process(
        [ConsumedRecord(m, offset=n) if isinstance(m, (bytes, type(None))) else m for n, m in enumerate(messages)])
    return result, letters.letters


def test_good_charges_are_applied_to_their_accounts(ledger, registry):
    """Two accounts' charges from one batch land on their accounts."""
    result, letters = _ingest(ledger, registry, [_charge(registry, "c1"), _charge(registry, "c2", "ACC-2", "5", "USD")])
    assert result.applied == 2 and not letters
    assert account_of(ledger, "ACC-1").balance == Decimal("10.00")
    assert account_of(ledger, "ACC-2").balance == Decimal("5")


def test_a_charge_delivered_twice_is_applied_once(ledger, registry):
    """The same charge id in a later batch is a duplicate, not a second charge."""
    _ingest(ledger, registry, [_charge(registry, "c1")])
    result, letters = _ingest(ledger, registry, [_charge(registry, "c1")])
    assert result.duplicates == 1 and not letters and account_of(ledger, "ACC-1").balance == Decimal("10.00")


@pytest.mark.parametrize("bad, error", [
    (b"\x00\x01garbage", "undecodable_message"),
    (b"\xc3\x01" + b"\x00" * 8 + b"\x02", "unknown_schema"),
    (None, "stream_error"),
])
def test_undecodable_messages_go_to_dead_letters_with_their_bytes(ledger, registry, bad, error):
    """Bytes that are not one of our Avro messages are set aside with the reason; the good ones still apply."""
    result, letters = _ingest(ledger, registry, [bad, _charge(registry, "c1")])
    assert result.applied == 1 and [(letter.value, letter.error) for letter in letters] == [(bad, error)]


@pytest.mark.parametrize("kwargs, error", [
    ({"account": "NOPE"}, "account_not_found"),
    ({"currency": "USD"}, "currency_mismatch"),
    ({"amount": "-3"}, "invalid_input"),
])
def test_charges_the_ledger_refuses_go_to_dead_letters(ledger, registry, kwargs, error):
    """Unknown account, wrong currency, invalid amount: dead-lettered with the ledger's error code."""
    bad = _charge(registry, "bad", **kwargs)
    result, letters = _ingest(ledger, registry, [bad, _charge(registry, "c1")])
    assert result.applied == 1 and len(letters) == 1
    assert letters[0].error == error and letters[0].value == bad and letters[0].reason


def test_dead_letters_say_where_the_message_came_from(ledger, registry):
    """A dead letter names its source topic, partition and offset."""
    _, letters = _ingest(ledger, registry, [_charge(registry, "c0"), ConsumedRecord(b"junk", offset=41, partition=3)])
    assert (letters[0].source_topic, letters[0].source_partition, letters[0].source_offset) == ("rating.charges", 3, 41)


def test_each_refused_message_of_a_batch_is_dead_lettered_with_its_own_bytes_and_place(ledger, registry):
    """A charge, its conflicting re-send, its valid re-send and poison of every kind in one batch: one letter per
    refused message, each with its own bytes, key, partition, offset, code and reason; the valid re-send is a
    duplicate and the charge is applied once."""
    charge = _charge(registry, "c1")
    sent = [
        (charge, "ACC-1", "applied"),
        (_charge(registry, "c1", amount="99.00"), "ACC-1", "idempotency_conflict"),  # same id, other content
        (charge, "ACC-1", "duplicate"),  # the valid re-send, after the conflicting one
        (b"\x00\x01garbage", "junk", "undecodable_message"),
        (b"\xc3\x01" + b"\x00" * 8 + b"\x02", "ACC-1", "unknown_schema"),
        (None, "ACC-1", "stream_error"),
        (_charge(registry, "c2", account="NOPE"), "NOPE", "account_not_found"),
        (_charge(registry, "c3", currency="USD"), "ACC-1", "currency_mismatch"),
        (_charge(registry, "c4", amount="-3"), "ACC-1", "invalid_input"),
        (_charge(registry, "c1", amount="12.00"), "ACC-1", "idempotency_conflict"),  # a second, other conflict
    ]
    messages = [ConsumedRecord(value, offset=100 + n, key=key.encode(), partition=n % 3)
                for n, (value, key, _) in enumerate(sent)]
    result, letters = _ingest(ledger, registry, messages)
    refused = [(m.value, m.key, m.partition, m.offset, code) for m, (_, _, code) in zip(messages, sent)
               if code not in ("applied", "duplicate")]
    assert sorted(((d.value, d.key, d.source_partition, d.source_offset, d.error) for d in letters),
                  key=lambda letter: letter[3]) == refused
    assert all(d.reason for d in letters) and (result.applied, result.duplicates) == (1, 1)
    assert account_of(ledger, "ACC-1").balance == Decimal("10.00")
