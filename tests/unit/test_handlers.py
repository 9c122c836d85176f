"""The handler table: every command has exactly one handler, and every handler returns a typed result."""

from __future__ import annotations

import typing

import ledger.commands as commands
from ledger.commands.base import Command
from ledger.commands.handlers import HANDLERS, handler_for
from ledger.commands.results import Result

INPUT_PARTS = {"AppliedTax", "Allocation", "PaymentMethodRef"}  # validated pieces of other commands' input


def test_every_exported_command_has_a_handler() -> None:
    """Each command the package exports (not the pieces of another's input) is in the table."""
    exported = {name for name in commands.__all__ if name not in INPUT_PARTS}
    assert exported == {cls.__name__ for cls in HANDLERS}


def test_every_handler_returns_a_typed_result() -> None:
    """Each handler's return annotation is a Result model (what responses are built from)."""
    for command, handler in HANDLERS.items():
        returned = typing.get_type_hints(handler)["return"]
        assert issubclass(returned, Result), (command.__name__, returned)


def test_a_command_without_a_handler_is_refused() -> None:
    """Looking up an unknown command type fails loudly instead of doing nothing."""

    class Unhandled(Command):
        pass

    try:
        handler_for(Unhandled())
    except TypeError as error:
        assert "no handler for Unhandled" in str(error)
    else:
        raise AssertionError("an unknown command found a handler")
