"""Event-sourced aggregates of the billing domain (pure: no I/O)."""
