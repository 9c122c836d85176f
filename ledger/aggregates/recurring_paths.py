"""Where the cycle run's recurring-charge step takes shortcuts (the rule is `proration`; the step
`commands/recurring.py`): each gives what the plain path gives, and a test pins it
(tests/unit/test_recurring_paths.py).

- `RunWorths`: what a subscription's recurring prices are worth (`proration.worths`) computed once per run for each
  distinct timeline (`proration.timeline_key`: start, end, phases, settled-until), where `proration.postings`
  computes it for every subscription. It skips, for a subscription whose timeline an earlier one of the run had:
  the price periods' walk, the segments of its phases, the price version look-up, the proration and the tax of
  each period (most subscriptions of a run are alike: same plan, same start). What each subscription charged
  (`charged`), and so its postings, charge ids and corrections, is still its own (`proration.postings_from`).
  Valid for one run only: the offerings it is given are not reloaded while it lives. Pinned by
  test_run_worths_give_the_postings_postings_gives.
- `post_recurring`: puts a subscription's postings on the account, with what is the same for every subscription
  sharing a line's worth made once per worth (the description, the period's ISO days, the line record's strings)
  instead of per posting. New charges go through `BillingAccount.apply_plan_charge`: apply_charge's fingerprint,
  idempotency, opening and amount rules and its event, without the TaxLine values and the checks the step's terms
  make moot (currency: the account's own; type: a charge; tax-included: tax-excluded + the one tax line; not
  prepaid, active: the step charges only those); corrections through `adjust_charge` itself.
  Pinned by test_post_recurring_gives_the_events_of_the_plain_post. Given `pending` (the step gives one per
  account), the new charges of all of an account's subscriptions are recorded as one `PlanChargesApplied` event
  (`BillingAccount.record_plan_charges`) instead of one ChargeApplied each: the same charges, fields and state, in
  the same order (what is pending is recorded before any other event of the account). It skips the events, not a
  rule. Pinned by test_pending_plan_charges_give_the_state_and_charges_of_one_event_each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.aggregates.billing_account import BillingAccount, PlanCharges
from ledger.aggregates.billing_calendar import CycleDates, CycleSpecification, start_of_day
from ledger.aggregates.entries import TaxLine
from ledger.aggregates.product_offering import ProductOffering
from ledger.aggregates.proration import Posting, Window, Worth, postings_from, timeline_key, worths
from ledger.aggregates.subscription import Subscription


class RunWorths:
    """`proration.postings` for the subscriptions of one run, each distinct timeline's worth computed once."""

    def __init__(self, offerings: dict[str, ProductOffering], spec: CycleSpecification, billing: CycleDates,
                 following: CycleDates) -> None:
        self.offerings = offerings  # the run's offerings by reference (filled by the step before it asks)
        self.spec, self.billing, self.following = spec, billing, following
        self._windows: dict[tuple[Any, ...], Window | None] = {}
        self.pieces: Pieces = {}  # what post_recurring makes once per worth

    def postings(self, sub: Subscription) -> list[Posting]:
        """What `proration.postings(sub, offerings, spec, billing, following)` gives."""
        key = timeline_key(sub)
        try:
            window = self._windows[key]
        except KeyError:
            window = self._windows[key] = worths(sub, self.offerings, self.spec, self.billing, self.following)
        if window is None:
            return []
        return postings_from(sub, self.offerings, self.billing, self.following, window)


class _Pieces:
    """What a worth's postings share: description, ISO period days, tax line presence, the strings of the line
    record (the same for every posting of it)."""

    __slots__ = ("worth", "description", "period_start", "period_end", "taxed", "excluded", "tax", "version", "days",
                 "category", "rate")

    def __init__(self, worth: Worth) -> None:
        self.worth = worth  # kept: the pieces are found by the worth's id, never reused while it lives
        self.description = worth.description()
        self.period_start, self.period_end = worth.period_start.isoformat(), worth.period_end.isoformat()
        self.taxed = bool(worth.tax_category and worth.tax_rate is not None)
        self.excluded, self.tax = str(worth.tax_excluded), str(worth.tax_amount)
        self.version, self.days = str(worth.version), str(worth.days)
        self.category, self.rate = worth.tax_category or "", "" if worth.tax_rate is None else str(worth.tax_rate)

    def line(self, posting: Posting) -> dict[str, str]:
        """posting.line()."""
        return {"key": self.worth.key, "charge_id": posting.charge_id, "entry_id": posting.entry_id,
                "tax_excluded": self.excluded, "tax_amount": self.tax, "corrections": str(posting.correction),
                "period_start": self.period_start, "period_end": self.period_end, "version": self.version,
                "days": self.days, "tax_category": self.category, "tax_rate": self.rate}


Pieces = dict[int, _Pieces]
"""A run's pieces by the id of their worth (`RunWorths.pieces`)."""


def _pieces(found: Pieces, worth: Worth) -> _Pieces:
    pieces = found.get(id(worth))
    if pieces is None or pieces.worth is not worth:
        if len(found) > 4096:  # worths made afresh for each subscription (lines worth nothing now, one-time prices)
            found.clear()
        pieces = found[id(worth)] = _Pieces(worth)
    return pieces


def post_recurring(now: datetime, account: BillingAccount, sub: Subscription, postings: list[Posting],
                   found: Pieces, pending: PlanCharges | None = None) -> list[dict[str, str]]:
    """Put each posting on the account (a charge, or a correction pointing at it); the subscription's line records.
    `found`: the run's pieces (`RunWorths.pieces`), filled as worths come. `pending`: new charges are left in it
    (`BillingAccount.apply_plan_charge`) for the caller to record together (`record_plan_charges`); what is pending
    is recorded before a correction, so the account's events keep the postings' order."""
    lines = []
    zone, opened = account.time_zone, account.created_on
    for posting in postings:
        worth = posting.worth
        pieces = _pieces(found, worth)
        # no earlier than the account's opening: the period it opened in starts at a local midnight it did not exist at
        effective = max(start_of_day(posting.effective_day, zone), opened)
        if posting.correction == 0:
            line = ({"category": worth.tax_category, "rate": pieces.rate, "amount": str(posting.tax_amount)}
                    if pieces.taxed else None)
            account.apply_plan_charge(now, charge_id=posting.charge_id, tax_excluded=posting.tax_excluded,
                                      tax_line=line, tax_amount=posting.tax_amount,  # type: ignore[arg-type]
                                      effective_at=effective, product_ref=sub.subscription_ref,
                                      period_start=pieces.period_start, period_end=pieces.period_end,
                                      description=pieces.description, pending=pending)
        else:
            if pending:
                account.record_plan_charges(now, pending)
            taxes = [TaxLine(worth.tax_category, worth.tax_rate, posting.tax_amount)] if pieces.taxed else []  # type: ignore[arg-type]
            included = posting.tax_excluded + posting.tax_amount
            account.adjust_charge(now, adjustment_id=posting.entry_id, charge_id=posting.charge_id,
                                  tax_excluded=posting.tax_excluded, taxes=taxes, tax_included=included,
                                  effective_at=effective, reason=describe(pieces.description, included))
        lines.append(pieces.line(posting))
    return lines


def describe(text: str, change: Any) -> str:
    """A posting's description: a correction says whether it credits unused days or adds prorated ones."""
    if not change:
        return text
    return ("credit for unused days: " if change < 0 else "proration: ") + text
