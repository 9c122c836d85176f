"""Who may do what: THE table every route is checked against (and the authorisation matrix test reads).

Each route is named by its operation (`resource.action`); a role absent from an operation's set gets 403.
Customers see only their own accounts and what hangs off them (bills, payments, products, payment methods) and
the customer those accounts belong to: another account's resources answer 404, so their existence is not leaked.
"""

from __future__ import annotations

from ledger.commands.api_keys import ADMIN, AUDITOR, BILLING_OPS, CUSTOMER, RATING, REPORTING, ROLES

READERS = frozenset({BILLING_OPS, AUDITOR, REPORTING})


def _roles(*roles: str) -> frozenset[str]:
    return frozenset(roles)


PERMISSIONS: dict[str, frozenset[str]] = {
    # TMF666 Account Management
    "billingAccount.create": _roles(BILLING_OPS),
    "billingAccount.list": READERS | {CUSTOMER},
    "billingAccount.get": READERS | {CUSTOMER},
    "billingAccount.patch": _roles(BILLING_OPS),
    "billingAccount.delete": _roles(BILLING_OPS),  # answers 405: accounts are closed, never deleted
    "billingCycleSpecification.create": _roles(BILLING_OPS),
    "billingCycleSpecification.list": READERS,
    "billingCycleSpecification.get": READERS,
    # TMF678 Customer Bill Management
    "customerBill.list": READERS | {CUSTOMER},
    "customerBill.get": READERS | {CUSTOMER},
    "customerBill.patch": _roles(BILLING_OPS),
    "appliedCustomerBillingRate.create": _roles(RATING),
    "appliedCustomerBillingRate.createBatch": _roles(RATING),
    "appliedCustomerBillingRate.list": READERS,
    "appliedCustomerBillingRate.get": READERS,
    "customerBillOnDemand.create": _roles(BILLING_OPS),
    "customerBillOnDemand.get": READERS,
    "billCycle.create": _roles(BILLING_OPS),
    "billCycle.list": READERS,
    "billCycle.get": READERS,
    # TMF676 Payment Management
    "payment.create": _roles(BILLING_OPS),
    "payment.list": READERS | {CUSTOMER},
    "payment.get": READERS | {CUSTOMER},
    "payment.reverse": _roles(BILLING_OPS),
    "refund.create": _roles(BILLING_OPS),
    "refund.list": READERS,
    "refund.get": READERS,
    # TMF629 Customer Management (master data: billing-ops changes it; a customer sees itself)
    "customer.create": _roles(BILLING_OPS),
    "customer.list": READERS | {CUSTOMER},
    "customer.get": READERS | {CUSTOMER},
    "customer.patch": _roles(BILLING_OPS),
    "customer.delete": _roles(BILLING_OPS),
    # TMF620 Product Catalog Management (the catalogue is not personal: every reader, a customer too)
    "productOffering.create": _roles(BILLING_OPS),
    "productOffering.list": READERS | {CUSTOMER},
    "productOffering.get": READERS | {CUSTOMER},
    "productOffering.patch": _roles(BILLING_OPS),
    "productOfferingPrice.create": _roles(BILLING_OPS),
    "productOfferingPrice.list": READERS | {CUSTOMER},
    "productOfferingPrice.get": READERS | {CUSTOMER},
    "productOfferingPrice.patch": _roles(BILLING_OPS),
    # TMF637 Product Inventory (subscriptions)
    "product.create": _roles(BILLING_OPS),
    "product.list": READERS | {CUSTOMER},
    "product.get": READERS | {CUSTOMER},
    "product.patch": _roles(BILLING_OPS),
    # TMF670 Payment Methods
    "paymentMethod.create": _roles(BILLING_OPS),
    "paymentMethod.list": READERS | {CUSTOMER},
    "paymentMethod.get": READERS | {CUSTOMER},
    "paymentMethod.patch": _roles(BILLING_OPS),
    "paymentMethod.delete": _roles(BILLING_OPS),
    # customer groups (an extension beside TMF629)
    "customerGroup.create": _roles(BILLING_OPS),
    "customerGroup.list": READERS,
    "customerGroup.get": READERS,
    "customerGroup.patch": _roles(BILLING_OPS),
    "customerGroup.delete": _roles(BILLING_OPS),
    "customerGroup.assign": _roles(BILLING_OPS),
    "customerGroup.remove": _roles(BILLING_OPS),
    "customerGroup.totals": READERS,
    # notifications (TMF hub), one per API
    "hub.create": _roles(ADMIN),
    "hub.get": _roles(ADMIN),
    "hub.delete": _roles(ADMIN),
    # audit and reporting (/ledger/v1)
    "history.get": _roles(AUDITOR),
    "explain.get": _roles(AUDITOR),
    "verify.run": _roles(ADMIN),
    "apiKey.create": _roles(ADMIN),
    "apiKey.list": _roles(ADMIN),
    "apiKey.delete": _roles(ADMIN),
}

PUBLIC = frozenset({"health", "openapi"})
"""Routes that need no credential."""

assert all(roles <= set(ROLES) for roles in PERMISSIONS.values())


def allowed(operation: str, role: str) -> bool:
    return role in PERMISSIONS[operation]
