"""Commands on customers (TMF629): create, update (merge), change status, close, erase personal data.

Personal fields go through the vault (`ctx.personal`) before they reach an event: the events hold them sealed.
Nothing personal is logged: a customer command logs its customer id only, and its errors never quote a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ledger.aggregates import ids
from ledger.aggregates.customer import CLOSED, Customer
from ledger.commands.base import Command, Id, Text
from ledger.commands.results import CustomerErased, CustomerSaved
from ledger.errors import CustomerNotFound, IdempotencyConflict
from ledger.ports import AggregateStore, HandlerContext, PersonalData

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{4,30}$")


class PostalAddress(Command):
    street1: Text = Field(min_length=1)
    street2: Text = ""
    post_code: Text = ""
    city: Text = Field(min_length=1)
    state_or_province: Text = ""
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")


class ContactMedium(Command):
    """TMF629 ContactMedium: an email address, a telephone number or a postal address."""

    medium_type: Literal["email", "phone", "postalAddress"]
    preferred: bool = False
    email_address: str | None = None
    phone_number: str | None = None
    address: PostalAddress | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ContactMedium:
        if self.medium_type == "email" and not (self.email_address and _EMAIL.match(self.email_address)):
            raise ValueError("an email contact medium needs a valid email_address")
        if self.medium_type == "phone" and not (self.phone_number and _PHONE.match(self.phone_number)):
            raise ValueError("a phone contact medium needs a valid phone_number (digits, optional +, spaces, dashes)")
        if self.medium_type == "postalAddress" and self.address is None:
            raise ValueError("a postalAddress contact medium needs an address")
        return self


class RelatedParty(Command):
    id: Id
    role: Id


class Preferences(Command):
    bill_presentation_media: Literal["email", "paper", "electronic", "portal"] | None = None
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")

    def given(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class _CustomerFields:
    """What every customer command shares: its log line names the customer id only; its personal fields."""

    def log_ids(self) -> dict[str, str]:
        return {"customer_id": getattr(self, "customer_id", "")}

    def personal(self) -> dict[str, str]:
        """The given personal fields as text (structured ones as canonical JSON), to be sealed."""
        fields: dict[str, str] = {}
        name = getattr(self, "name", None)
        if name is not None:
            fields["name"] = name
        media = getattr(self, "contact_medium", None)
        if media is not None:
            fields["contact_medium"] = _canonical([m.model_dump(exclude_none=True) for m in media])
        address = getattr(self, "billing_address", None)
        if address is not None:
            fields["billing_address"] = _canonical(address.model_dump())
        return fields


class CreateCustomer(_CustomerFields, Command[CustomerSaved]):
    """A new customer; re-sending the same content is a no-op."""

    customer_id: Id
    party_type: Literal["individual", "organization"] = "individual"
    name: Text = Field(min_length=1)
    status: Literal["initialized", "approved"] = "approved"
    contact_medium: list[ContactMedium] = Field(default=[], max_length=20)
    billing_address: PostalAddress | None = None
    preferences: Preferences = Preferences()
    related_party: list[RelatedParty] = Field(default=[], max_length=50)


class UpdateCustomer(_CustomerFields, Command[CustomerSaved]):
    """Merge: the fields given replace the stored ones, the others stay (contact media as a whole list)."""

    customer_id: Id
    name: Text | None = Field(default=None, min_length=1)
    contact_medium: list[ContactMedium] | None = Field(default=None, max_length=20)
    billing_address: PostalAddress | None = None
    preferences: Preferences = Preferences()
    related_party: list[RelatedParty] | None = Field(default=None, max_length=50)
    status: Literal["initialized", "approved", "suspended"] | None = None
    status_reason: Text = ""


class CloseCustomer(_CustomerFields, Command[CustomerSaved]):
    customer_id: Id
    reason: Text = ""


class EraseCustomer(_CustomerFields, Command[CustomerErased]):
    """TMF629 delete: close the customer and erase its personal data (crypto-shredding); again is a no-op."""

    customer_id: Id
    reason: Text = ""

    @field_validator("reason")
    @classmethod
    def _short(cls, value: str) -> str:
        return value[:200]


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def load_customer(store: AggregateStore, customer_ref: str) -> Customer:
    return store.load(Customer, ids.customer_id(customer_ref), CustomerNotFound, f"customer {customer_ref!r}")


def directory_entry(customer_ref: str, opened: dict[str, str]) -> dict[str, str]:
    """What search finds a customer by: its id, name, first email and first phone (preferred ones first)."""
    media = sorted(json.loads(opened.get("contact_medium", "[]")), key=lambda m: not m.get("preferred"))
    email = next((m["email_address"] for m in media if m["medium_type"] == "email"), "")
    phone = next((m["phone_number"] for m in media if m["medium_type"] == "phone"), "")
    return {"customer_ref": customer_ref, "name": opened.get("name", ""), "email": email, "phone": phone}


def _index(vault: PersonalData, customer: Customer) -> None:
    opened = vault.open(customer.id, customer.personal) or {}
    vault.index(customer.id, directory_entry(customer.customer_ref, opened))


def create_customer(ctx: HandlerContext, cmd: CreateCustomer) -> CustomerSaved:
    existing = ctx.store.find(Customer, ids.customer_id(cmd.customer_id))
    if existing is not None:
        check_same_customer(ctx.personal, existing, cmd)
        return CustomerSaved(customer_id=cmd.customer_id, status=existing.status, changed=False)
    customer = new_customer(ctx.personal, ctx.now(), cmd)
    ctx.store.save(customer)
    index_new_customer(ctx.personal, customer, cmd)
    return CustomerSaved(customer_id=cmd.customer_id, status=customer.status, changed=True)


def check_same_customer(vault: PersonalData, existing: Customer, cmd: CreateCustomer) -> None:
    """Creating a customer that exists is a no-op with the same content (its personal data opened to compare);
    other content, or a customer whose personal data was erased, is a conflict."""
    same = (existing.party_type == cmd.party_type and existing.preferences == cmd.preferences.given()
            and existing.related_parties == [p.model_dump() for p in cmd.related_party] and not existing.erased
            and vault.open(existing.id, existing.personal) == cmd.personal())
    if not same:
        raise IdempotencyConflict(f"customer {cmd.customer_id!r} already exists with other values",
                                  customer=cmd.customer_id)


def new_customer(vault: PersonalData, now: datetime, cmd: CreateCustomer) -> Customer:
    """The customer the command creates (not saved), its personal fields sealed by the vault."""
    customer_id = ids.customer_id(cmd.customer_id)
    return Customer.register(now, id=customer_id, customer_ref=cmd.customer_id, party_type=cmd.party_type,
                             status=cmd.status, personal=vault.seal(customer_id, cmd.personal()),
                             preferences=cmd.preferences.given(),
                             related_parties=[p.model_dump() for p in cmd.related_party])


def index_new_customer(vault: PersonalData, customer: Customer, cmd: CreateCustomer) -> None:
    """The directory row search finds a customer just saved by."""
    vault.index(customer.id, directory_entry(cmd.customer_id, cmd.personal()))


def contact_media(emails: Iterable[str], phones: Iterable[str]) -> list[dict[str, Any]]:
    """Contact media of email addresses and phone numbers: the first email is preferred, else the first phone."""
    media: list[dict[str, Any]] = []
    for k, email in enumerate(emails):
        media.append({"medium_type": "email", "email_address": email, "preferred": k == 0})
    for k, phone in enumerate(phones):
        media.append({"medium_type": "phone", "phone_number": phone, "preferred": k == 0 and not media})
    return media


def related_parties(values: Iterable[str]) -> list[dict[str, str]]:
    """Related parties written ROLE:ID."""
    return [dict(zip(("role", "id"), value.split(":", 1))) for value in values]


def update_customer(ctx: HandlerContext, cmd: UpdateCustomer) -> CustomerSaved:
    customer = load_customer(ctx.store, cmd.customer_id)
    given = cmd.personal()
    current = ctx.personal.open(customer.id, customer.personal) or {}
    changed_fields = {k: v for k, v in given.items() if current.get(k) != v}
    parties = None if cmd.related_party is None else [p.model_dump() for p in cmd.related_party]
    now = ctx.now()
    changed = customer.update(now, personal=ctx.personal.seal(customer.id, changed_fields),
                              preferences=cmd.preferences.given(), related_parties=parties)
    if cmd.status is not None:
        changed = customer.change_status(now, cmd.status, cmd.status_reason) or changed
    if changed:
        ctx.store.save(customer)
        _index(ctx.personal, customer)
    return CustomerSaved(customer_id=cmd.customer_id, status=customer.status, changed=changed)


def close_customer(ctx: HandlerContext, cmd: CloseCustomer) -> CustomerSaved:
    customer = load_customer(ctx.store, cmd.customer_id)
    changed = customer.change_status(ctx.now(), CLOSED, cmd.reason)
    if changed:
        ctx.store.save(customer)
    return CustomerSaved(customer_id=cmd.customer_id, status=customer.status, changed=changed)


def erase_customer(ctx: HandlerContext, cmd: EraseCustomer) -> CustomerErased:
    """Close (if open), record the erasure, then destroy the key and the directory row. Erasing twice changes
    nothing; a failed save leaves the key in place (nothing erased), a key destroyed before is not needed again."""
    customer = load_customer(ctx.store, cmd.customer_id)
    now = ctx.now()
    customer.change_status(now, CLOSED, cmd.reason or "erasure")
    recorded = customer.erase(now, cmd.reason)
    if recorded:
        ctx.store.save(customer)
    destroyed = ctx.personal.erase(customer.id)
    return CustomerErased(customer_id=cmd.customer_id, erased=recorded or destroyed)
