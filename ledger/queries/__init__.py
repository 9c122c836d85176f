"""The read side every entry point shares: account and bill views, history as of a moment, verify."""
