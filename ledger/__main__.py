"""`python -m ledger`: the same command line as the `ledger` script."""

from ledger.cli.app import main

raise SystemExit(main())
