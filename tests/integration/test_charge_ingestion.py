"""Charge ingestion with the in-memory dead-letter sink: good charges applied in one batch, bad ones set aside."""

from __future__ import annotations

from decimal import Decimal

import pytest

from consumers.charge_ingestion import ChargeIngestion
from consumers.dead_letters import MemoryDeadLetters
from ledger.contracts.codec import SchemaRegistry
from ledger.contracts.rating import CHARGE_SCHEMA, charge_record
from tests.support.kafka_fakes import ConsumedRecord
from tests.support.ledger_factory import (FakeClock, account_of, define_spec, make_ledger, open_account)


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
    assert result.applied == 1 and [(l.value, l.error) for l in letters] == [(bad, error)]


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
