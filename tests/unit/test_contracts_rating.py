"""The inbound charge message (TMF678 AppliedCustomerBillingRate): its schema versions and its mapping onto PostCharge."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from ledger.commands.charges import PostCharge
from ledger.contracts import CHARGE_SCHEMA, SchemaRegistry, charge_command_input, charge_record
from ledger.errors import InvalidInput
from tests.support.accounts import new_account

HORIZON = timedelta(days=1)
FIELDS: dict[str, Any] = dict(
    charge_id="usage-001", account_id="ACME-PARIS", currency="EUR", tax_excluded_amount="18.456789",
    applied_tax=[{"tax_category": "VAT", "tax_rate": "20", "tax_amount": "3.691358"}],
    date="2026-10-07T09:15:00+02:00", product_ref="DATA-EU", period_start="2026-10-01", period_end="2026-10-31",
    description="data 1,845.6789 MB",
)
JSON_LINE = {"charge_id": "usage-001", "account_id": "ACME-PARIS", "currency": "EUR", "type": "appliedBillingCharge",
             "tax_excluded_amount": "18.456789",
             "applied_tax": [{"tax_category": "VAT", "tax_rate": "20", "tax_amount": "3.691358"}],
             "date": "2026-10-07T09:15:00+02:00", "product_ref": "DATA-EU", "period_start": "2026-10-01",
             "period_end": "2026-10-31", "description": "data 1,845.6789 MB"}


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


def through_avro(record: dict[str, Any], version: int | None = None) -> dict[str, Any]:
    name, decoded = registry().decode(registry().encode(CHARGE_SCHEMA, record, version=version))
    assert name == CHARGE_SCHEMA
    return decoded


def command(**changes: Any) -> PostCharge:
    return PostCharge.parse(charge_command_input(through_avro(charge_record(**{**FIELDS, **changes}))))


def test_schema_uses_tmf678_names() -> None:
    """The top-level fields are TMF678 AppliedCustomerBillingRate names."""
    fields = [f["name"] for f in registry().schema(CHARGE_SCHEMA, 1)["fields"]]
    assert fields == ["id", "type", "date", "description", "billingAccount", "product", "periodCoverage",
                      "taxExcludedAmount", "taxIncludedAmount", "appliedTax"]


def test_latest_version_adds_rating_system_with_a_default() -> None:
    """v2 adds the optional ratingSystem (default null) and keeps v1 released."""
    assert registry().versions(CHARGE_SCHEMA) == [1, 2]
    added = registry().schema(CHARGE_SCHEMA)["fields"][-1]
    assert (added["name"], added["type"], added["default"]) == ("ratingSystem", ["null", "string"], None)


def test_amounts_are_avro_decimals() -> None:
    """Every amount and rate is a bytes decimal of precision 30, scale 6."""
    decimal = {"type": "bytes", "logicalType": "decimal", "precision": 30, "scale": 6}
    money = registry().schema(CHARGE_SCHEMA)["fields"][7]["type"]
    assert money["fields"][1]["type"] == decimal
    tax = registry().schema(CHARGE_SCHEMA)["fields"][9]["type"]["items"]
    assert tax["fields"][1]["type"] == decimal


def test_message_maps_onto_post_charge() -> None:
    """A decoded charge gives a PostCharge with every field of the message."""
    cmd = command()
    assert (cmd.charge_id, cmd.account_id, cmd.type, cmd.currency) == ("usage-001", "ACME-PARIS", "appliedBillingCharge", "EUR")
    assert cmd.tax_excluded_amount == Decimal("18.456789")
    assert [(t.tax_category, t.tax_rate, t.tax_amount) for t in cmd.applied_tax] == [("VAT", Decimal(20), Decimal("3.691358"))]
    assert cmd.date == datetime(2026, 10, 7, 7, 15, tzinfo=UTC)
    assert (cmd.product_ref, cmd.period_start, cmd.period_end) == ("DATA-EU", date(2026, 10, 1), date(2026, 10, 31))
    assert cmd.description == "data 1,845.6789 MB"


def test_same_command_as_the_json_import() -> None:
    """The Avro message and the equivalent JSON import line parse to the same PostCharge."""
    assert command() == PostCharge.parse(JSON_LINE)


def test_avro_and_json_copies_of_a_charge_are_duplicates() -> None:
    """A charge applied from Avro and re-sent as JSON is a duplicate, not an idempotency conflict."""
    account = new_account(at=datetime(2026, 10, 1, tzinfo=UTC), account_ref="ACME-PARIS")
    now = datetime(2026, 10, 8, tzinfo=UTC)
    assert command().apply_to(account, now, HORIZON) is True
    assert PostCharge.parse(JSON_LINE).apply_to(account, now, HORIZON) is False


def test_amounts_are_never_floats() -> None:
    """charge_command_input passes every amount as a Decimal in its shortest exact form."""
    data = charge_command_input(through_avro(charge_record(**FIELDS, tax_included_amount="22.148147")))
    amounts = [data["tax_excluded_amount"], data["tax_included_amount"], *(v for t in data["applied_tax"] for v in
                                                                          (t["tax_rate"], t["tax_amount"]))]
    assert all(type(a) is Decimal for a in amounts)
    assert [str(a) for a in amounts] == ["18.456789", "22.148147", "20", "3.691358"]


def test_tax_included_amount_is_checked() -> None:
    """A taxIncludedAmount that is not excluded + taxes is refused by PostCharge."""
    with pytest.raises(InvalidInput, match="taxIncludedAmount"):
        command(tax_included_amount="22.00")


def test_optional_fields_may_be_absent() -> None:
    """Without product, period, taxes and description the command takes its defaults."""
    cmd = command(product_ref=None, period_start=None, period_end=None, applied_tax=[], description="")
    assert (cmd.product_ref, cmd.period_start, cmd.period_end, cmd.applied_tax, cmd.description) == (None, None, None, [], "")


def test_credit_type_is_carried() -> None:
    """The TMF type (appliedBillingCredit) reaches the command."""
    assert command(type="appliedBillingCredit").type == "appliedBillingCredit"


def test_mixed_currencies_are_refused() -> None:
    """A tax amount in another currency than taxExcludedAmount is InvalidInput."""
    record = through_avro(charge_record(**FIELDS))
    record["appliedTax"][0]["taxAmount"]["unit"] = "USD"
    with pytest.raises(InvalidInput, match="USD"):
        charge_command_input(record)


def test_v1_message_reads_under_v2() -> None:
    """A charge written with v1 decodes as v2 (ratingSystem null) and maps to the same command."""
    record = charge_record(**FIELDS)
    v1 = {k: v for k, v in record.items() if k != "ratingSystem"}
    data = registry().encode(CHARGE_SCHEMA, v1, version=1)
    assert data[2:10] == registry().fingerprint(CHARGE_SCHEMA, 1) != registry().fingerprint(CHARGE_SCHEMA)
    decoded = registry().decode(data)[1]
    assert decoded["ratingSystem"] is None
    assert PostCharge.parse(charge_command_input(decoded)) == command()


def test_rating_system_is_carried_but_not_posted() -> None:
    """ratingSystem travels in v2 messages; the command does not take it."""
    decoded = through_avro(charge_record(**FIELDS, rating_system="mediation-eu"))
    assert decoded["ratingSystem"] == "mediation-eu"
    assert PostCharge.parse(charge_command_input(decoded)) == command()


def test_charge_record_refuses_floats() -> None:
    """A float amount given to charge_record is InvalidInput."""
    with pytest.raises(InvalidInput, match="float"):
        charge_record(**{**FIELDS, "tax_excluded_amount": 18.5})


def test_charge_record_refuses_naive_dates() -> None:
    """A date without an offset is InvalidInput."""
    with pytest.raises(InvalidInput, match="offset"):
        charge_record(**{**FIELDS, "date": "2026-10-07T09:15:00"})


def test_charge_record_normalizes_the_date_to_utc() -> None:
    """The record's date is an aware UTC datetime (timestamp-micros)."""
    assert charge_record(**FIELDS)["date"] == datetime(2026, 10, 7, 7, 15, tzinfo=UTC)
