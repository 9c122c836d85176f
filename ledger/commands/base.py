"""Shared pieces of command models: strict money and time types, and one way to turn bad input into InvalidInput."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ledger.aggregates.money import to_decimal
from ledger.errors import InvalidInput, LedgerError

C = TypeVar("C", bound="Command[Any]")
R = TypeVar("R")


def _exact(value: Any) -> Decimal:
    try:
        return to_decimal(value)
    except LedgerError as error:
        raise ValueError(error.message) from None


Amount = Annotated[Decimal, BeforeValidator(_exact)]
"""An exact decimal (string, integer or Decimal; never a float), up to six decimal places."""

NonNegativeAmount = Annotated[Amount, Field(ge=0)]
PositiveAmount = Annotated[Amount, Field(gt=0)]
Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s].*[^\s]$|^[^\s]$")]
Text = Annotated[str, Field(max_length=2000)]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else value.astimezone(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A moment with a time zone offset (naive times are refused: they are ambiguous)."""


class Command(BaseModel, Generic[R]):
    """Base of every command: unknown fields are refused, values are immutable once validated.

    A command names the result its handler returns (`class PostCharge(Command[ChargePosted])`), so
    `Ledger.execute(command)` is typed with it; the pieces of another command's input are plain `Command`s."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, validate_default=True)

    @classmethod
    def parse(cls: type[C], data: dict[str, Any]) -> C:
        """Validate raw input; bad input raises InvalidInput naming every bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            found = [(tuple(e["loc"]), e["msg"]) for e in error.errors()]
            problems = "; ".join(f"{'.'.join(str(p) for p in loc) or 'input'}: {msg}" for loc, msg in found)
            invalid = InvalidInput(f"invalid {cls.__name__}: {problems}", command=cls.__name__)
            invalid.problems = found  # each bad field's location and message, for entry points naming their own inputs
            raise invalid from None

    def log_ids(self) -> dict[str, str]:
        """The caller ids of a command, for its log line."""
        return {k: str(v) for k, v in self.__dict__.items() if k in _ID_FIELDS and v is not None}


_ID_FIELDS = {"account_id", "charge_id", "adjustment_id", "external_reference", "specification", "period_start",
              "bill_number", "request_id", "refund_id", "name"}
