"""The cycle run's recurring-charge step: before an account's bill is composed, its subscriptions' recurring and
one-time charges for the run are posted on it (the rule is `aggregates/proration.py`), in the same batch
transaction as the bill and the subscriptions' record of what they charged.

Charge ids are deterministic (`rc:<subscription>:<period start>|<offering>/<price>`, corrections `...:c<n>`, one-time
`ot:<subscription>:<offering>/<price>`), and a subscription keeps what it charged, so a re-run or a resumed run
never charges twice. A batch's subscriptions are read together (one `load_many` per batch); which subscriptions an
account has is read once per run from the subscriptions' creation events.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from ledger.aggregates import ids
from ledger.aggregates.billing_account import ACTIVE, BillingAccount
from ledger.aggregates.billing_calendar import CycleDates, CycleSpecification, next_occurrence, start_of_day
from ledger.aggregates.entries import CHARGE, TaxLine
from ledger.aggregates.product_offering import ProductOffering
from ledger.aggregates.proration import Posting, postings
from ledger.aggregates.subscription import Subscription
from ledger.errors import OfferingNotFound
from ledger.ports import AggregateStore

_CREATED_TOPIC = get_topic(Subscription.Subscribed)


def subscriptions_by_account(store: AggregateStore) -> dict[UUID, list[UUID]]:
    """Every subscription's id by its billing account, in creation order (read from the notification log)."""
    found: dict[UUID, list[UUID]] = {}
    for event in store.created([_CREATED_TOPIC]):
        found.setdefault(event.account_id, []).append(event.originator_id)
    return found


class RecurringCharges:
    """Posts the recurring charges of one cycle run, a batch of accounts at a time."""

    def __init__(self, store: AggregateStore, spec: CycleSpecification, dates: CycleDates,
                 by_account: dict[UUID, list[UUID]]) -> None:
        self.store = store
        self.spec = spec
        self.dates = dates
        self.following = next_occurrence(spec, dates)
        self.by_account = by_account
        self.offerings: dict[str, ProductOffering] = {}
        self.batch: dict[UUID, Subscription | None] = {}

    @classmethod
    def for_run(cls, store: AggregateStore, spec: CycleSpecification, dates: CycleDates) -> RecurringCharges | None:
        """The step for a run, or None when no account has a subscription."""
        by_account = subscriptions_by_account(store)
        return cls(store, spec, dates, by_account) if by_account else None

    def prepare(self, account_ids: list[UUID]) -> None:
        """Read the batch's subscriptions in one go."""
        wanted = [s for a in account_ids for s in self.by_account.get(a, ())]
        self.batch = dict(self.store.load_many(Subscription, wanted)) if wanted else {}

    def charge(self, now: dt.datetime, account: BillingAccount) -> list[Subscription]:
        """Post what the account's subscriptions owe for the run; returns the subscriptions that recorded it.
        Prepaid accounts and accounts not active get nothing (a suspended account catches up once resumed)."""
        if account.is_prepaid or account.status != ACTIVE:
            return []
        changed = []
        for sub_id in self.by_account.get(account.id, ()):
            sub = self.batch.get(sub_id) or self.store.find(Subscription, sub_id)
            if sub is None:
                continue
            done = [_post(now, account, sub, p) for p in postings(sub, self._offerings(sub), self.spec, self.dates,
                                                                  self.following)]
            before = sub.version
            sub.record_charges(now, self.dates.period_end, done)
            if sub.version != before:
                changed.append(sub)
        return changed

    def _offerings(self, sub: Subscription) -> dict[str, ProductOffering]:
        for ref in sub.offerings():
            if ref not in self.offerings:
                self.offerings[ref] = self.store.load(ProductOffering, ids.offering_id(ref), OfferingNotFound,
                                                      f"product offering {ref!r}")
        return self.offerings


def _post(now: dt.datetime, account: BillingAccount, sub: Subscription, posting: Posting) -> dict[str, str]:
    """Put one posting on the account (a charge, or a correction pointing at it); the subscription's line record."""
    worth = posting.worth
    taxed = worth.tax_category and worth.tax_rate is not None
    taxes = [TaxLine(worth.tax_category, worth.tax_rate, posting.tax_amount)] if taxed else []  # type: ignore[arg-type]
    # no earlier than the account's opening: the period it opened in starts at a local midnight it did not exist at
    effective = max(start_of_day(posting.effective_day, account.time_zone), account.created_on)
    included = posting.tax_excluded + posting.tax_amount
    if posting.correction == 0:
        account.apply_charge(now, charge_id=posting.charge_id, charge_type=CHARGE, currency_code=account.currency,
                             tax_excluded=posting.tax_excluded, taxes=taxes, tax_included=included,
                             effective_at=effective, product_ref=sub.subscription_ref,
                             period_start=worth.period_start.isoformat(), period_end=worth.period_end.isoformat(),
                             description=_describe(worth.description(), 0))
    else:
        account.adjust_charge(now, adjustment_id=posting.entry_id, charge_id=posting.charge_id,
                              tax_excluded=posting.tax_excluded, taxes=taxes, tax_included=included,
                              effective_at=effective, reason=_describe(worth.description(), included))
    return posting.line()


def _describe(text: str, change: Any) -> str:
    if not change:
        return text
    return ("credit for unused days: " if change < 0 else "proration: ") + text


class RecurringStep:
    """A cycle run's per-account step with the recurring charges first: `prepare` reads a batch's subscriptions,
    `changed` hands the engine the other aggregates the batch changed (subscriptions; an account charged but not
    billed), to save with it."""

    def __init__(self, recurring: RecurringCharges, bill: Any) -> None:
        self.recurring = recurring
        self.bill = bill
        self._changed: list[Any] = []

    def prepare(self, account_ids: list[UUID]) -> None:
        self._changed = []
        self.recurring.prepare(account_ids)

    def __call__(self, now: dt.datetime, account: BillingAccount) -> Any:
        before = account.version
        self._changed += self.recurring.charge(now, account)
        bill = self.bill(now, account)
        if bill is None and account.version != before:
            self._changed.append(account)
        return bill

    def changed(self) -> list[Any]:
        done, self._changed = self._changed, []
        return done
