"""Importing charges from JSON lines: one PostCharges command per batch, every refusal traced to its line.

Shared by entry points (the CLI's `charge import`; an HTTP batch could use it too): it takes the lines and a way
to execute commands, and reports what was applied, what was a duplicate, and each rejected line with its number
and the ledger error's code. A bad line changes nothing; the others are applied batch by batch (each batch in one
transaction), so re-running an import is safe: charges are idempotent by their id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ledger.commands.base import Command
from ledger.commands.charges import PostCharge, PostCharges
from ledger.commands.results import ChargesPosted
from ledger.errors import InvalidInput, LedgerError
from ledger.ports import NoProgress, Progress

MAX_BATCH = 100_000


@dataclass
class ImportReport:
    """What an import did: lines read, charges applied and duplicated, and every rejected line (sorted)."""

    lines: int = 0
    applied: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    batches: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "applied": self.applied, "duplicates": self.duplicates,
                "rejected": self.rejected, "batches": self.batches}


def check_batch_size(batch_size: int) -> int:
    if batch_size < 1 or batch_size > MAX_BATCH:
        raise InvalidInput(f"--batch-size must be between 1 and {MAX_BATCH}, got {batch_size}", batch_size=batch_size)
    return batch_size


def import_charges(execute: Callable[[Command], Any], lines: Iterable[str], batch_size: int,
                   progress: Progress | None = None) -> ImportReport:
    """Post the `PostCharge` JSON objects of `lines` in batches of `batch_size` through `execute`."""
    check_batch_size(batch_size)
    progress = progress or NoProgress()
    report = ImportReport()
    batch: list[tuple[int, PostCharge]] = []

    def flush() -> None:
        if not batch:
            return
        try:
            posted: ChargesPosted = execute(PostCharges.parse({"charges": [c for _, c in batch]}))
        except LedgerError as error:
            if report.batches:
                raise type(error)(f"{error.message} (after {report.applied} charges applied in {report.batches} "
                                  "earlier batches; re-running the import is safe: charges are idempotent)",
                                  **error.context) from None
            raise
        report.applied += posted.applied
        report.duplicates += posted.duplicates
        for rejected in posted.rejected:  # its place in the batch names its line, whatever else has its charge id
            line = batch[rejected.index][0] if rejected.index is not None else None
            report.rejected.append({"line": line, **rejected.model_dump(exclude={"index"})})
        report.batches += 1
        progress.advance(len(batch))
        batch.clear()

    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        report.lines += 1
        data: Any = None
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise InvalidInput("each line must be a JSON object (one PostCharge)")
            batch.append((number, PostCharge.parse(data)))
        except json.JSONDecodeError as error:
            report.rejected.append({"line": number, "charge_id": None, "error": InvalidInput.code,
                                    "message": f"not valid JSON: {error.msg} at column {error.colno}"})
        except LedgerError as error:
            charge_id = data.get("charge_id") if isinstance(data, dict) else None
            report.rejected.append({"line": number, "charge_id": charge_id, "error": error.code,
                                    "message": error.message})
        if len(batch) >= batch_size:
            flush()
    flush()
    report.rejected.sort(key=lambda r: (r["line"] is None, r["line"] or 0))
    return report
