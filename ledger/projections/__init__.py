"""Read models built from the ledger's event stream: balances, bills and payments for reporting services."""
