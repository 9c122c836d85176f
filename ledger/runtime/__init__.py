"""The frame every long-running process runs in (`ledger relay`, `ingest`, `project`, and the processes later
issues add): a supervision loop that rides out dependency outages (reconnect with capped exponential backoff and
jitter, an outage logged once a period, a give-up limit), a watchdog, graceful stop, and the liveness, readiness
and Prometheus metrics endpoints. A process plugs in a `Worker` (supervisor.py); README "Long-running processes"."""
