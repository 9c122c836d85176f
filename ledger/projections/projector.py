"""Applies a batch of event records to the read models in one transaction, together with the consumer's offsets,
so a crash never applies an event twice nor skips one."""

from __future__ import annotations

from typing import Any

from ledger.errors import ReadModelError
from ledger.projections.database import BY_NAME, ReadModelDatabase
from ledger.projections.read_models import VERSIONED_TABLES, ReadModelBatch, projected_ids


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
        loaded = {name: db.load(BY_NAME[name], ids[name]) for name in VERSIONED_TABLES}
        batch = ReadModelBatch(loaded.pop("account_balances"), loaded.pop("bills"), loaded.pop("payments"),
                               loaded.pop("customer_groups"), **loaded)
        for record in records:
            batch.apply(record)
        db.write(batch)
        db.save_offsets(consumer, topic, next_offsets)
    return batch
