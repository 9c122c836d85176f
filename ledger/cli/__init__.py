"""The `ledger` command line: an entry point that only translates (arguments -> command or query -> output)."""

from ledger.cli.app import main

__all__ = ["main"]
