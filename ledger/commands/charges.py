"""Commands that post rated charges (AppliedCustomerBillingRate), one or a batch, and adjust them."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Literal
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from pydantic import Field, model_validator

from ledger.aggregates import ids
from ledger.aggregates.billing_account import BillingAccount, ChargeMark
from ledger.aggregates.entries import CHARGE, TaxLine
from ledger.aggregates.money import at_rated_scale
from ledger.commands.base import Amount, Command, Id, Instant, NonNegativeAmount, Text
from ledger.commands.lookups import load_account
from ledger.commands.results import ChargeAdjusted, ChargePosted, ChargeRejection, ChargesPosted
from ledger.commands.time_rules import within_horizon
from ledger.errors import AccountNotFound, LedgerError
from ledger.ports import HandlerContext


class AppliedTax(Command):
    tax_category: Id
    tax_rate: NonNegativeAmount = Field(description="percent, e.g. 20 or 8.875")
    tax_amount: Amount


class PostCharge(Command[ChargePosted]):
    """An applied customer billing rate from a rating system (TMF678 names)."""

    charge_id: Id
    account_id: Id
    type: Literal["appliedBillingCharge", "appliedPenaltyCharge", "appliedBillingCredit"] = CHARGE
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    tax_excluded_amount: NonNegativeAmount
    applied_tax: list[AppliedTax] = []
    tax_included_amount: NonNegativeAmount | None = None
    date: Instant = Field(description="effective date of the charge")
    product_ref: Id | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    description: Text = ""

    @model_validator(mode="after")
    def _consistent(self) -> PostCharge:
        taxes = sum((t.tax_amount for t in self.applied_tax), 0)
        expected = self.tax_excluded_amount + taxes
        if self.tax_included_amount is not None and self.tax_included_amount != expected:
            raise ValueError(
                f"taxIncludedAmount {self.tax_included_amount} != taxExcludedAmount {self.tax_excluded_amount} + taxes {taxes}"
            )
        if self.period_start and self.period_end and self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self

    @classmethod
    def parse(cls, data: dict[str, Any]) -> PostCharge:
        """`Command.parse`, by the lean path for an input of its shape (ledger/commands/lean.py: the same command);
        otherwise pydantic's, with its messages."""
        from ledger.commands.lean import lean_charge_command

        return lean_charge_command(data) or super().parse(data)

    def taxes(self) -> list[TaxLine]:
        return [TaxLine(t.tax_category, t.tax_rate, t.tax_amount) for t in self.applied_tax]

    def apply_to(self, account: Any, now: dt.datetime, horizon: dt.timedelta) -> bool:
        within_horizon(now, self.date, horizon, f"charge {self.charge_id}", charge=self.charge_id)
        return account.apply_charge(
            now, charge_id=self.charge_id, charge_type=self.type, currency_code=self.currency,
            tax_excluded=self.tax_excluded_amount, taxes=self.taxes(),
            tax_included=self.tax_excluded_amount + sum((t.tax_amount for t in self.applied_tax), 0),
            effective_at=self.date, product_ref=self.product_ref,
            period_start=self.period_start.isoformat() if self.period_start else None,
            period_end=self.period_end.isoformat() if self.period_end else None, description=self.description,
        )


def post_charge(ctx: HandlerContext, cmd: PostCharge) -> ChargePosted:
    account = load_account(ctx.store, cmd.account_id)
    applied = cmd.apply_to(account, ctx.now(), ctx.settings.effective_horizon)
    if applied:
        ctx.store.save(account)
    return ChargePosted(account_id=cmd.account_id, charge_id=cmd.charge_id, applied=applied,
                        balance=at_rated_scale(account.balance))


class PostCharges(Command[ChargesPosted]):
    """Many charges at once: each account is loaded once and every touched account is saved in one transaction."""

    charges: list[PostCharge] = Field(min_length=1, max_length=100_000)

    @classmethod
    def parse(cls, data: dict[str, Any]) -> PostCharges:
        """`Command.parse`, each charge validated by the lean path when all of them are of its shape
        (ledger/commands/lean.py: the same commands); otherwise pydantic's, with its messages."""
        from ledger.commands.lean import construct, lean_charge_command

        charges = data.get("charges") if type(data) is dict and data.keys() == {"charges"} else None
        if type(charges) is list and 1 <= len(charges) <= 100_000:
            lean = []
            for item in charges:
                command = lean_charge_command(item)
                if command is None:
                    break
                lean.append(command)
            else:
                return construct(cls, {"charges": lean}, {"charges"})
        return super().parse(data)


def post_charges(ctx: HandlerContext, cmd: PostCharges) -> ChargesPosted:
    """Apply the good charges, report the bad ones (each with its place in the batch); a bad charge changes nothing."""
    by_account: dict[str, list[tuple[int, PostCharge]]] = defaultdict(list)
    for index, charge in enumerate(cmd.charges):
        by_account[charge.account_id].append((index, charge))
    now, horizon = ctx.now(), ctx.settings.effective_horizon
    account_ids = {ref: ids.account_id(ref) for ref in by_account}
    accounts = ctx.store.load_many(BillingAccount, list(account_ids.values()))  # one round trip for the batch
    ctx.store.catch_up(accounts.values())  # while other writers change the same accounts: one more, fewer conflicts
    touched: list[BillingAccount] = []
    marks: dict[UUID, list[ChargeMark]] = defaultdict(list)  # per account, before each charge it applied
    rejected: list[ChargeRejection] = []
    applied = duplicates = 0
    for account_ref, charges in by_account.items():
        account = accounts[account_ids[account_ref]]
        if account is None:
            error = AccountNotFound(f"billing account {account_ref!r} not found", id=account_ids[account_ref])
            rejected += [ChargeRejection(charge_id=c.charge_id, error=error.code, message=error.message, index=n)
                         for n, c in charges]
            continue
        before, account_marks = account.version, marks[account.id]
        for index, charge in charges:
            mark = account.charge_mark(charge.charge_id)
            try:
                if charge.apply_to(account, now, horizon):
                    applied += 1
                    account_marks.append(mark)
                else:
                    duplicates += 1
            except LedgerError as error:
                rejected.append(ChargeRejection(charge_id=charge.charge_id, error=error.code, message=error.message,
                                                index=index))
        if account.version != before:
            touched.append(account)
    if touched:
        try:
            ctx.store.save(*touched)
        except IntegrityError:  # a version conflict: put the accounts back as loaded, for the retry to catch them up
            for account in touched:
                account.undo_charges(marks[account.id])
            ctx.store.restored(touched)
            raise
    rejected.sort(key=lambda r: r.index or 0)
    return ChargesPosted(applied=applied, duplicates=duplicates, rejected=rejected, accounts=len(touched))


class AdjustCharge(Command[ChargeAdjusted]):
    """A correction that points at the charge it corrects (negative lowers what the customer owes)."""

    adjustment_id: Id
    account_id: Id
    charge_id: Id
    tax_excluded_amount: Amount
    applied_tax: list[AppliedTax] = []
    date: Instant
    reason: Text = Field(min_length=1)


def adjust_charge(ctx: HandlerContext, cmd: AdjustCharge) -> ChargeAdjusted:
    account = load_account(ctx.store, cmd.account_id)
    within_horizon(ctx.now(), cmd.date, ctx.settings.effective_horizon, f"adjustment {cmd.adjustment_id}",
                   adjustment=cmd.adjustment_id)
    taxes = [TaxLine(t.tax_category, t.tax_rate, t.tax_amount) for t in cmd.applied_tax]
    applied = account.adjust_charge(
        ctx.now(), adjustment_id=cmd.adjustment_id, charge_id=cmd.charge_id, tax_excluded=cmd.tax_excluded_amount,
        taxes=taxes, tax_included=cmd.tax_excluded_amount + sum((t.amount for t in taxes), 0),
        effective_at=cmd.date, reason=cmd.reason,
    )
    if applied:
        ctx.store.save(account)
    return ChargeAdjusted(account_id=cmd.account_id, adjustment_id=cmd.adjustment_id, applied=applied,
                          balance=at_rated_scale(account.balance))

