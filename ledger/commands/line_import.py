"""Importing records line by line in batches, every refusal traced to its line: what the charge import and the
onboarding imports (customers, accounts, subscriptions) share.

A reader turns the lines (JSON lines, or CSV with a header row) into numbered records: a dict, or the error that
made the line unreadable. The engine parses each record into an item command, runs the items a batch at a time (one
batch command, so one transaction a batch), and reports what was applied, what was already there (unchanged) and
each rejected line with its number, its key, the ledger error's code and its message. A bad line changes nothing;
the good ones are applied. A batch that fails as a whole (the store gave up) ends the import with the error, saying
how much earlier batches applied: imports are idempotent by their business keys, so running one again is safe.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ledger.errors import InvalidInput, LedgerError
from ledger.ports import NoProgress, Progress

MAX_BATCH = 100_000
FORMATS = ("jsonl", "csv")

T = TypeVar("T")
Record = tuple[int, "dict[str, Any] | LedgerError"]
"""A line's number (from 1) and what it holds: the record's fields, or why it holds none."""


@dataclass
class ImportReport:
    """What an import did: lines read, items applied and unchanged, every rejected line (sorted), batches run.
    `unchanged_as` and `key_as` name the counts and keys in `to_dict` (charges: duplicates, charge_id)."""

    lines: int = 0
    applied: int = 0
    unchanged: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    batches: int = 0
    unchanged_as: str = "unchanged"
    key_as: str = "id"

    @property
    def duplicates(self) -> int:
        return self.unchanged

    def reject(self, line: int | None, key: Any, error: LedgerError) -> None:
        self.rejected.append({"line": line, self.key_as: key, "error": error.code, "message": error.message})

    def to_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "applied": self.applied, self.unchanged_as: self.unchanged,
                "rejected": self.rejected, "batches": self.batches}


@dataclass(frozen=True)
class Refusal:
    """An item of a batch the batch command refused (nothing of it applied): its place in the batch and why."""

    index: int
    key: str | None
    error: str
    message: str


@dataclass(frozen=True)
class BatchOutcome:
    applied: int
    unchanged: int
    refused: list[Refusal]


@dataclass(frozen=True)
class Importer(Generic[T]):
    """How to import one kind of item: parse a record into an item command, name its key, run a batch of them."""

    parse: Callable[[dict[str, Any]], T]
    key: Callable[[dict[str, Any]], Any]
    run: Callable[[list[T]], BatchOutcome]
    what: str = "items"  # for the message of a batch failing after earlier ones were applied


def check_batch_size(batch_size: int, option: str = "--batch-size") -> int:
    if batch_size < 1 or batch_size > MAX_BATCH:
        raise InvalidInput(f"{option} must be between 1 and {MAX_BATCH}, got {batch_size}", batch_size=batch_size)
    return batch_size


def import_records(importer: Importer[T], records: Iterable[Record], batch_size: int, progress: Progress | None = None,
                   report: ImportReport | None = None) -> ImportReport:
    """Parse `records` into items and run them through `importer` in batches of `batch_size`."""
    check_batch_size(batch_size)
    progress = progress or NoProgress()
    report = report or ImportReport()
    batch: list[tuple[int, Any, T]] = []

    def flush() -> None:
        if not batch:
            return
        try:
            outcome = importer.run([item for _, _, item in batch])
        except LedgerError as error:
            if report.batches:
                raise type(error)(f"{error.message} (after {report.applied} {importer.what} applied in {report.batches} "
                                  "earlier batches; running the import again is safe: it is idempotent)",
                                  **error.context) from None
            raise
        report.applied += outcome.applied
        report.unchanged += outcome.unchanged
        for refused in outcome.refused:  # its place in the batch names its line, whatever else has its key
            line, key, _ = batch[refused.index]
            report.rejected.append({"line": line, report.key_as: refused.key if refused.key is not None else key,
                                    "error": refused.error, "message": refused.message})
        report.batches += 1
        progress.advance(len(batch))
        batch.clear()

    for number, data in records:
        report.lines += 1
        if isinstance(data, LedgerError):
            report.reject(number, None, data)
            progress.advance(1)
            continue
        try:
            batch.append((number, importer.key(data), importer.parse(data)))
        except LedgerError as error:
            report.reject(number, importer.key(data), error)
            progress.advance(1)
        if len(batch) >= batch_size:
            flush()
    flush()
    report.rejected.sort(key=lambda r: (r["line"] is None, r["line"] or 0))
    return report


# ---------------------------------------------------------------- readers


def json_lines(lines: Iterable[str], what: str = "record") -> Iterator[Record]:
    """One JSON object a line (blank lines skipped)."""
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, InvalidInput(f"not valid JSON: {error.msg} at column {error.colno}")
            continue
        if not isinstance(data, dict):
            yield number, InvalidInput(f"each line must be a JSON object ({what})")
            continue
        yield number, data


def csv_rows(lines: Iterable[str], columns: Collection[str]) -> Iterator[Record]:
    """CSV with a header row naming some of `columns` (in any order): each row as {column: cell}, empty cells left
    out (the field's default applies). An unknown or repeated column refuses the whole file before anything is read;
    a row with another number of cells than the header is a rejected line. Line numbers are the file's (the header
    is line 1; a row whose quoted cell spans lines is numbered by its last line)."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    header = [name.strip().lstrip("\ufeff") for name in header]
    unknown = [name for name in header if name not in columns]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if unknown or repeated or not header:
        problems = ([f"unknown column(s) {', '.join(unknown)}"] if unknown else []) + \
                   ([f"repeated column(s) {', '.join(repeated)}"] if repeated else [])
        raise InvalidInput(f"CSV header (line 1): {'; '.join(problems) or 'no columns'}; the columns are "
                           f"{', '.join(columns)}", columns=header)
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield number, InvalidInput(f"{len(row)} cells, the header has {len(header)} columns")
            continue
        yield number, {name: cell.strip() for name, cell in zip(header, row) if cell.strip()}


def read_records(lines: Iterable[str], fmt: str, columns: Collection[str], what: str = "record") -> Iterator[Record]:
    """The records of `lines` in format `fmt` (jsonl or csv)."""
    if fmt == "csv":
        return csv_rows(lines, columns)
    if fmt == "jsonl":
        return json_lines(lines, what)
    raise InvalidInput(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}", format=fmt)
