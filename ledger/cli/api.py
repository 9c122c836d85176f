"""`ledger serve` (the HTTP API on uvicorn), `ledger notify` (the TMF hub's notifier) and `ledger api-key ...`."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from ledger.bootstrap import api_tables
from ledger.cli.context import App, Outcome
from ledger.cli.output import table
from ledger.commands.api_keys import ROLES, create_api_key, key_info, revoke_api_key


def do_serve(app: App, a: argparse.Namespace) -> Outcome:
    import uvicorn

    s = app.settings
    host, port, workers = a.host or s.api_host, a.port if a.port is not None else s.api_port, a.workers or s.api_workers
    # each worker builds its own app (and Ledger) from the LEDGER_* environment: ledger.http.server.app
    uvicorn.run("ledger.http.server:app", factory=True, host=host, port=port, workers=workers, access_log=False,
                log_level="warning", server_header=False, timeout_graceful_shutdown=10)
    return Outcome({"served": f"{host}:{port}", "workers": workers}, f"stopped serving on {host}:{port}")


def do_notify(app: App, a: argparse.Namespace) -> Outcome:
    """The notifier in the frame of ledger.runtime, like the relay: rides out database outages with backoff,
    /livez /readyz /metrics on LEDGER_HEALTH_PORT, stops after the POSTs in flight on SIGTERM/SIGINT."""
    from ledger.bootstrap import notifier, run_supervised
    from ledger.cli.streams import _RunControl

    control = _RunControl(a.idle_exit)
    run_supervised(app.settings, "notify", lambda: notifier(app.settings), control.stop, control.step)
    return Outcome({"delivered": control.done}, f"notifier stopped ({control.done} notifications delivered)")


def do_key_create(app: App, a: argparse.Namespace) -> Outcome:
    records = api_tables(app.settings)
    try:
        key, record = create_api_key(records, a.role, a.account, a.label or "", time.time())
    finally:
        records.close()
    info = {**key_info(record), "key": key}
    return Outcome(info, f"API key {record.key_id} ({record.role}"
                         + (f", accounts {', '.join(sorted(record.accounts))}" if record.accounts else "")
                         + f"); shown once, keep it now:\n{key}")


def do_key_list(app: App, a: argparse.Namespace) -> Outcome:
    records = api_tables(app.settings)
    try:
        keys = [key_info(r) for r in records.keys()]
    finally:
        records.close()
    stamp = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else "-"  # noqa: E731
    rows = [[k["key_id"], k["role"], ",".join(k["accounts"] or []) or "-", k["label"], stamp(k["created_at"]),  # type: ignore[arg-type]
             stamp(k["last_used_at"]), "revoked" if k["revoked_at"] else "active"] for k in keys]
    return Outcome(keys, table(["KEY", "ROLE", "ACCOUNTS", "LABEL", "CREATED", "LAST USED", "STATE"], rows))


def do_key_revoke(app: App, a: argparse.Namespace) -> Outcome:
    records = api_tables(app.settings)
    try:
        revoke_api_key(records, a.key_id, time.time())
    finally:
        records.close()
    return Outcome({"revoked": a.key_id}, f"API key {a.key_id} revoked")


def register(top: Any, leaf: Callable[..., argparse.ArgumentParser], group: Callable[[str, str], Any]) -> None:
    s = leaf(top, "serve", do_serve, "serve the HTTP API (TMF666, TMF678, TMF676) with uvicorn")
    s.add_argument("--host", help="address to listen on (default LEDGER_API_HOST, 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default LEDGER_API_PORT, 8080)")
    s.add_argument("--workers", type=int, help="worker processes (default LEDGER_API_WORKERS, 1)")
    s = leaf(top, "notify", do_notify, "deliver TMF event notifications to the hub's listeners")
    s.add_argument("--idle-exit", type=float, help="exit after this many seconds with nothing to do")
    g = group("api-key", "API keys of the HTTP API (stored as hashes; a key is shown once)")
    s = leaf(g, "create", do_key_create, "create an API key for a role")
    s.add_argument("--role", required=True, choices=ROLES)
    s.add_argument("--account", action="append", help="a customer key's billing account (repeatable)")
    s.add_argument("--label", help="what the key is for")
    leaf(g, "list", do_key_list, "list API keys (never the keys themselves)")
    s = leaf(g, "revoke", do_key_revoke, "revoke an API key by its key id")
    s.add_argument("key_id")
