"""Commands: pydantic-validated inputs (here), their handlers (`handlers.HANDLERS`) and typed results (`results`)."""

from ledger.commands.accounts import (
    ChangeAccountTerms,
    DefineCycleSpecification,
    OpenBillingAccount,
    PaymentMethodRef,
    ResumeAccount,
    SuspendAccount,
)
from ledger.commands.bills import ChangeBillState, CloseAccount, IssueOffCycleBill
from ledger.commands.catalogue import AddOfferingPrice, ChangeOfferingLifecycle, CreateProductOffering
from ledger.commands.charges import AdjustCharge, AppliedTax, PostCharge, PostCharges
from ledger.commands.customer_links import LinkAccountsToCustomers, LinkAccountToCustomer
from ledger.commands.customers import CloseCustomer, CreateCustomer, EraseCustomer, UpdateCustomer
from ledger.commands.cycles import TriggerBillingCycle
from ledger.commands.groups import AssignMember, CreateGroup, DeleteGroup, RemoveMember, UpdateGroup
from ledger.commands.onboarding import CreateCustomers, CreateSubscriptions, OpenBillingAccounts
from ledger.commands.payment_methods import AddPaymentMethod, DisablePaymentMethod
from ledger.commands.payments import Allocation, RecordPayment, RefundCredit, ReversePayment
from ledger.commands.subscriptions import (
    ChangeSubscription,
    CreateSubscription,
    ResumeSubscription,
    SuspendSubscription,
    TerminateSubscription,
)

__all__ = [
    "AdjustCharge", "Allocation", "AppliedTax", "ChangeAccountTerms", "ChangeBillState", "CloseAccount", "CloseCustomer",
    "CreateCustomer", "CreateCustomers", "CreateSubscriptions", "OpenBillingAccounts",
    "DefineCycleSpecification", "EraseCustomer", "UpdateCustomer", "AddOfferingPrice", "CreateProductOffering",
    "ChangeOfferingLifecycle",
    "AddPaymentMethod", "DisablePaymentMethod", "ChangeSubscription", "CreateSubscription", "ResumeSubscription",
    "SuspendSubscription", "TerminateSubscription",
    "IssueOffCycleBill", "OpenBillingAccount", "PaymentMethodRef", "PostCharge", "PostCharges", "RecordPayment",
    "RefundCredit", "ResumeAccount", "ReversePayment", "SuspendAccount", "TriggerBillingCycle",
    "AssignMember", "CreateGroup", "DeleteGroup", "RemoveMember", "UpdateGroup",
    "LinkAccountToCustomer", "LinkAccountsToCustomers",
]
