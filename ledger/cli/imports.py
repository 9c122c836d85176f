"""`ledger import customers|accounts|subscriptions FILE`: onboarding in bulk from JSON lines or CSV, and the pieces
every file import of the CLI shares (`charge import` too): reading a file or stdin, the progress bar, the summary.

Exit status: 0 when every line was applied or unchanged, 1 when any line was rejected (the others were applied),
2 when the import was refused as a whole (unreadable file, unknown CSV column, bad option: nothing changed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from ledger.cli.context import App, Outcome
from ledger.commands.bulk_import import KINDS, import_lines, kind_of
from ledger.commands.line_import import FORMATS, ImportReport, check_batch_size
from ledger.errors import InvalidInput
from ledger.ports import Progress


@contextmanager
def input_lines(file: str, progress: Progress, label: str, header: bool = False) -> Iterator[TextIO]:
    """The lines of `file` (`-`: stdin), with the progress bar started for them (its total: the file's lines, when
    a bar is drawn and the file can be counted; a CSV header is not counted) and finished after."""
    try:
        stream = sys.stdin if file == "-" else open(file, encoding="utf-8", newline="")
    except OSError as error:
        raise InvalidInput(f"cannot read {file}: {error.strerror}", file=file) from None
    total = 0
    if file != "-" and getattr(progress, "enabled", False):
        total = max(_count_lines(file) - (1 if header else 0), 0)
    progress.start(total, f"{label} from {'stdin' if file == '-' else file}")
    try:
        yield stream
    finally:
        progress.finish()
        if stream is not sys.stdin:
            stream.close()


def _count_lines(file: str) -> int:
    count, last = 0, b"\n"
    with open(file, "rb") as raw:
        while chunk := raw.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def report_outcome(report: ImportReport, what: str) -> Outcome:
    """The summary (applied, unchanged, each rejected line) and the exit code: 1 when any line was rejected."""
    text = [f"{what} read {report.lines}: applied {report.applied}, {report.unchanged_as} {report.unchanged}, "
            f"rejected {len(report.rejected)} ({report.batches} batches)"]
    for r in report.rejected:
        text.append(f"  line {r['line']}: {r[report.key_as] or '-'}: {r['message']} [{r['error']}]")
    return Outcome(report.to_dict(), "\n".join(text), 1 if report.rejected else 0)


def file_format(file: str, given: str | None) -> str:
    """--format, else by the file's name: .csv is CSV, anything else (stdin too) JSON lines."""
    if given is not None:
        return given
    return "csv" if file.lower().endswith(".csv") else "jsonl"


def do_import(app: App, a: argparse.Namespace) -> Outcome:
    kind = kind_of(a.action)
    size = check_batch_size(a.batch, "--batch")
    fmt = file_format(a.file, a.format)
    ledger = app.ledger
    with input_lines(a.file, ledger.progress, f"importing {kind.name}", header=fmt == "csv") as stream:
        report = import_lines(kind, ledger.execute, stream, fmt, size, ledger.progress)
    return report_outcome(report, kind.name)


def columns_help(name: str) -> str:
    kind = KINDS[name]
    return "columns: " + "; ".join(f"{column}{' (required)' if column in kind.required else ''}: {meaning}"
                                   for column, meaning in kind.columns.items())


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    g = group("import", "onboarding in bulk: customers, accounts or subscriptions from JSON lines or CSV")
    for name, what in [("customers", "create customers (personal data sealed as `customer create` seals it)"),
                       ("accounts", "open billing accounts"),
                       ("subscriptions", "create subscriptions")]:
        s = leaf(g, name, do_import, f"{what} from a file; idempotent by id (same content: unchanged)")
        s.description = f"{s.description}. {columns_help(name)}. Exit 1 when any line was rejected."
        s.add_argument("file", help="JSON lines or CSV file (a header row naming the columns), or - for stdin")
        s.add_argument("--format", choices=FORMATS, help="jsonl or csv (default: csv for a *.csv file, else jsonl)")
        s.add_argument("--batch", type=int, default=1000, help="records per transaction (default 1000)")
