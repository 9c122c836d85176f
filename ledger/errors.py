"""The ledger's exception tree: one root, `LedgerError`, with specific errors that carry context."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose.

    `context` holds the ids and values that explain the error, for logs and `--json` output.
    """

    code = "ledger_error"
    exit_code = 2  # of the command line: refused

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.context = context

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **{k: str(v) for k, v in self.context.items()}}


class InvalidInput(LedgerError):
    """A command's input failed validation; nothing was changed. `problems`: each bad field's location (the
    model's field names) and message, when a command model found them."""

    code = "invalid_input"
    problems: list[tuple[tuple[str | int, ...], str]] = []


class MoneyError(LedgerError):
    code = "money_error"


class UnknownCurrency(MoneyError):
    code = "unknown_currency"


class CurrencyMismatch(MoneyError):
    code = "currency_mismatch"


class InvalidAmount(MoneyError):
    code = "invalid_amount"


class NotFound(LedgerError):
    code = "not_found"


class AccountNotFound(NotFound):
    code = "account_not_found"


class AccountNotYetOpen(NotFound):
    """An as-of moment before the account was opened: the account did not exist then."""

    code = "account_not_yet_open"


class BillNotFound(NotFound):
    code = "bill_not_found"


class PaymentNotFound(NotFound):
    code = "payment_not_found"


class CycleSpecificationNotFound(NotFound):
    code = "cycle_specification_not_found"


class CycleNotFound(NotFound):
    code = "cycle_not_found"


class ChargeNotFound(NotFound):
    code = "charge_not_found"


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class OfferingNotFound(NotFound):
    code = "offering_not_found"


class PriceNotFound(NotFound):
    code = "price_not_found"


class SubscriptionNotFound(NotFound):
    code = "subscription_not_found"


class PaymentMethodNotFound(NotFound):
    code = "payment_method_not_found"


class GroupNotFound(NotFound):
    code = "group_not_found"


class RuleViolation(LedgerError):
    """A business rule refused the command; nothing was changed."""

    code = "rule_violation"


class AccountStateError(RuleViolation):
    code = "account_state"


class CustomerClosed(RuleViolation):
    """A billing account cannot be linked to a closed (or erased) customer."""

    code = "customer_closed"


class CustomerRelinkRefused(RuleViolation):
    """An account already linked to an existing customer moves to another only when asked to, with a reason."""

    code = "customer_relink_refused"


class CreditLimitExceeded(RuleViolation):
    code = "credit_limit_exceeded"


class AdjustmentRefused(RuleViolation):
    code = "adjustment_refused"


class InsufficientCredit(RuleViolation):
    code = "insufficient_credit"


class InvalidBillTransition(RuleViolation):
    code = "invalid_bill_transition"


class InvalidLifecycleTransition(RuleViolation):
    """A product offering's lifecycle status may not move so (or is not a TMF620 status)."""

    code = "invalid_lifecycle_transition"


class OfferingNotSellable(RuleViolation):
    """A new subscription, or a change of offering, to an offering that is neither Active nor Launched."""

    code = "offering_not_sellable"


class AllocationRefused(RuleViolation):
    code = "allocation_refused"


class PaymentStateError(RuleViolation):
    code = "payment_state"


class CycleStateError(RuleViolation):
    code = "cycle_state"


class TimeRuleViolation(RuleViolation):
    """A moment a command gives is refused by a rule on time; nothing was changed."""

    code = "time_rule"


class EffectiveTooFarAhead(TimeRuleViolation):
    """A money movement effective further ahead of the ledger's clock than the configured horizon."""

    code = "effective_too_far_ahead"


class EffectiveBeforeOpening(TimeRuleViolation):
    """A charge effective before its account was opened."""

    code = "effective_before_opening"


class EffectiveBeforePayment(TimeRuleViolation):
    """A payment reversal effective before the payment it reverses."""

    code = "effective_before_payment"


class PeriodNotOver(TimeRuleViolation):
    """A billing cycle triggered before its period's cut-offs passed (without an explicit early run)."""

    code = "period_not_over"


class IdempotencyConflict(RuleViolation):
    """The same caller id was used before with different content."""

    code = "idempotency_conflict"


class PersonalDataUnavailable(LedgerError):
    """Personal data cannot be sealed or read: no master key is configured (LEDGER_MASTER_KEY), or it is wrong."""

    code = "personal_data_unavailable"


class ConcurrencyConflict(LedgerError):
    """Concurrent writers kept winning; the command gave up after its retries."""

    code = "concurrency_conflict"


class StreamError(LedgerError):
    """Moving events to or from the broker failed; nothing was recorded as done."""

    code = "stream_error"


class PublishFailed(StreamError):
    """The broker did not acknowledge every message; the relay keeps its old position and tries again."""

    code = "publish_failed"


class BrokerUnavailable(StreamError):
    """No Kafka broker answers (a process retries until it is back, or its give-up limit)."""

    code = "broker_unavailable"


class ReadModelError(LedgerError):
    """The read-model database refused or lost work; the batch was rolled back."""

    code = "read_model_error"
