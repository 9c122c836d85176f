"""Outbound ledger events: each domain event class mapped field by field onto its ledger.events.* Avro record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Context, Decimal, InvalidOperation
from hashlib import sha1
from typing import Any
from uuid import UUID, uuid5

from ledger.aggregates.ids import LEDGER_NAMESPACE
from ledger.contracts.errors import UnencodableRecord
from ledger.recent import Recent

NAMESPACE = "ledger.events"
SCALE = 6
_QUANTUM = Decimal(1).scaleb(-SCALE)
_PRECISION = Context(prec=30)  # the schemas' decimal precision
_EVENT_NAMESPACE = uuid5(LEDGER_NAMESPACE, "ledger-event")
_EVENT_ID_HASH = sha1(_EVENT_NAMESPACE.bytes)  # uuid5 hashes the namespace's bytes, then the name
_MAX_ADJUSTED = _PRECISION.prec - SCALE - 1  # a quantized amount with a larger adjusted exponent has too many digits
Convert = Callable[[Any], Any]


# ---------------------------------------------------------------- value converters (domain value -> Avro datum)


def money(value: Any) -> Decimal:
    """An exact amount (str/int/Decimal, never float) quantized to the schemas' 6 places."""
    if type(value) is Decimal:
        if not value and value.is_finite():  # zero, the commonest figure: signed as given, at 6 places
            return _MINUS_ZERO if value.is_signed() else _ZERO
        if value.same_quantum(_QUANTUM) and value.adjusted() <= _MAX_ADJUSTED:
            return value  # already at 6 places and within precision: quantize would return it unchanged
        try:
            return _PRECISION.quantize(value, _QUANTUM)
        except InvalidOperation:
            raise UnencodableRecord(f"amount {value!r} is not an exact decimal of at most 30 digits", value=value) from None
    if type(value) is str:  # events keep amounts as text: recent ones are kept (a charge's net and total often agree)
        done = _RECENT_AMOUNTS.get(value)
        if done is None:
            try:
                done = _PRECISION.quantize(Decimal(value), _QUANTUM)
            except (InvalidOperation, ValueError):
                raise UnencodableRecord(f"amount {value!r} is not an exact decimal of at most 30 digits", value=value) from None
            _RECENT_AMOUNTS.keep(value, done)
        return done
    return _quantized(value)


_RECENT_AMOUNTS = Recent(4_096)
_ZERO, _MINUS_ZERO = Decimal("0.000000"), Decimal("-0.000000")


def _quantized(value: Any) -> Decimal:
    if isinstance(value, (float, bool)):
        raise UnencodableRecord(f"amount {value!r} is a {type(value).__name__}: amounts are exact decimals", value=value)
    try:
        return _PRECISION.quantize(Decimal(value), _QUANTUM)
    except (InvalidOperation, TypeError, ValueError):
        raise UnencodableRecord(f"amount {value!r} is not an exact decimal of at most 30 digits", value=value) from None


def instant(value: str | datetime) -> datetime:
    """An ISO moment with offset (or aware datetime) as an aware UTC datetime (timestamp-micros)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        raise UnencodableRecord(f"moment {value!r} has no time zone offset", value=value)
    return moment.astimezone(UTC)


def day(value: str | date) -> date:
    """An ISO date (or date) as a date (logicalType date)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def uuid_text(value: UUID | str) -> str:
    """A UUID as its canonical string (logicalType uuid)."""
    return str(value if isinstance(value, UUID) else UUID(value))


def same(value: Any) -> Any:
    return value


def optional(convert: Convert) -> Convert:
    def convert_optional(value: Any) -> Any:
        return None if value is None else convert(value)

    convert_optional.inner = convert  # type: ignore[attr-defined]  # to_record calls it straight
    return convert_optional


def array(convert: Convert) -> Convert:
    return lambda values: [convert(v) for v in values]


def mapping(convert: Convert) -> Convert:
    return lambda values: {str(k): convert(v) for k, v in values.items()}


def record(*, defaults: dict[str, Any] | None = None, **fields: Convert) -> Convert:
    """A dict with known keys as a named record; an unknown key is refused rather than silently dropped."""
    defaults = defaults or {}
    names, items = frozenset(fields), tuple(fields.items())

    def convert(value: dict[str, Any]) -> dict[str, Any]:
        if not value.keys() <= names:
            unknown = sorted(value.keys() - names)
            raise UnencodableRecord(f"keys {unknown} have no field in the contract", keys=unknown)
        return {name: conv(value[name] if name in value else defaults.get(name)) for name, conv in items}

    return convert


# ---------------------------------------------------------------- the mapping, one entry per domain event class

_TAX_LINE = record(category=same, rate=money, amount=money)
_CYCLE_SPEC = record(name=same, frequency=same, billing_day=same, anchor_month=same, charge_date_offset=same,
                     credit_date_offset=same, bill_date_offset=same, mailing_date_offset=same, payment_due_date_offset=same)
_TRIGGER = record(type=same, by=same, reason=same, early_run=lambda flag: flag == "true")  # absent: not early
_ALLOCATION = record(target=same, id=same, amount=money)
_PARTY = record(id=same, role=same)
POSITION = record(balance=money, unbilled=money, unbilled_count=same, receivable=money, credit_balance=money,
                  prepaid_balance=money, status=same)
_POSITION_KEYS = frozenset(("balance", "unbilled", "unbilled_count", "receivable", "credit_balance", "prepaid_balance",
                            "status"))


def _position(figures: dict[str, Any]) -> dict[str, Any]:
    """POSITION(figures), spelled out for the usual case of exactly its keys (one per account event)."""
    if len(figures) != len(_POSITION_KEYS):
        return POSITION(figures)
    try:  # seven keys, each one of the seven: none unknown
        return {"balance": money(figures["balance"]), "unbilled": money(figures["unbilled"]),
                "unbilled_count": figures["unbilled_count"], "receivable": money(figures["receivable"]),
                "credit_balance": money(figures["credit_balance"]), "prepaid_balance": money(figures["prepaid_balance"]),
                "status": figures["status"]}
    except KeyError:
        return POSITION(figures)

EVENTS: dict[str, dict[str, Convert]] = {
    "BillingAccount.Opened": dict(
        account_ref=same, customer_id=same, currency=same, rating_type=same, cycle_specification=same,
        payment_terms_days=same, credit_limit=money, default_payment_method=optional(record(id=same, type=same)),
        time_zone=same, name=same),
    "BillingAccount.ChargeApplied": dict(
        charge_id=same, charge_type=same, product_ref=same, period_start=optional(day), period_end=optional(day),
        tax_excluded=money, taxes=array(_TAX_LINE), tax_included=money, effective_at=instant, description=same,
        fingerprint=same),
    "BillingAccount.PlanChargesApplied": dict(charges=array(record(
        charge_id=same, charge_type=same, product_ref=same, period_start=optional(day), period_end=optional(day),
        tax_excluded=money, taxes=array(_TAX_LINE), tax_included=money, effective_at=instant, description=same,
        fingerprint=same))),
    "BillingAccount.ChargeAdjusted": dict(
        adjustment_id=same, charge_id=same, tax_excluded=money, taxes=array(_TAX_LINE), tax_included=money,
        effective_at=instant, reason=same, fingerprint=same),
    "BillingAccount.BillIssued": dict(
        bill_id=uuid_text, bill_number=same, run_type=same, cycle_id=optional(uuid_text), entry_ids=array(same),
        amount_due=money, credit_applied=money,
        prepaid=array(record(payment_id=uuid_text, entry_id=same, amount=money, excess=money, defaults={"excess": "0"})),
        bill_date=day, payment_due_date=day, rounding_difference=money),
    "BillingAccount.PaymentReceived": dict(
        payment_id=uuid_text, amount=money, allocations=array(_ALLOCATION), to_balance=money, effective_at=instant),
    "BillingAccount.PaymentReversed": dict(
        payment_id=uuid_text, amount=money,
        undone=array(record(target=same, id=same, amount=money,
                            bill=optional(record(bill_number=same, bill_date=day, payment_due_date=day)))),
        balance_removed=money, debit=money, reason=same, effective_at=instant),
    "BillingAccount.CreditRefunded": dict(
        refund_id=same, amount=money, method=same, reference=same, effective_at=instant, fingerprint=same),
    "BillingAccount.StatusChanged": dict(status=same, reason=same, final_bill_id=optional(uuid_text)),
    "BillingAccount.TermsChanged": dict(
        credit_limit=money, payment_terms_days=same, default_payment_method=optional(record(id=same, type=same)),
        reason=same),
    "BillingAccount.CustomerLinked": dict(customer_id=same, previous_customer_id=same, reason=same),
    "CustomerBill.Issued": dict(
        account_id=uuid_text, account_ref=same, bill_number=same, run_type=same, off_cycle_reason=same,
        cycle_id=optional(uuid_text), currency=same, billing_period_start=optional(day),
        billing_period_end=optional(day), bill_date=day, mailing_date=optional(day), payment_due_date=day,
        items=array(record(entry_id=same, kind=same, charge_id=same, product_ref=same, description=same,
                           tax_excluded=money, tax_included=money, effective_at=instant)),
        tax_items=array(record(tax_category=same, tax_rate=money, taxable_amount=money, tax_amount=money,
                               exact_tax_amount=money)),
        tax_excluded_amount=money, tax_included_amount=money, rounding_difference=money, amount_due=money),
    "CustomerBill.StateChanged": dict(from_state=same, to_state=same, reason=same),
    "CustomerBill.StatesChanged": dict(steps=array(record(from_state=same, to_state=same, reason=same))),
    "CustomerBill.PaymentApplied": dict(payment_id=optional(uuid_text), source=same, amount=money, new_state=same),
    "CustomerBill.PaymentUndone": dict(payment_id=uuid_text, amount=money, reason=same, new_state=same),
    "CustomerPayment.Received": dict(
        account_id=uuid_text, account_ref=same, external_reference=same, amount=money, currency=same, method=same,
        payer_ref=same, payment_date=instant, fingerprint=same),
    "CustomerPayment.Allocated": dict(target=same, target_id=same, amount=money),
    "CustomerPayment.CreditedToBalance": dict(amount=money, kind=same),
    "CustomerPayment.Reversed": dict(reason=same, kind=same, undone=array(_ALLOCATION)),
    "PartyBillingCycle.Triggered": dict(
        specification=same, specification_values=_CYCLE_SPEC, period_start=day, period_end=day, bill_date=day,
        charge_date=day, credit_date=day, mailing_date=day, payment_due_date=day, trigger=_TRIGGER),
    "PartyBillingCycle.Resumed": dict(trigger=_TRIGGER),
    "PartyBillingCycle.AccountsBilled": dict(
        bills=array(record(account_id=uuid_text, bill_id=uuid_text, currency=same, amount_due=money)),
        skipped=array(uuid_text)),
    "PartyBillingCycle.Completed": dict(accounts_billed=same, accounts_skipped=same, totals=mapping(money)),
    "BillingCycleSpecification.Defined": dict(values=_CYCLE_SPEC),
    # Customers: personal fields only ever sealed (encrypted with the customer's key), never in clear.
    "Customer.Registered": dict(customer_ref=same, party_type=same, status=same, personal=mapping(same),
                                preferences=mapping(same), related_parties=array(_PARTY)),
    "Customer.Updated": dict(personal=mapping(same), preferences=mapping(same), related_parties=optional(array(_PARTY))),
    "Customer.StatusChanged": dict(status=same, reason=same),
    "Customer.Erased": dict(reason=same),
    "ProductOffering.Defined": dict(offering_ref=same, name=same, description=same),
    "ProductOffering.PriceVersionAdded": dict(
        price_id=same, terms=record(price_type=same, currency=same, recurring_period=same, timing=same,
                                    tax_category=same, tax_rate=optional(money), unit_of_measure=same),
        version=same, amount=money, valid_from=day, valid_to=optional(day)),
    "ProductOffering.LifecycleStatusChanged": dict(from_status=same, to_status=same, reason=same),
    "PaymentMethod.Added": dict(method_ref=same, owner_type=same, owner_ref=same, method_type=same, name=same,
                                masked=mapping(same), sealed=mapping(same), gateway_token=same, valid_to=optional(day)),
    "PaymentMethod.StatusChanged": dict(status=same, reason=same),
    "Subscription.Subscribed": dict(subscription_ref=same, account_ref=same, account_id=uuid_text, offering_ref=same,
                                 quantity=same, start_date=day, end_date=optional(day)),
    "Subscription.Changed": dict(effective_date=day, offering_ref=same, quantity=same),
    "Subscription.StateChanged": dict(effective_date=day, state=same, reason=same),
    "Subscription.Charged": dict(reconciled_until=day, lines=array(record(
        key=same, charge_id=same, entry_id=same, tax_excluded=money, tax_amount=money, corrections=same,
        period_start=day, period_end=day, version=same, days=same, tax_category=same, tax_rate=same))),
    "Subscription.Discounted": dict(lines=array(record(
        key=same, credit_id=same, entry_id=same, tax_excluded=money, tax_amount=money, corrections=same))),
    "CustomerGroup.Formed": dict(group_ref=same, name=same, description=same, discount_rate=money,
                                  preferences=mapping(same)),
    "CustomerGroup.Updated": dict(name=same, description=same, preferences=mapping(same)),
    "CustomerGroup.DiscountRateChanged": dict(discount_rate=money, effective_date=day),
    "CustomerGroup.MemberAssigned": dict(customer_ref=same, from_date=day, until_date=optional(day)),
    "CustomerGroup.MemberRemoved": dict(customer_ref=same, from_date=day, until_date=day, reason=same),
    "CustomerGroup.Deleted": dict(reason=same),
}
# Where the event itself names its billing account (the relay passes it for the other bill and payment events).
_ACCOUNT_FIELD = {"CustomerBill.Issued": "account_id", "CustomerPayment.Received": "account_id",
                  "Subscription.Subscribed": "account_id"}


# ---------------------------------------------------------------- API


def event_type(domain_event: Any) -> str:
    """'Aggregate.Event' of a domain event, e.g. 'BillingAccount.ChargeApplied'."""
    return type(domain_event).__qualname__


def schema_name(event_type_name: str) -> str:
    """Full Avro name of an event type's record, e.g. 'ledger.events.BillingAccountChargeApplied'."""
    return f"{NAMESPACE}.{event_type_name.replace('.', '')}"


def event_id(aggregate_id: UUID, version: int) -> UUID:
    """The stable id of an aggregate's event at `version` (uuid5): the same event always gets the same id."""
    return uuid5(_EVENT_NAMESPACE, f"{aggregate_id}:{version}")


def event_id_text(aggregate_id_text: str, version: int) -> str:
    """`str(event_id(...))` from the aggregate id's text, without building UUID objects (uuid5 by hand: SHA-1 of
    namespace and name; the first 16 bytes in hex with the version nibble 5 and the RFC 4122 variant bits 10)."""
    digest = _EVENT_ID_HASH.copy()
    digest.update(f"{aggregate_id_text}:{version}".encode())
    x = digest.hexdigest()
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}  # a hex digit with its top two bits set to 10


def event_fields(event_type_name: str) -> list[str]:
    """The domain fields an event type's record carries after the envelope, in schema order."""
    return list(_mapping(event_type_name))


def to_record(domain_event: Any, billing_account_id: UUID | None,
              position: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(schema full name, record for SchemaRegistry.encode) of a domain event.

    `billing_account_id`: the account the event belongs to; when None it is taken from the event where it can be
    (a BillingAccount event's own id, a bill's or payment's creation event). `position`: the account's figures
    right after the event (see `account_position`), for BillingAccount events; None otherwise.
    """
    kind = event_type(domain_event)
    schema, aggregate_type, fields = _SPECS.get(kind) or _spec(kind)
    aggregate_id = domain_event.originator_id
    version = domain_event.originator_version
    if billing_account_id is None:
        if aggregate_type == "BillingAccount":
            billing_account_id = aggregate_id
        elif kind in _ACCOUNT_FIELD:
            billing_account_id = getattr(domain_event, _ACCOUNT_FIELD[kind])
    id_key = aggregate_id.int if type(aggregate_id) is UUID else aggregate_id  # a UUID hashes in Python, its int in C
    aggregate_text = _ID_TEXTS.get(id_key)
    if aggregate_text is None:
        aggregate_text = _ID_TEXTS.keep(id_key, str(aggregate_id))
    rec: dict[str, Any] = {
        "event_id": event_id_text(aggregate_text, version),
        "event_type": kind,
        "aggregate_type": aggregate_type,
        "aggregate_id": aggregate_text,
        "aggregate_version": version,
        "billing_account_id": None if billing_account_id is None else
        aggregate_text if billing_account_id is aggregate_id else uuid_text(billing_account_id),
        "recorded_at": instant(domain_event.timestamp),
        "position": None if position is None else _position(position),
    }
    state = domain_event.__dict__  # an event's fields (faster to read than through getattr)
    try:
        for name, convert, nullable in fields:
            value = state[name] if name in state else getattr(domain_event, name)
            rec[name] = value if convert is same or (nullable and value is None) else convert(value)
    except UnencodableRecord as error:
        raise UnencodableRecord(f"{kind}.{name}: {error.message}", event_type=kind, field=name, **error.context) from None
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        raise UnencodableRecord(f"{kind}.{name}: {type(error).__name__}: {error}", event_type=kind, field=name) from None
    return schema, rec


def account_position(account: Any) -> dict[str, Any]:
    """A live BillingAccount's figures for the `position` field (call it right after applying the event)."""
    return {
        "balance": account.balance,
        "unbilled": account.unbilled_total - account.unbilled_prepaid,  # net of charge prepayments
        "unbilled_count": len(account.unbilled),
        "receivable": account.receivable,
        "credit_balance": account.credit_balance,
        "prepaid_balance": account.prepaid_balance,
        "status": account.status,
    }


_SPECS: dict[str, tuple[str, str, tuple[tuple[str, Convert, bool], ...]]] = {}
_ID_TEXTS = Recent(20_000)  # recent aggregate ids' texts (str() of a UUID formats it in Python each time)


def _spec(kind: str) -> tuple[str, str, tuple[tuple[str, Convert, bool], ...]]:
    """(schema name, aggregate type, (field, converter, None passes as is)) of an event type, worked out once; an
    optional converter is unwrapped (to_record passes None itself)."""
    fields = tuple((name, getattr(convert, "inner", convert), hasattr(convert, "inner"))
                   for name, convert in _mapping(kind).items())
    spec = _SPECS[kind] = (schema_name(kind), kind.split(".", 1)[0], fields)
    return spec


def _mapping(kind: str) -> dict[str, Convert]:
    try:
        return EVENTS[kind]
    except KeyError:
        raise UnencodableRecord(f"no contract for domain event type {kind!r}", event_type=kind) from None
