"""Adapters at the edge: concrete implementations of the ports in ledger/ports.py."""
