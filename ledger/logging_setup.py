"""Logging set-up for the command line: structlog to stderr, JSON lines or a console view.

Called once, from the CLI entry point (`ledger.cli.main`); library code only asks structlog for a logger.
Stdout stays free for command output.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _dropping(events: tuple[str, ...]) -> structlog.typing.Processor:
    def drop(_: object, __: str, event_dict: structlog.typing.EventDict) -> structlog.typing.EventDict:
        if event_dict.get("event") in events:
            raise structlog.DropEvent
        return event_dict

    return drop


def level_number(level: str) -> int:
    """The numeric level of a level name (case-insensitive); ValueError for an unknown name."""
    name = level.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LEVELS)}")
    return logging.getLevelNamesMapping()[name]


def configure_logging(level: str, json: bool | None, stream: TextIO | None = None,
                      printed_elsewhere: tuple[str, ...] = ()) -> None:
    """Send structlog's output to stderr at `level`.

    `json`: True for JSON lines, False for the console renderer, None to choose by stream:
    the console renderer when stderr is a terminal, JSON lines otherwise.
    Each JSON line carries an ISO-8601 UTC `timestamp` and the `level`.
    `printed_elsewhere`: events the console renderer leaves out because the caller shows them to the same person
    itself (the CLI prints a refused command's error); JSON lines keep them, for whoever collects the logs.
    """
    out = stream if stream is not None else sys.stderr
    is_tty = bool(getattr(out, "isatty", lambda: False)())
    use_json = (not is_tty) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(sort_keys=False) if use_json else structlog.dev.ConsoleRenderer(colors=is_tty)
    )
    dropped = () if use_json else printed_elsewhere
    structlog.configure(
        processors=[
            *([_dropping(dropped)] if dropped else []),
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.UnicodeDecoder(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_number(level)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
