"""Benchmarks of the ledger (run from the repository root, e.g. ``python -m bench.core``)."""
