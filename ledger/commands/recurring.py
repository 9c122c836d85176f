"""The cycle run's recurring-charge step: before an account's bill is composed, its subscriptions' recurring and
one-time charges for the run are posted on it (the rule is `aggregates/proration.py`), in the same batch
transaction as the bill and the subscriptions' record of what they charged.

Charge ids are deterministic (`rc:<subscription>:<period start>|<offering>/<price>`, corrections `...:c<n>`, one-time
`ot:<subscription>:<offering>/<price>`), and a subscription keeps what it charged, so a re-run or a resumed run
never charges twice. A batch's subscriptions are read ahead with its accounts (the engine reads the ids `reads`
names in the same two queries, in the background while the batch before is billed) and built once; which
subscriptions an account has is read once per run from the subscriptions' creation events.

Group discounts (`aggregates/group_discount.py`): after a subscription's lines are posted, each recurring line of
the run's window (every line the run charged or settled) gets its customer's group discount as an explicit credit
`gd:<charge id>` (corrections `gd:<charge id>:c<n>`), effective with the charge so the same bill shows both; the
subscription records what each line was credited (`Discounted`), so a re-run never credits twice. The groups are
read once per run.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from ledger.aggregates import ids
from ledger.aggregates.billing_account import ACTIVE, BillingAccount, PlanCharges
from ledger.aggregates.billing_calendar import CycleDates, CycleSpecification, next_occurrence, start_of_day
from ledger.aggregates.customer_group import CustomerGroup
from ledger.aggregates.entries import CHARGE, CREDIT, TaxLine
from ledger.aggregates.group_discount import GroupRules, line_discount
from ledger.aggregates.product_offering import ProductOffering
from ledger.aggregates.proration import ZERO, Posting
from ledger.aggregates.recurring_paths import RunWorths, describe, post_recurring
from ledger.aggregates.subscription import Subscription
from ledger.errors import OfferingNotFound
from ledger.ports import AggregateStore

_CREATED_TOPIC = get_topic(Subscription.Subscribed)
_GROUP_TOPIC = get_topic(CustomerGroup.Formed)


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
        self.groups = group_rules(store)
        self.worths = RunWorths(self.offerings, spec, dates, self.following)

    @classmethod
    def for_run(cls, store: AggregateStore, spec: CycleSpecification, dates: CycleDates) -> RecurringCharges | None:
        """The step for a run, or None when no account has a subscription."""
        by_account = subscriptions_by_account(store)
        return cls(store, spec, dates, by_account) if by_account else None

    def reads(self, account_ids: list[UUID]) -> list[UUID]:
        """The subscriptions of the accounts, which the engine reads ahead with them."""
        by_account = self.by_account
        return [s for a in account_ids for s in by_account.get(a, ())]

    def prepare(self, account_ids: list[UUID], ahead: Any = None) -> None:
        """Load the batch's subscriptions in one go: from the rows read ahead with the accounts (`ahead`), or by one
        read now."""
        wanted = self.reads(account_ids)
        self.batch = dict(self.store.load_many(Subscription, wanted, ahead)) if wanted else {}

    def charge(self, now: dt.datetime, account: BillingAccount) -> list[Subscription]:
        """Post what the account's subscriptions owe for the run; returns the subscriptions that recorded it.
        Prepaid accounts and accounts not active get nothing (a suspended account catches up once resumed)."""
        if account.is_prepaid or account.status != ACTIVE:
            return []
        changed = []
        pending: PlanCharges = {}  # the account's new charges, recorded as one event (`post_recurring`)
        for sub_id in self.by_account.get(account.id, ()):
            sub = self.batch.get(sub_id) or self.store.find(Subscription, sub_id)
            if sub is None:
                continue
            self._offerings(sub)
            done = post_recurring(now, account, sub, self.worths.postings(sub), self.worths.pieces, pending)
            before, settled = sub.version, sub.reconciled_until
            sub.record_charges(now, self.dates.period_end, done)
            if self.groups is not None or sub.discounted:
                account.record_plan_charges(now, pending)  # before the credits: the account's events in order
                self._discount(now, account, sub, settled)
            if sub.version != before:
                changed.append(sub)
        account.record_plan_charges(now, pending)
        return changed

    def _discount(self, now: dt.datetime, account: BillingAccount, sub: Subscription, settled: str | None) -> None:
        """Credit (or correct the credit of) each recurring line of the run's window for the customer's group days."""
        rules = self.groups or GroupRules(())
        if not rules.has(account.customer_id) and not sub.discounted:
            return
        after = settled or (sub.start - dt.timedelta(days=1)).isoformat()
        cutoff = min(self.dates.charge_date, self.dates.credit_date)
        lines = []
        for key, record in sub.charged.items():
            if key.startswith("once|") or record["period_end"] <= after:
                continue  # one-time prices are not recurring charges; lines settled before this run stay as they are
            found = line_discount(sub, record, key.split("|", 1)[1].split("/", 1)[0], rules, account.customer_id)
            line = _credit(now, account, sub, key, record, found, cutoff)
            if line is not None:
                lines.append(line)
        sub.record_discounts(now, lines)

    def _offerings(self, sub: Subscription) -> dict[str, ProductOffering]:
        for ref in sub.offerings():
            if ref not in self.offerings:
                self.offerings[ref] = self.store.load(ProductOffering, ids.offering_id(ref), OfferingNotFound,
                                                      f"product offering {ref!r}")
        return self.offerings


def post_one(now: dt.datetime, account: BillingAccount, sub: Subscription, posting: Posting) -> dict[str, str]:
    """Put one posting on the account (a charge, or a correction pointing at it); the subscription's line record.
    The plain path, one posting at a time, that `recurring_paths.post_recurring` (what the step uses) is pinned to."""
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
                             description=describe(worth.description(), 0))
    else:
        account.adjust_charge(now, adjustment_id=posting.entry_id, charge_id=posting.charge_id,
                              tax_excluded=posting.tax_excluded, taxes=taxes, tax_included=included,
                              effective_at=effective, reason=describe(worth.description(), included))
    return posting.line()


def group_rules(store: AggregateStore) -> GroupRules | None:
    """Every customer group's memberships (deleted groups' past ones too), or None when there is no group."""
    group_ids = [event.originator_id for event in store.created([_GROUP_TOPIC])]
    if not group_ids:
        return None
    return GroupRules(g for g in store.load_many(CustomerGroup, group_ids).values() if g is not None)


def _credit(now: dt.datetime, account: BillingAccount, sub: Subscription, key: str, record: dict[str, str],
            found: Any, cutoff: dt.date) -> dict[str, str] | None:
    """Post what changed of a line's group discount: the credit `gd:<charge id>`, or a correction of it; the
    subscription's record of the line after it, or None when nothing changed."""
    charge_id, before = record["charge_id"], sub.discounted.get(key)
    credit_id = f"gd:{charge_id}"
    old_excluded = Decimal(before["tax_excluded"]) if before else ZERO
    old_tax = Decimal(before["tax_amount"]) if before else ZERO
    if (found.tax_excluded, found.tax_amount) == (old_excluded, old_tax):
        return None
    category, rate = record.get("tax_category") or None, Decimal(record["tax_rate"]) if record.get("tax_rate") else None
    effective_day = min(dt.date.fromisoformat(record["period_start"]), cutoff)
    effective = max(start_of_day(effective_day, account.time_zone), account.created_on)
    description = found.description(charge_id)
    corrections = int(before["corrections"]) + 1 if before else 0
    if before is None or (not old_excluded and not old_tax):  # a new credit (again, after one taken back to zero)
        entry_id = credit_id if before is None else f"{credit_id}:c{corrections}"
        taxes = [TaxLine(category, rate, found.tax_amount)] if category and rate is not None else []
        account.apply_charge(now, charge_id=entry_id, charge_type=CREDIT, currency_code=account.currency,
                             tax_excluded=found.tax_excluded, taxes=taxes,
                             tax_included=found.tax_excluded + found.tax_amount, effective_at=effective,
                             product_ref=sub.subscription_ref, period_start=record["period_start"],
                             period_end=record["period_end"], description=description)
        credit_id = entry_id
    else:  # more discount: a further credit (negative); less: the credit taken back in part (positive)
        entry_id = f"{credit_id}:c{corrections}"
        excluded, tax = old_excluded - found.tax_excluded, old_tax - found.tax_amount
        if not excluded + tax:
            return None  # only the split between amount and tax moved, by a rounding: nothing to post
        taxes = [TaxLine(category, rate, tax)] if category and rate is not None else []
        account.adjust_charge(now, adjustment_id=entry_id, charge_id=before["credit_id"], tax_excluded=excluded,
                              taxes=taxes, tax_included=excluded + tax, effective_at=effective,
                              reason="group discount correction: " + description)
        credit_id = before["credit_id"]
    return {"key": key, "credit_id": credit_id, "entry_id": entry_id, "tax_excluded": str(found.tax_excluded),
            "tax_amount": str(found.tax_amount), "corrections": str(corrections)}


class RecurringStep:
    """A cycle run's per-account step with the recurring charges first: `prepare` reads a batch's subscriptions,
    `changed` hands the engine the other aggregates the batch changed (subscriptions; an account charged but not
    billed), to save with it."""

    def __init__(self, recurring: RecurringCharges, bill: Any) -> None:
        self.recurring = recurring
        self.bill = bill
        self._changed: list[Any] = []

    def reads(self, account_ids: list[UUID]) -> list[UUID]:
        return self.recurring.reads(account_ids)

    def prepare(self, account_ids: list[UUID], ahead: Any = None) -> None:
        self._changed = []
        self.recurring.prepare(account_ids, ahead)

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
