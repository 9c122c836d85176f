"""Importing charges from JSON lines: one PostCharges command per batch, every refusal traced to its line.

Shared by entry points (the CLI's `charge import`; an HTTP batch could use it too): it takes the lines and a way
to execute commands, and reports what was applied, what was a duplicate, and each rejected line with its number
and the ledger error's code (the batching and the reporting are ledger/commands/line_import.py's). A bad line
changes nothing; the others are applied batch by batch (each batch in one transaction), so re-running an import is
safe: charges are idempotent by their id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ledger.commands.base import Command
from ledger.commands.charges import PostCharge, PostCharges
from ledger.commands.line_import import (
    MAX_BATCH,
    BatchOutcome,
    Importer,
    ImportReport,
    Refusal,
    check_batch_size,
    import_records,
    json_lines,
)
from ledger.ports import Progress

__all__ = ["MAX_BATCH", "ImportReport", "check_batch_size", "import_charges"]


def import_charges(execute: Callable[[Command], Any], lines: Iterable[str], batch_size: int,
                   progress: Progress | None = None) -> ImportReport:
    """Post the `PostCharge` JSON objects of `lines` in batches of `batch_size` through `execute`."""

    def run(charges: list[PostCharge]) -> BatchOutcome:
        posted = execute(PostCharges.parse({"charges": charges}))
        return BatchOutcome(posted.applied, posted.duplicates,
                            [Refusal(r.index or 0, r.charge_id, r.error, r.message) for r in posted.rejected])

    importer = Importer(parse=PostCharge.parse, key=lambda data: data.get("charge_id"), run=run, what="charges")
    return import_records(importer, json_lines(lines, "one PostCharge"), batch_size, progress,
                          ImportReport(unchanged_as="duplicates", key_as="charge_id"))
