"""Customer aggregate (TMF629 Customer): an individual or an organization that billing accounts belong to.

Personal data (the name, contact media, the billing address) never sits in an event in clear: the aggregate only
holds it sealed (opaque text the commands get from the personal-data vault, encrypted with a key of this customer's
own), so destroying that key erases it from the immutable log. After `Erased` the sealed values are gone from the
state too; replaying the older events still works, and their sealed values no longer open.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from ledger.aggregates.base import LedgerAggregate
from ledger.errors import RuleViolation

INDIVIDUAL, ORGANIZATION = "individual", "organization"
PARTY_TYPES = (INDIVIDUAL, ORGANIZATION)
INITIALIZED, APPROVED, SUSPENDED, CLOSED = "initialized", "approved", "suspended", "closed"
STATUSES = (INITIALIZED, APPROVED, SUSPENDED, CLOSED)
PERSONAL_FIELDS = ("name", "contact_medium", "billing_address")
"""The personal fields, each kept sealed."""


class Customer(LedgerAggregate):
    """A customer: who it is (sealed), its status, preferences and related parties (by reference)."""

    if TYPE_CHECKING:  # the state the events set (declared for type checkers only: the library reads annotations)
        customer_ref: str
        party_type: str
        status: str
        status_reason: str
        personal: dict[str, str]
        preferences: dict[str, str]
        related_parties: list[dict[str, str]]
        erased: bool

    class Registered(LedgerAggregate.Created):
        customer_ref: str
        party_type: str
        status: str
        personal: dict[str, str]
        preferences: dict[str, str]
        related_parties: list[dict[str, str]]

        def apply(self, c: Customer) -> None:
            c.customer_ref = self.customer_ref
            c.party_type = self.party_type
            c.status = self.status
            c.status_reason = ""
            c.personal = dict(self.personal)
            c.preferences = dict(self.preferences)
            c.related_parties = list(self.related_parties)
            c.erased = False

    @classmethod
    def register(cls, now: datetime, *, id: UUID, customer_ref: str, party_type: str, status: str,  # noqa: A002
                 personal: dict[str, str], preferences: dict[str, str],
                 related_parties: list[dict[str, str]]) -> Customer:
        if party_type not in PARTY_TYPES:
            raise RuleViolation(f"party type must be one of {', '.join(PARTY_TYPES)}", customer=customer_ref)
        if status not in (INITIALIZED, APPROVED):
            raise RuleViolation("a new customer is initialized or approved", customer=customer_ref)
        _check_personal(personal, customer_ref)
        return cls._create(cls.Registered, id=id, timestamp=now, customer_ref=customer_ref, party_type=party_type,
                           status=status, personal=personal, preferences=preferences,
                           related_parties=related_parties)

    class Updated(LedgerAggregate.Event):
        personal: dict[str, str]
        preferences: dict[str, str]
        related_parties: list[dict[str, str]] | None

        def apply(self, c: Customer) -> None:
            c.personal.update(self.personal)
            c.preferences.update(self.preferences)
            if self.related_parties is not None:
                c.related_parties = list(self.related_parties)

    def update(self, now: datetime, *, personal: dict[str, str], preferences: dict[str, str],
               related_parties: list[dict[str, str]] | None) -> bool:
        """Merge the given fields in (the others stay); False when nothing would change."""
        self._require_open("update")
        _check_personal(personal, self.customer_ref)
        changed_personal = {k: v for k, v in personal.items() if self.personal.get(k) != v}
        changed_prefs = {k: v for k, v in preferences.items() if self.preferences.get(k) != v}
        parties = None if related_parties is None or related_parties == self.related_parties else related_parties
        if not (changed_personal or changed_prefs or parties is not None):
            return False
        self._record(self.Updated, now, personal=changed_personal, preferences=changed_prefs, related_parties=parties)
        return True

    class StatusChanged(LedgerAggregate.Event):
        status: str
        reason: str

        def apply(self, c: Customer) -> None:
            c.status = self.status
            c.status_reason = self.reason

    def change_status(self, now: datetime, status: str, reason: str) -> bool:
        if status not in STATUSES:
            raise RuleViolation(f"customer status must be one of {', '.join(STATUSES)}", customer=self.customer_ref)
        if status == self.status:
            return False
        self._require_open("change the status of")
        self._record(self.StatusChanged, now, status=status, reason=reason)
        return True

    class Erased(LedgerAggregate.Event):
        reason: str

        def apply(self, c: Customer) -> None:
            c.personal = {}
            c.erased = True

    def erase(self, now: datetime, reason: str) -> bool:
        """Forget the personal data (the caller destroys the key); a closed customer only. False when already erased."""
        if self.erased:
            return False
        if self.status != CLOSED:
            raise RuleViolation(f"customer {self.customer_ref} must be closed before its personal data is erased",
                                customer=self.customer_ref)
        self._record(self.Erased, now, reason=reason)
        return True

    def _require_open(self, what: str) -> None:
        if self.status == CLOSED:
            raise RuleViolation(f"customer {self.customer_ref} is closed: cannot {what} it", customer=self.customer_ref)


def _check_personal(personal: dict[str, str], customer_ref: str) -> None:
    unknown = sorted(set(personal) - set(PERSONAL_FIELDS))
    if unknown:
        raise RuleViolation(f"unknown personal fields {unknown}", customer=customer_ref)
