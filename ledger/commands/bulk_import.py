"""Onboarding in bulk from files: customers, billing accounts or subscriptions, one record a line (JSON lines) or a
row (CSV with a header row), each kind with one documented column set (`KINDS`), the same in both formats.

A record's columns become the kind's single command (`CreateCustomer`, `OpenBillingAccount`, `CreateSubscription`),
validated as that command is; the good records are run a batch at a time through the kind's batch command (one
transaction a batch: ledger/commands/onboarding.py), and every bad line is reported with its number and reason
(ledger/commands/line_import.py). Imports are idempotent by the business key (the `id` column): a record whose key
exists with the same content is unchanged, with other content it is rejected (creation never overwrites: change an
existing customer with `customer update`, an account's terms with `account terms`).

In CSV an empty cell is an absent value (the default applies); in JSON lines a key may be left out, and values may be
JSON numbers. Several emails, phones or related parties go in one cell separated by `;` (or, in JSON, as a list).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ledger.commands.accounts import OpenBillingAccount
from ledger.commands.base import Command
from ledger.commands.customers import CreateCustomer, contact_media, related_parties
from ledger.commands.line_import import BatchOutcome, Importer, ImportReport, Refusal, import_records, read_records
from ledger.commands.onboarding import CreateCustomers, CreateSubscriptions, OpenBillingAccounts
from ledger.commands.results import BatchSaved
from ledger.commands.subscriptions import CreateSubscription
from ledger.errors import InvalidInput
from ledger.ports import Progress


@dataclass(frozen=True)
class Kind:
    """One kind of record: its columns (name: meaning), how a record becomes its command's input, which column
    each of the command's fields comes from (to name it in a message), and the batch command."""

    name: str
    columns: dict[str, str]
    to_input: Callable[[dict[str, Any]], dict[str, Any]]
    field_columns: dict[str, str]
    item: type[Command[Any]]
    batch: Callable[[list[Any]], Command[BatchSaved]]
    required: tuple[str, ...]

    def parse(self, record: dict[str, Any]) -> Command[Any]:
        unknown = [name for name in record if name not in self.columns]
        if unknown:
            raise InvalidInput(f"unknown column(s) {', '.join(unknown)}; the columns are {', '.join(self.columns)}")
        try:
            return self.item.parse(self.to_input(record))
        except InvalidInput as error:
            raise self._named(error) from None

    def _named(self, error: InvalidInput) -> InvalidInput:
        """The error with each bad field named by its column."""
        if not error.problems:
            return error
        parts = []
        for loc, message in error.problems:
            column = self.field_columns.get(".".join(str(p) for p in loc if not isinstance(p, int))) \
                or self.field_columns.get(str(loc[0]) if loc else "") or ".".join(str(p) for p in loc) or "record"
            parts.append(f"{column}: {message.removeprefix('Value error, ')}")
        named = InvalidInput("; ".join(parts), **error.context)
        named.problems = error.problems
        return named


def _copy(record: dict[str, Any], **fields: str) -> dict[str, Any]:
    """{field: the record's value of its column} for the columns the record has."""
    return {field: record[column] for field, column in fields.items() if column in record}


def _many(value: Any) -> list[Any]:
    """A cell of several values separated by `;`, or a JSON list."""
    if isinstance(value, list):
        return value
    return [part.strip() for part in str(value).split(";") if part.strip()]


def _type_and_id(value: Any, column: str) -> dict[str, str]:
    kind, sep, ref = str(value).partition(":")
    if not (sep and kind.strip() and ref.strip()):
        raise InvalidInput(f"{column}: expects TYPE:ID, e.g. directDebit:MANDATE-1, got {value!r}")
    return {"type": kind.strip(), "id": ref.strip()}


ACCOUNT_COLUMNS = {
    "id": "account id (the business key)",
    "customer_id": "the customer's id",
    "currency": "ISO 4217 code, e.g. EUR",
    "rating_type": "postpaid (default) or prepaid",
    "cycle_spec": "billing cycle specification name (required for postpaid accounts)",
    "payment_terms_days": "days to pay a bill (default: the specification's offset)",
    "credit_limit": "prepaid: how far the balance may go below zero (default 0)",
    "payment_method": "default payment method TYPE:ID, e.g. directDebit:MANDATE-1",
    "time_zone": "IANA time zone of the account's billing days (default UTC)",
    "name": "display name",
}
_ACCOUNT_FIELDS = {"account_id": "id", "customer_id": "customer_id", "currency": "currency", "rating_type": "rating_type",
                   "cycle_specification": "cycle_spec", "payment_terms_days": "payment_terms_days",
                   "credit_limit": "credit_limit", "time_zone": "time_zone", "name": "name"}


def account_input(record: dict[str, Any]) -> dict[str, Any]:
    data = _copy(record, **_ACCOUNT_FIELDS)
    if "payment_method" in record:
        data["default_payment_method"] = _type_and_id(record["payment_method"], "payment_method")
    return data


CUSTOMER_COLUMNS = {
    "id": "customer id (the business key)",
    "type": "individual (default) or organization",
    "name": "the customer's name (personal data)",
    "status": "initialized or approved (default)",
    "email": "email address(es), ;-separated, the first preferred (personal data)",
    "phone": "phone number(s), ;-separated (personal data)",
    "street1": "billing address: street (with city and country; personal data)",
    "street2": "billing address: second street line",
    "post_code": "billing address: post code",
    "city": "billing address: city",
    "state": "billing address: state or province",
    "country": "billing address: ISO 3166 alpha-2 country",
    "bill_media": "preferred bill presentation media: email, paper, electronic, portal",
    "language": "preferred language, e.g. fr or fr-FR",
    "related": "related parties ROLE:ID, ;-separated",
}
_ADDRESS = {"street1": "street1", "street2": "street2", "post_code": "post_code", "city": "city",
            "state_or_province": "state", "country": "country"}


def customer_input(record: dict[str, Any]) -> dict[str, Any]:
    data = _copy(record, customer_id="id", party_type="type", name="name", status="status")
    media = contact_media(_many(record.get("email", [])), _many(record.get("phone", [])))
    if media:
        data["contact_medium"] = media
    address = _copy(record, **_ADDRESS)
    if address:
        data["billing_address"] = address
    preferences = _copy(record, bill_presentation_media="bill_media", language="language")
    if preferences:
        data["preferences"] = preferences
    if "related" in record:
        data["related_party"] = related_parties(_many(record["related"]))
    return data


_CUSTOMER_FIELDS = {"customer_id": "id", "party_type": "type", "name": "name", "status": "status",
                    "contact_medium": "email/phone", "contact_medium.email_address": "email",
                    "contact_medium.phone_number": "phone", "billing_address": "address",
                    "preferences.bill_presentation_media": "bill_media", "preferences.language": "language",
                    "related_party": "related", **{f"billing_address.{f}": c for f, c in _ADDRESS.items()}}

SUBSCRIPTION_COLUMNS = {
    "id": "subscription id (the business key)",
    "account": "the billing account's id",
    "offering": "the product offering's id",
    "quantity": "a positive integer (default 1)",
    "start": "first day served (YYYY-MM-DD, the account's local day)",
    "end": "last day served, if known",
}
_SUBSCRIPTION_FIELDS = {"subscription_id": "id", "account_id": "account", "offering_id": "offering",
                        "quantity": "quantity", "start_date": "start", "end_date": "end"}


def subscription_input(record: dict[str, Any]) -> dict[str, Any]:
    return _copy(record, **_SUBSCRIPTION_FIELDS)


KINDS: dict[str, Kind] = {
    "customers": Kind("customers", CUSTOMER_COLUMNS, customer_input, _CUSTOMER_FIELDS, CreateCustomer,
                      lambda items: CreateCustomers.parse({"customers": items}), ("id", "name")),
    "accounts": Kind("accounts", ACCOUNT_COLUMNS, account_input, _ACCOUNT_FIELDS, OpenBillingAccount,
                     lambda items: OpenBillingAccounts.parse({"accounts": items}), ("id", "customer_id", "currency")),
    "subscriptions": Kind("subscriptions", SUBSCRIPTION_COLUMNS, subscription_input, _SUBSCRIPTION_FIELDS,
                          CreateSubscription, lambda items: CreateSubscriptions.parse({"subscriptions": items}),
                          ("id", "account", "offering", "start")),
}


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise InvalidInput(f"unknown kind {name!r}: one of {', '.join(KINDS)}", kind=name) from None


def import_lines(kind: Kind, execute: Callable[[Command[Any]], Any], lines: Iterable[str], fmt: str, batch_size: int,
                 progress: Progress | None = None) -> ImportReport:
    """Import the records of `lines` (format jsonl or csv) of `kind` in batches of `batch_size` through `execute`."""

    def run(items: list[Command[Any]]) -> BatchOutcome:
        saved: BatchSaved = execute(kind.batch(items))
        return BatchOutcome(saved.created, saved.unchanged,
                            [Refusal(r.index, r.key, r.error, r.message) for r in saved.rejected])

    importer = Importer(parse=kind.parse, key=lambda record: record.get("id"), run=run, what=kind.name)
    records = read_records(lines, fmt, kind.columns, f"one record of {kind.name[:-1]} columns")
    return import_records(importer, records, batch_size, progress)
