"""Output a newcomer can trust: errors name the command line's options, one scale per kind of amount, a refusal
said once on a console, and the store named when it is not the default."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import uuid4

import pytest
import structlog

from ledger.aggregates.bill_composition import compose
from ledger.aggregates.customer_bill import CustomerBill
from ledger.aggregates.entries import Entry
from ledger.aggregates.money import at_minor_unit, at_rated_scale
from ledger.cli.context import store_label
from ledger.cli.options import flag_message, name_flags
from ledger.cli.parser import build_parser
from ledger.commands import OpenBillingAccount, PostCharge, TriggerBillingCycle
from ledger.commands.results import BillSummary
from ledger.errors import InvalidInput
from ledger.logging_setup import configure_logging
from ledger.settings import Settings

D = Decimal


def refusal(argv: list[str], model: type, data: dict[str, object]) -> str:
    """The message the CLI prints for `model.parse(data)` run from `argv` (after the subcommand gave its options)."""
    args = build_parser().parse_args(argv)
    name_flags(args, **FIELDS[model])  # what the subcommand's `given` records
    with pytest.raises(InvalidInput) as caught:
        model.parse(data)
    return flag_message(caught.value, args).message


FIELDS = {
    PostCharge: {"charge_id": "charge_id", "account_id": "account", "tax_excluded_amount": "amount", "date": "date",
                 "applied_tax": "tax", "currency": "currency"},
    TriggerBillingCycle: {"specification": "spec", "period_start": "period_start", "trigger_type": "trigger_type",
                          "triggered_by": "by"},
    OpenBillingAccount: {"account_id": "account", "customer_id": "customer", "currency": "currency",
                         "cycle_specification": "cycle_spec"},
}


def test_a_bad_amount_and_date_are_named_by_their_options() -> None:
    """--amount and --date, not tax_excluded_amount and date; the model's names are gone."""
    message = refusal(["charge", "post", "--amount", "1.0000001"], PostCharge,
                      {"charge_id": "c", "account_id": "A", "currency": "EUR", "tax_excluded_amount": "1.0000001",
                       "date": "2026-10-05T10:00:00"})
    assert message.startswith("invalid input: --amount: amount '1.0000001' has more than 6 decimal places")
    assert "--date: Input should have timezone info" in message and "tax_excluded_amount" not in message


def test_a_repeated_option_names_which_value_and_part_is_wrong() -> None:
    """The second --tax's amount: "--tax (2nd) AMOUNT"."""
    taxes = [{"tax_category": "VAT", "tax_rate": "20", "tax_amount": "1"},
             {"tax_category": "VAT", "tax_rate": "5", "tax_amount": "x"}]
    message = refusal(["charge", "post"], PostCharge, {"charge_id": "c", "account_id": "A", "currency": "EUR",
                                                       "tax_excluded_amount": "1", "applied_tax": taxes,
                                                       "date": "2026-10-05T10:00:00Z"})
    assert "--tax (2nd) AMOUNT: amount 'x' is not a decimal number" in message


def test_a_missing_trigger_is_named_by_by() -> None:
    """triggered_by is --by on the command line."""
    message = refusal(["cycle", "run"], TriggerBillingCycle,
                      {"specification": "m", "period_start": "2026-10-01", "trigger_type": "person"})
    assert message == "invalid input: --by: Field required"


def test_a_positional_is_named_in_capitals() -> None:
    """`account open ACCOUNT`: an empty account id is ACCOUNT; a postpaid account's missing cycle is --cycle-spec."""
    message = refusal(["account", "open", " "], OpenBillingAccount, {"account_id": " ", "customer_id": "C",
                                                                     "currency": "EUR"})
    assert "ACCOUNT: String should have at least 1 character" in message
    assert "--cycle-spec: a postpaid account needs a cycle specification" in message


def test_a_prepaid_account_needs_no_cycle_specification() -> None:
    """OpenBillingAccount without a cycle specification is valid for a prepaid account."""
    cmd = OpenBillingAccount.parse({"account_id": "P", "customer_id": "C", "currency": "EUR", "rating_type": "prepaid"})
    assert cmd.cycle_specification is None


def test_an_error_without_field_locations_is_left_as_it_is() -> None:
    """A rule's InvalidInput (no pydantic locations) keeps its own message."""
    args = build_parser().parse_args(["charge", "post"])
    error = InvalidInput("--allocate expects bill:NUMBER:AMOUNT, got 'x'")
    assert flag_message(error, args) is error


def test_minor_unit_figures_are_written_at_the_currency_unit() -> None:
    """0 is 0.00 in EUR and 0 in JPY; an exact amount only changes its exponent."""
    assert [str(at_minor_unit(D(v), c)) for v, c in [("0", "EUR"), ("13.8700", "EUR"), ("0", "JPY"), ("1.5", "KWD")]] == [
        "0.00", "13.87", "0", "1.500"]


def test_rated_figures_are_written_at_six_places() -> None:
    """Balances and unbilled totals (sums of rated charges) share one scale: six places."""
    assert [str(at_rated_scale(D(v))) for v in ("0", "13.87", "22.148147")] == ["0.000000", "13.870000", "22.148147"]


def test_a_bill_summary_shows_its_figures_at_the_minor_unit() -> None:
    """A settled bill's remaining amount is 0.00, beside its amount due 12.00."""
    entry = Entry(id="c1", kind="appliedBillingCharge", charge_id="c1", product_ref=None, tax_excluded=D("12"), taxes=(),
                  tax_included=D("12"), effective_at="2026-10-05T10:00:00+00:00", description="", paid_by={})
    bill = CustomerBill.issue(datetime(2026, 11, 1, tzinfo=UTC), id=uuid4(), account_id=uuid4(),
                              account_ref="A", bill_number="A-00001", run_type="offCycle", off_cycle_reason="x",
                              cycle_id=None, currency_code="EUR", billing_period=None, bill_date=date(2026, 11, 1),
                              mailing_date=None, payment_due_date=date(2026, 11, 15), totals=compose([entry], "EUR"))
    bill.remaining_amount = D(0)
    summary = json.loads(json.dumps(BillSummary.of(bill).model_dump(mode="json")))
    assert (summary["amount_due"], summary["remaining_amount"]) == ("12.00", "0.00")


def _log_refusal(json_lines: bool) -> str:
    stream = io.StringIO()
    configure_logging("INFO", json_lines, stream, printed_elsewhere=("command refused",))
    structlog.get_logger("ledger").warning("command refused", error="invalid_amount")
    structlog.get_logger("ledger").info("command done")
    return stream.getvalue()


def test_the_console_leaves_out_a_refusal_the_cli_prints_itself() -> None:
    """On the console renderer the refusal's log line is dropped (the CLI's error line says it); others stay."""
    out = _log_refusal(json_lines=False)
    assert "command refused" not in out and "command done" in out


def test_json_logs_keep_the_refusal() -> None:
    """JSON log lines keep the refusal, for whoever collects the logs."""
    assert "command refused" in _log_refusal(json_lines=True)


def test_the_default_store_is_not_named() -> None:
    """The default SQLite file needs no mention; another file is named."""
    assert store_label(Settings(store="sqlite")) is None
    assert store_label(Settings(store="sqlite", sqlite_path=Path("/tmp/other.sqlite"))) == "SQLite /tmp/other.sqlite"


def test_a_postgres_store_is_named_without_its_password() -> None:
    """Database, host, port and schema; the password never."""
    label = store_label(Settings(store="postgres", postgres_url="postgresql://ledger:s3cret@db.example:5433/books",
                                 postgres_schema="prod"))
    assert label == "PostgreSQL books on db.example:5433, schema prod" and "s3cret" not in (label or "")


def test_store_path_is_a_global_flag() -> None:
    """--store-path works before or after the subcommand."""
    parser = build_parser()
    assert parser.parse_args(["--store-path", "a.sqlite", "verify"]).store_path == "a.sqlite"
    assert parser.parse_args(["account", "show", "A", "--store-path", "b.sqlite"]).store_path == "b.sqlite"
