"""The `ledger` command line's entry point: settings and logging once, then one subcommand, output and exit code.

Every value typed on the command line goes, as text, into the same pydantic command model the API uses,
so a bad value gives the same `InvalidInput` message. Exit codes: 0 done, 1 done but something needs a look
(verify found differences, an import rejected lines), 2 refused (a `LedgerError` or a usage error: nothing changed),
3 a long-running process gave up on a dependency (ledger.runtime).
Logs go to stderr, command output to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError

from ledger.bootstrap import tune_gc
from ledger.cli.context import App
from ledger.cli.options import flag_message
from ledger.cli.output import dump_json
from ledger.cli.parser import build_parser
from ledger.errors import InvalidInput, LedgerError
from ledger.logging_setup import configure_logging
from ledger.settings import Settings

LONG_RUNNING = ("relay", "ingest", "project")  # stream processes: they log what they refuse and go on


def _report(error: LedgerError, as_json: bool, out: TextIO, err: TextIO) -> None:
    if as_json:
        out.write(dump_json(error.to_dict()) + "\n")
    err.write(f"error: {error.message} [{error.code}]\n")


def main(argv: list[str] | None = None) -> int:
    """Run one ledger command; returns the exit code (0 ok, 1 needs a look, 2 refused or bad usage)."""
    tune_gc()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    out, err = sys.stdout, sys.stderr
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join((f"LEDGER_{str(e['loc'][0]).upper()}: " if e["loc"] else "") + e["msg"].removeprefix("Value error, ")
                             for e in error.errors())
        _report(InvalidInput(f"invalid LEDGER_* settings: {problems}"), args.json, out, err)
        return 2
    if args.store_path:  # the flag names an SQLite file: it wins over LEDGER_STORE and LEDGER_SQLITE_PATH
        settings = settings.model_copy(update={"store": "sqlite", "sqlite_path": Path(args.store_path)})
    level = args.log_level or settings.log_level
    if args.log_level is None and "log_level" not in settings.model_fields_set and args.command == "demo":
        level = "WARNING"  # the demo narrates on stdout; one log line per command would drown it on a terminal
    # A refused command's error is printed on stderr below: on a console its log line would say it a second time.
    # The long-running processes print no such error, so their refusals stay in the console log.
    echoed = () if args.command in LONG_RUNNING else ("command refused",)
    try:
        configure_logging(level, {"auto": True if args.json else None, "json": True, "console": False}[args.log_format],
                          printed_elsewhere=echoed)
    except ValueError as error:
        _report(InvalidInput(f"invalid LEDGER_LOG_LEVEL: {error}"), args.json, out, err)
        return 2
    app = App(settings, args)
    try:
        outcome = args.func(app, args)
    except LedgerError as error:
        _report(flag_message(error, args) if isinstance(error, InvalidInput) else error, args.json, out, err)
        return error.exit_code  # 2; a long-running process that gave up on a dependency: 3
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130
    finally:
        app.close()
    where = app.store_used()
    text = outcome.text + (f"\n(store: {where})" if where else "")
    out.write((dump_json(outcome.data) if args.json else text) + "\n")
    out.flush()
    return outcome.code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
