"""The TM Forum API's public paths: where each resource lives (its `href`), for the API and its notifications."""

from __future__ import annotations

from urllib.parse import quote

ACCOUNT_API = "/tmf-api/accountManagement/v4"
BILL_API = "/tmf-api/customerBillManagement/v4"
PAYMENT_API = "/tmf-api/paymentManagement/v4"
CUSTOMER_API = "/tmf-api/customerManagement/v4"
CATALOG_API = "/tmf-api/productCatalogManagement/v4"
INVENTORY_API = "/tmf-api/productInventory/v4"
PAYMENT_METHOD_API = "/tmf-api/paymentMethods/v4"
LEDGER_API = "/ledger/v1"

RESOURCES = {
    "BillingAccount": f"{ACCOUNT_API}/billingAccount",
    "BillingCycleSpecification": f"{ACCOUNT_API}/billingCycleSpecification",
    "CustomerBill": f"{BILL_API}/customerBill",
    "AppliedCustomerBillingRate": f"{BILL_API}/appliedCustomerBillingRate",
    "CustomerBillOnDemand": f"{BILL_API}/customerBillOnDemand",
    "BillCycle": f"{BILL_API}/billCycle",
    "Payment": f"{PAYMENT_API}/payment",
    "Refund": f"{PAYMENT_API}/refund",
    "Customer": f"{CUSTOMER_API}/customer",
    "ProductOffering": f"{CATALOG_API}/productOffering",
    "ProductOfferingPrice": f"{CATALOG_API}/productOfferingPrice",
    "Product": f"{INVENTORY_API}/product",
    "PaymentMethod": f"{PAYMENT_METHOD_API}/paymentMethod",
}


def href(resource: str, resource_id: str) -> str:
    return f"{RESOURCES[resource]}/{quote(resource_id, safe='')}"


def part_id(account_ref: str, own_id: str) -> str:
    """The id of a resource that lives on an account under its own id (a charge, a refund, an on-demand bill
    request): `<account>:<own id>`, each part percent-encoded where it holds ':' or '%'."""
    return f"{_escape(account_ref)}:{_escape(own_id)}"


def split_part_id(resource_id: str) -> tuple[str, str] | None:
    """(account, own id) of a `part_id`, or None when it is not one."""
    account, sep, own = resource_id.partition(":")
    if not sep or not account or not own:
        return None
    from urllib.parse import unquote

    return unquote(account), unquote(own)


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace(":", "%3A")
