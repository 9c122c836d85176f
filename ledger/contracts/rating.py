"""The inbound charge message (TMF678 AppliedCustomerBillingRate) and its mapping onto the PostCharge command."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ledger.aggregates.money import to_decimal
from ledger.errors import InvalidInput, LedgerError

CHARGE_SCHEMA = "ledger.rating.AppliedCustomerBillingRate"


def exact(value: Decimal) -> Decimal:
    """An amount in its shortest exact form (Avro gives 6 places: 20.000000 -> 20, 18.450000 -> 18.45).

    The ledger fingerprints a charge's content for idempotency, so the same charge must carry the same
    digits whether it came as Avro or as JSON ("18.45").
    """
    normal = value.normalize()
    exponent = normal.as_tuple().exponent  # an int for a finite amount
    return Decimal(format(normal, "f")) if isinstance(exponent, int) and exponent > 0 else normal


def charge_command_input(record: dict[str, Any]) -> dict[str, Any]:
    """The input of `PostCharge.parse` for a decoded AppliedCustomerBillingRate (any version); amounts as Decimal.

    Every amount must be in the taxExcludedAmount's currency; otherwise InvalidInput.
    """
    excluded = record["taxExcludedAmount"]
    currency = excluded["unit"]

    def amount(money: dict[str, Any], what: str) -> Decimal:
        if money["unit"] != currency:
            raise InvalidInput(
                f"invalid AppliedCustomerBillingRate {record['id']}: {what} is in {money['unit']}, "
                f"taxExcludedAmount in {currency}", charge_id=record["id"],
            )
        return exact(money["value"])

    data: dict[str, Any] = {
        "charge_id": record["id"],
        "account_id": record["billingAccount"]["id"],
        "type": record["type"],
        "currency": currency,
        "tax_excluded_amount": exact(excluded["value"]),
        "applied_tax": [
            {"tax_category": t["taxCategory"], "tax_rate": exact(t["taxRate"]),
             "tax_amount": amount(t["taxAmount"], f"appliedTax[{i}].taxAmount")}
            for i, t in enumerate(record.get("appliedTax") or [])
        ],
        "date": record["date"],
        "description": record.get("description") or "",
    }
    if record.get("taxIncludedAmount") is not None:
        data["tax_included_amount"] = amount(record["taxIncludedAmount"], "taxIncludedAmount")
    if record.get("product") is not None:
        data["product_ref"] = record["product"]["id"]
    period = record.get("periodCoverage")
    if period is not None:
        data["period_start"] = period.get("startDateTime")
        data["period_end"] = period.get("endDateTime")
    return data


def charge_record(
    *,
    charge_id: str,
    account_id: str,
    currency: str,
    tax_excluded_amount: Any,
    date: datetime | str,
    type: str = "appliedBillingCharge",  # noqa: A002  (the record's field, a keyword producers pass)
    applied_tax: list[dict[str, Any]] = (),  # type: ignore[assignment]
    tax_included_amount: Any = None,
    product_ref: str | None = None,
    period_start: date | str | None = None,
    period_end: date | str | None = None,
    description: str = "",
    rating_system: str | None = None,
) -> dict[str, Any]:
    """An AppliedCustomerBillingRate record (latest version) from PostCharge-style fields, for producers.

    Amounts: str, int or Decimal (never float); `date`: an aware datetime or ISO moment with offset;
    `applied_tax`: [{tax_category, tax_rate, tax_amount}].
    """

    def money(value: Any, what: str) -> dict[str, Any]:
        return {"unit": currency, "value": _amount(value, what)}

    moment = datetime.fromisoformat(date) if isinstance(date, str) else date
    if moment.tzinfo is None:
        raise InvalidInput(f"charge {charge_id}: date {date!r} needs a time zone offset", charge_id=charge_id)
    period = None
    if period_start is not None or period_end is not None:
        period = {"startDateTime": _day(period_start), "endDateTime": _day(period_end)}
    return {
        "id": charge_id,
        "type": type,
        "date": moment.astimezone(UTC),
        "description": description,
        "billingAccount": {"id": account_id},
        "product": None if product_ref is None else {"id": product_ref},
        "periodCoverage": period,
        "taxExcludedAmount": money(tax_excluded_amount, "tax_excluded_amount"),
        "taxIncludedAmount": None if tax_included_amount is None else money(tax_included_amount, "tax_included_amount"),
        "appliedTax": [
            {"taxCategory": t["tax_category"], "taxRate": _amount(t["tax_rate"], "tax_rate"),
             "taxAmount": money(t["tax_amount"], "tax_amount")}
            for t in applied_tax
        ],
        "ratingSystem": rating_system,
    }


def _amount(value: Any, what: str) -> Decimal:
    try:
        return to_decimal(value, what=what)
    except LedgerError as error:
        raise InvalidInput(error.message, **error.context) from None


def _day(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value
