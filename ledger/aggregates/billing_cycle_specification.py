"""BillingCycleSpecification aggregate (TMF666): a named, immutable cycle rule that accounts refer to."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.aggregates.base import LedgerAggregate
from ledger.aggregates.billing_calendar import CycleSpecification


class BillingCycleSpecification(LedgerAggregate):

    if TYPE_CHECKING:  # the state the events set (declared for type checkers only: the library reads annotations)
        values: dict[str, Any]

    class Defined(LedgerAggregate.Created):
        values: dict[str, Any]

        def apply(self, s: BillingCycleSpecification) -> None:
            s.values = dict(self.values)

    @classmethod
    def define(cls, now: datetime, *, id: UUID, spec: CycleSpecification) -> BillingCycleSpecification:
        return cls._create(cls.Defined, id=id, timestamp=now, values=asdict(spec))

    @property
    def specification(self) -> CycleSpecification:
        return CycleSpecification(**self.values)

    @property
    def name(self) -> str:
        return self.values["name"]
