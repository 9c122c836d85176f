"""Applies a batch of event records to the read models in one transaction, together with the consumer's offsets,
so a crash never applies an event twice nor skips one."""

from __future__ import annotations

from typing import Any

from ledger.errors import ReadModelError
from ledger.projections.database import ReadModelDatabase
from ledger.projections.read_models import ReadModelBatch, projected_ids
from ledger.projections.tables import ACCOUNT_BALANCES, BILLS, CUSTOMER_GROUPS, PAYMENTS


class OffsetsMoved(ReadModelError):
    """Another process (or a rebuild) moved the stored offsets: re-read them and carry on from there."""

    code = "offsets_moved"

    def __init__(self, message: str, stored: dict[int, int], **context: Any) -> None:
        super().__init__(message, **context)
        self.stored = stored


def project(db: ReadModelDatabase, records: list[dict[str, Any]], *, consumer: str, topic: str,
            expected: dict[int, int | None], next_offsets: dict[int, int]) -> ReadModelBatch:
    """Apply `records` (in order) and store `next_offsets`, provided the stored offsets still equal `expected`."""
    with db.transaction():
        stored = db.offsets(consumer, topic, lock=True)
        moved = {p: stored.get(p) for p, want in expected.items() if stored.get(p) != want}
        if moved:
            raise OffsetsMoved(f"stored offsets of {consumer} on {topic} moved: {moved}", stored=stored,
                               consumer=consumer, topic=topic)
        ids = projected_ids(records)
        batch = ReadModelBatch(db.load(ACCOUNT_BALANCES, ids["account_balances"]), db.load(BILLS, ids["bills"]),
                               db.load(PAYMENTS, ids["payments"]), db.load(CUSTOMER_GROUPS, ids["customer_groups"]))
        for record in records:
            batch.apply(record)
        db.write(batch)
        db.save_offsets(consumer, topic, next_offsets)
    return batch
