"""The argument parser: global flags, and each command group's subcommands registered by its own module."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ledger.cli import (
    accounts,
    api,
    audit,
    bills,
    charges,
    customers,
    cycles,
    demo,
    groups,
    imports,
    payment_methods,
    payments,
    streams,
    subscriptions,
)
from ledger.cli.context import App, Outcome
from ledger.logging_setup import LEVELS

GROUPS = (customers, groups, accounts, subscriptions, imports, payment_methods, charges, cycles, bills, payments, audit,
          streams, api, demo)
"""Modules that register subcommands, in the order `ledger --help` lists them."""

Subcommand = Callable[[App, argparse.Namespace], Outcome]


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 2 like a refused command (argparse's own convention)."""


def _global_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    # The same global flags work before or after the subcommand; only the top level sets defaults.
    kw: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    parser.add_argument("--json", action="store_true", help="machine output: one JSON document on stdout", **kw)
    parser.add_argument("--log-level", type=str.upper, choices=LEVELS,
                        help="log level (default: LEDGER_LOG_LEVEL or INFO)", **kw)
    parser.add_argument("--store-path", metavar="FILE",
                        help="the SQLite store to use (LEDGER_SQLITE_PATH; with it LEDGER_STORE is sqlite)", **kw)
    parser.add_argument("--log-format", choices=["auto", "json", "console"],
                        help="logs on stderr: JSON lines, or a console view (auto, the default: console on a "
                             "terminal, JSON otherwise and with --json)", **({"default": "auto"} if defaults else kw))


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ledger", description="Event-sourced billing ledger: accounts, charges, billing cycles, bills, payments.")
    _global_options(p, defaults=True)
    top = p.add_subparsers(dest="command", metavar="COMMAND")

    leaves: list[argparse.ArgumentParser] = []

    def leaf(parent: Any, name: str, func: Subcommand, help: str) -> argparse.ArgumentParser:  # noqa: A002
        sub = parent.add_parser(name, help=help, description=help)
        _global_options(sub, defaults=False)
        sub.set_defaults(func=func)
        leaves.append(sub)
        return sub

    def group(name: str, help: str) -> Any:  # noqa: A002
        g = top.add_parser(name, help=help, description=help)
        return g.add_subparsers(dest="action", metavar="ACTION", required=True)

    for module in GROUPS:
        module.register(top, leaf, group)
    for sub in leaves:  # how each subcommand's inputs are named on the command line, for its error messages
        sub.set_defaults(cli_options=_option_names(sub))
    return p


def _option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """{namespace attribute: the option as typed (--amount) or the positional's name (ACCOUNT)}."""
    return {action.dest: action.option_strings[-1] if action.option_strings else str(action.metavar or action.dest.upper())
            for action in parser._actions if action.dest not in ("help", argparse.SUPPRESS)}
