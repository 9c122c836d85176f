"""The explicit handler table: which function handles which command (the service looks commands up here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ledger.commands import (
    accounts,
    bills,
    catalogue,
    charges,
    customer_links,
    customers,
    cycles,
    groups,
    onboarding,
    payment_methods,
    payments,
    subscriptions,
)
from ledger.commands.base import Command
from ledger.commands.results import Result
from ledger.ports import HandlerContext

Handler = Callable[[HandlerContext, Any], Result]

HANDLERS: Mapping[type[Command], Handler] = {
    accounts.DefineCycleSpecification: accounts.define_cycle_specification,
    accounts.OpenBillingAccount: accounts.open_account,
    accounts.SuspendAccount: accounts.suspend_account,
    accounts.ResumeAccount: accounts.resume_account,
    accounts.ChangeAccountTerms: accounts.change_account_terms,
    customer_links.LinkAccountToCustomer: customer_links.link_account,
    customer_links.LinkAccountsToCustomers: customer_links.link_accounts,
    bills.CloseAccount: bills.close_account,
    bills.IssueOffCycleBill: bills.issue_off_cycle_bill,
    bills.ChangeBillState: bills.change_bill_state,
    charges.PostCharge: charges.post_charge,
    charges.PostCharges: charges.post_charges,
    charges.AdjustCharge: charges.adjust_charge,
    cycles.TriggerBillingCycle: cycles.trigger_billing_cycle,
    payments.RecordPayment: payments.record_payment,
    payments.ReversePayment: payments.reverse_payment,
    payments.RefundCredit: payments.refund_credit,
    customers.CreateCustomer: customers.create_customer,
    customers.UpdateCustomer: customers.update_customer,
    customers.CloseCustomer: customers.close_customer,
    customers.EraseCustomer: customers.erase_customer,
    catalogue.CreateProductOffering: catalogue.create_offering,
    catalogue.AddOfferingPrice: catalogue.add_offering_price,
    catalogue.ChangeOfferingLifecycle: catalogue.change_offering_lifecycle,
    subscriptions.CreateSubscription: subscriptions.create_subscription,
    subscriptions.ChangeSubscription: subscriptions.change_subscription,
    subscriptions.SuspendSubscription: subscriptions.suspend_subscription,
    subscriptions.ResumeSubscription: subscriptions.resume_subscription,
    subscriptions.TerminateSubscription: subscriptions.terminate_subscription,
    payment_methods.AddPaymentMethod: payment_methods.add_payment_method,
    payment_methods.DisablePaymentMethod: payment_methods.disable_payment_method,
    onboarding.CreateCustomers: onboarding.create_customers,
    onboarding.OpenBillingAccounts: onboarding.open_accounts,
    onboarding.CreateSubscriptions: onboarding.create_subscriptions,
    groups.CreateGroup: groups.create_group,
    groups.UpdateGroup: groups.update_group,
    groups.DeleteGroup: groups.delete_group,
    groups.AssignMember: groups.assign_member,
    groups.RemoveMember: groups.remove_member,
}


def handler_for(command: Command) -> Handler:
    try:
        return HANDLERS[type(command)]
    except KeyError:
        raise TypeError(f"no handler for {type(command).__name__}") from None
