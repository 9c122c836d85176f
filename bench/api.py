"""HTTP API benchmark: `ledger serve` with 2 workers on PostgreSQL, loaded by wrk from outside the server's processes.

    python -m bench.api [--accounts 1000] [--charges-per-account 20] [--duration 10] [--connections 16] [--json]

Set-up (untimed, in-process): a fresh schema (``$LEDGER_BENCH_POSTGRES_URL``, or a throw-away server from
tests.support.postgres_server), a cycle specification, --accounts accounts with --charges-per-account charges each,
the October bill run (so each account has a bill), the read models caught up, an API key per role needed. Then
`ledger serve --workers 2` runs as its own processes and wrk (Debian's `wrk`: found on PATH, else installed with
`apt-get install -y wrk` when running as root; otherwise the bench stops and says so) measures:

1. GET billingAccount/{id} over random accounts: at a fixed rate of 500 requests/s, and at saturation; then at
   500/s again ("warm"): by then every account's body is cached in both workers, so that run measures the steady
   state, the first one mostly first visits (each worker builds a body the first time it serves an account);
2. GET customerBill?billingAccount.id=... (the list for one account): the same two;
3. POST appliedCustomerBillingRate one by one (a new charge each request): charges/s;
4. POST appliedCustomerBillingRate/batch with 1,000 charges a request: charges/s;
5. ceilings in the same run: the same server's /health at saturation (requests/s, p99) and at the fixed rate (the
   p99 a request doing no ledger work gets on this machine), and in-process charge
   posting (`Ledger.execute(PostCharges)` in batches of 1,000, as bench.core measures it) on the same database.

wrk (not wrk2) has no fixed-rate mode: the fixed rate is paced by a Lua `delay()` that keeps an absolute
schedule per wrk thread (LuaJIT's ffi reads the monotonic clock; one send every threads/rate seconds, whatever the
latency, on any of the connections free; a delay is in whole milliseconds, the schedule is not), so the achieved
rate is the target as long as the server keeps up, and is printed beside it; its latencies are wrk's own (per
request, from send to full response; wrk does not correct for coordinated omission, which at a paced rate well
under saturation matters little). Targets (GET by id p99 under
10 ms at 500/s; saturated GET by id at least 50% of /health's requests/s; batched POST at least 10,000 charges/s)
are printed beside the figures, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.core import OCTOBER, SPEC, Clock, account_input, account_ref, charge_input, loadavg, machine, postgres_target
from ledger.bootstrap import api_parts, api_tables, bootstrap, tune_gc
from ledger.commands import DefineCycleSpecification, OpenBillingAccount, PostCharges, TriggerBillingCycle
from ledger.commands.api_keys import create_api_key
from ledger.logging_setup import configure_logging

WORKERS = 2
FIXED_RATE = 500


def say(message: str) -> None:
    print(f"[bench.api] {message}", file=sys.stderr, flush=True)


def find_wrk() -> str:
    """wrk on PATH, else Debian's package installed (as root); how it was found is reported."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("wrk not found: installing Debian's package (apt-get install -y wrk)")
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("bench.api needs wrk: install it (Debian: apt-get install -y wrk) and run again")
    return found


# ---------------------------------------------------------------------------------------------- wrk and its scripts

_LUA_HEADER = """
local key = "{key}"
local paths = {{{paths}}}
local pace = {pace}
math.randomseed(os.time() + (wrk.thread and tonumber(tostring(wrk.thread):match("0x(%x+)") or "0", 16) or 0))
"""

GET_SCRIPT = _LUA_HEADER + """
request = function()
  return wrk.format("GET", paths[math.random(#paths)], {{["X-API-Key"] = key}})
end
if pace > 0 then  -- an absolute schedule per wrk thread: one send every `pace` ms, whatever the latency
  local ffi = require("ffi")
  ffi.cdef[[ typedef struct {{ long tv_sec; long tv_nsec; }} bench_timespec; int clock_gettime(int, bench_timespec *); ]]
  local ts = ffi.new("bench_timespec")
  local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end
  local next_at = nil
  delay = function()
    local now = now_ms()
    if next_at == nil or next_at < now - 100 then next_at = now end  -- more than 100 ms behind: start again
    local wait = next_at - now
    next_at = next_at + pace
    return wait > 0 and wait or 0
  end
end
"""

POST_SCRIPT = _LUA_HEADER + """
local counter = 0
local tag = tostring(math.random(1, 1000000000))
local batch = {batch}
local function charge(n)
  local account = paths[math.random(#paths)]
  return '{{"id":"w-' .. tag .. '-' .. n .. '","billingAccount":{{"id":"' .. account .. '"}},' ..
         '"type":"appliedBillingCharge","date":"2026-11-03T10:00:00Z",' ..
         '"taxExcludedAmount":{{"unit":"EUR","value":"1.25"}},' ..
         '"appliedTax":[{{"taxCategory":"VAT","taxRate":"20","taxAmount":{{"unit":"EUR","value":"0.25"}}}}]}}'
end
request = function()
  local headers = {{["X-API-Key"] = key, ["Content-Type"] = "application/json"}}
  if batch == 0 then
    counter = counter + 1
    return wrk.format("POST", "{path}", headers, charge(counter))
  end
  local items = {{}}
  for i = 1, batch do counter = counter + 1; items[i] = charge(counter) end
  return wrk.format("POST", "{path}", headers, "[" .. table.concat(items, ",") .. "]")
end
response = function(status, headers, body)
  if status >= 300 then io.write("unexpected status " .. status .. "\\n") end
end
"""


def _lua_list(values: list[str]) -> str:
    return ",".join(json.dumps(v) for v in values)


def run_wrk(wrk: str, url: str, script: str, duration: float, connections: int, threads: int = 2,
            timeout: int = 10) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        done = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{int(duration)}s", f"--timeout={timeout}s",
                               "--latency", "-s", f.name,
                               url], capture_output=True, text=True, timeout=duration + 60)
    finally:
        os.unlink(f.name)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr}\n{done.stdout}")
    return parse_wrk(done.stdout)


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    latency = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    unexpected = len(re.findall(r"unexpected status", out))
    return {"requests": requests, "rps": rate, "p50_ms": latency.get("50"), "p99_ms": latency.get("99"),
            "socket_errors": errors, "non_2xx": non2xx + unexpected}


# ---------------------------------------------------------------------------------------------- set-up


def set_up(settings: Any, accounts: int, charges_per_account: int) -> list[str]:
    clock = Clock(OCTOBER.post_at - timedelta(days=30))  # opened before its charges (a guard refuses others)
    ledger = bootstrap(settings, clock=clock)
    try:
        ledger.execute(DefineCycleSpecification.parse({"name": SPEC}))
        refs = [account_ref(i) for i in range(accounts)]
        for ref in refs:
            ledger.execute(OpenBillingAccount.parse(account_input(ref, SPEC)))
        clock.now = OCTOBER.post_at
        rng = random.Random(7)
        charges = [charge_input(rng, OCTOBER, ref, j) for ref in refs for j in range(charges_per_account)]
        for k in range(0, len(charges), 2000):
            posted = ledger.execute(PostCharges.parse({"charges": charges[k:k + 2000]}))
            if posted.rejected:  # the GETs would measure empty accounts
                raise RuntimeError(f"bench.api set-up: charges refused, e.g. {posted.rejected[0]}")
        clock.now = OCTOBER.bill_at
        run = ledger.execute(TriggerBillingCycle.parse({"specification": SPEC, "period_start": OCTOBER.period_start,
                                                        "trigger_type": "system", "triggered_by": "bench.api"}))
        if accounts and not run.accounts_billed:
            raise RuntimeError(f"bench.api set-up: the October bill run billed no account ({run})")
    finally:
        ledger.close()
    parts = api_parts(settings)
    with parts.listing():  # the read models, caught up once (the server's lists then have little to catch up)
        pass
    parts.close()
    return refs


def in_process_posting(settings: Any, refs: list[str], charges: int, batch: int) -> dict[str, Any]:
    """The ceiling: PostCharges batches through Ledger.execute on the same database, timed as bench.core does."""
    clock = Clock(OCTOBER.post_at + timedelta(days=20))
    ledger = bootstrap(settings, clock=clock)
    rng = random.Random(11)
    inputs = [{**charge_input(rng, OCTOBER, refs[rng.randrange(len(refs))], j), "charge_id": f"inproc-{j}",
               "date": "2026-11-04T10:00:00Z"} for j in range(charges)]
    seconds = 0.0
    try:
        for k in range(0, len(inputs), batch):
            started = time.perf_counter()
            result = ledger.execute(PostCharges.parse({"charges": inputs[k:k + batch]}))
            seconds += time.perf_counter() - started
            assert result.applied == len(inputs[k:k + batch]), result.rejected[:3]
    finally:
        ledger.close()
    return {"charges": charges, "seconds": seconds, "charges_per_s": charges / seconds}


def listing_choice(settings: Any, refs: list[str], repeat: int = 20) -> dict[str, Any]:
    """What feeds the list endpoints, measured: the read models (one indexed select, and its count) against the
    event store (one account: load it for its bills' ids; across accounts: every bill's creation event read from the
    notification log and each bill loaded to filter on its state)."""
    from eventsourcing.utils import get_topic

    from ledger.aggregates.customer_bill import CustomerBill
    from ledger.bootstrap import read_store
    from ledger.commands.lookups import load_account
    from ledger.projections.listing import select
    from ledger.projections.tables import BILLS

    parts = api_parts(settings)
    store = read_store(settings)
    rng = random.Random(3)

    def timed(work: Any) -> float:
        started = time.perf_counter()
        for _ in range(repeat):
            work()
        return (time.perf_counter() - started) / repeat * 1000

    try:
        with parts.listing() as db:
            one_rm = timed(lambda: select(db, BILLS, equal={"account_ref": rng.choice(refs)}, ranges={}, within=None,
                                          order=["bill_date"], offset=0, limit=100, columns=["bill_id"]))
            all_rm = timed(lambda: select(db, BILLS, equal={"state": "sent"}, ranges={}, within=None, order=["bill_date"],
                                          offset=0, limit=100, columns=["bill_id"]))
        one_es = timed(lambda: list(load_account(store, rng.choice(refs)).bills.values()))

        def scan() -> None:
            found = [e.originator_id for e in store.created([get_topic(CustomerBill.Issued)])]
            [b for b in store.load_many(CustomerBill, found).values() if b is not None and b.state == "sent"]

        all_es = timed(scan) if repeat else 0.0
    finally:
        store.close()
        parts.close()
    return {"bills_of_one_account": {"read_models_ms": one_rm, "event_store_ms": one_es},
            "bills_in_a_state_across_accounts": {"read_models_ms": all_rm, "event_store_ms": all_es,
                                                 "bills": len(refs)}}


def serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "ledger", "serve", "--host", "127.0.0.1", "--port", str(port),
                                    "--workers", str(WORKERS)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=tempfile.gettempdir())
    deadline = time.monotonic() + 180  # two workers importing and building the app on a loaded 2-core machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"ledger serve did not answer /health within 180 s:\n{log.read_text()}")


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--charges-per-account", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections at saturation")
    parser.add_argument("--json", action="store_true")
    a = parser.parse_args(argv)
    tune_gc()
    configure_logging("WARNING", True)
    wrk = find_wrk()
    doc: dict[str, Any] = {"machine": machine(), "loadavg_start": loadavg(), "wrk": wrk, "workers": WORKERS}
    with postgres_target() as target:
        settings = target.settings(read_model_schema=f"{target.schema}_read", log_level="WARNING")
        say(f"set-up: {a.accounts} accounts x {a.charges_per_account} charges, the October bill run")
        refs = set_up(settings, a.accounts, a.charges_per_account)
        records = api_tables(settings)
        keys = {role: create_api_key(records, role, None, "bench", time.time())[0] for role in ("reporting", "rating")}
        records.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")} | {
            "LEDGER_STORE": "postgres", "LEDGER_POSTGRES_URL": target.url, "LEDGER_POSTGRES_SCHEMA": target.schema,
            "LEDGER_READ_MODEL_SCHEMA": f"{target.schema}_read", "LEDGER_LOG_LEVEL": "WARNING",
            "LEDGER_API_MAX_BATCH": "1000"}
        port = int(subprocess.check_output([sys.executable, "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0));"
                                            "print(s.getsockname()[1])"]).strip())
        log = Path(tempfile.mkdtemp(prefix="ledger-bench-api-")) / "serve.log"
        say(f"ledger serve --workers {WORKERS} on port {port} (log {log})")
        server = serve(env, port, log)
        base = f"http://127.0.0.1:{port}"
        account_paths = [f"/tmf-api/accountManagement/v4/billingAccount/{r}" for r in refs]
        bill_paths = [f"/tmf-api/customerBillManagement/v4/customerBill?billingAccount.id={r}" for r in refs]
        fixed_connections = 10
        pace = 2 / FIXED_RATE * 1000  # ms between two sends of one of wrk's 2 threads
        results: dict[str, Any] = {}
        try:
            def get(name: str, paths: list[str], paced: bool) -> None:
                script = GET_SCRIPT.format(key=keys["reporting"], paths=_lua_list(paths), pace=pace if paced else 0)
                say(f"wrk: {name}")
                results[name] = run_wrk(wrk, base, script, a.duration, fixed_connections if paced else a.connections)

            run_wrk(wrk, base, GET_SCRIPT.format(key=keys["reporting"], paths=_lua_list(account_paths[:50]), pace=0), 3,
                    a.connections)  # warm-up: connections, prepared statements
            get("health_saturated", ["/health"], paced=False)
            get("health_500", ["/health"], paced=True)  # the p99 ceiling at the fixed rate: no ledger work at all
            get("account_by_id_500", account_paths, paced=True)
            get("account_by_id_saturated", account_paths, paced=False)
            get("account_by_id_500_warm", account_paths, paced=True)  # every body cached by now: the steady state
            get("bill_list_500", bill_paths, paced=True)
            get("bill_list_saturated", bill_paths, paced=False)
            for name, path, batch, connections in (
                    ("post_one_by_one", "/tmf-api/customerBillManagement/v4/appliedCustomerBillingRate", 0, a.connections),
                    ("post_batches_1000", "/tmf-api/customerBillManagement/v4/appliedCustomerBillingRate/batch", 1000, 4)):
                script = POST_SCRIPT.format(key=keys["rating"], paths=_lua_list(refs), pace=0, batch=batch, path=path)
                say(f"wrk: {name}")
                r = run_wrk(wrk, base, script, a.duration, connections, timeout=60)
                r["charges_per_s"] = r["rps"] * max(batch, 1)
                results[name] = r
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)
        say("ceiling: in-process charge posting (PostCharges, batches of 1,000)")
        results["in_process_posting"] = in_process_posting(settings, refs, 20_000, 1000)
        say("what feeds the lists: read models against the event store")
        doc["listing"] = listing_choice(settings, refs)
        doc["results"] = results
        doc["loadavg_end"] = loadavg()
    if a.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        print_table(doc)
    return 0


def print_table(doc: dict[str, Any]) -> None:
    r = doc["results"]
    health = r["health_saturated"]
    inproc = r["in_process_posting"]["charges_per_s"]

    def row(label: str, x: dict[str, Any], target: str = "") -> str:
        return (f"| {label} | {x['rps']:,.0f}/s | {x['p50_ms']:.2f} ms | {x['p99_ms']:.2f} ms | "
                f"{x['non_2xx'] + x['socket_errors']} | {target} |")

    lines = ["| measure | throughput | p50 | p99 | errors | target |", "|---|---|---|---|---|---|",
             row("health, saturated (ceiling)", health),
             row(f"health at {FIXED_RATE}/s (p99 ceiling)", r["health_500"]),
             row(f"GET billingAccount by id at {FIXED_RATE}/s", r["account_by_id_500"], "p99 < 10 ms: "
                 + ("met" if r["account_by_id_500"]["p99_ms"] < 10 else "**not met**")
                 + f"; p99 {r['account_by_id_500']['p99_ms'] / r['health_500']['p99_ms']:.1f}x health's at the same rate"),
             row(f"GET billingAccount by id at {FIXED_RATE}/s, bodies cached", r["account_by_id_500_warm"], "p99 < 10 ms: "
                 + ("met" if r["account_by_id_500_warm"]["p99_ms"] < 10 else "**not met**")
                 + f"; p99 {r['account_by_id_500_warm']['p99_ms'] / r['health_500']['p99_ms']:.1f}x health's"),
             row("GET billingAccount by id, saturated", r["account_by_id_saturated"],
                 f"ratio to health {r['account_by_id_saturated']['rps'] / health['rps']:.2f} (>= 0.50: "
                 + ("met" if r["account_by_id_saturated"]["rps"] >= 0.5 * health["rps"] else "**not met**") + ")"),
             row(f"GET customerBill list of an account at {FIXED_RATE}/s", r["bill_list_500"]),
             row("GET customerBill list of an account, saturated", r["bill_list_saturated"]),
             row("POST appliedCustomerBillingRate, one by one", r["post_one_by_one"],
                 f"{r['post_one_by_one']['charges_per_s']:,.0f} charges/s"),
             row("POST appliedCustomerBillingRate/batch, 1,000 a request", r["post_batches_1000"],
                 f"{r['post_batches_1000']['charges_per_s']:,.0f} charges/s (>= 10,000: "
                 + ("met" if r["post_batches_1000"]["charges_per_s"] >= 10_000 else "**not met**")
                 + f"); in-process ceiling {inproc:,.0f}/s, ratio {r['post_batches_1000']['charges_per_s'] / inproc:.2f}")]
    print("\n".join(lines))
    lst = doc["listing"]
    print(f"\nlists: bills of one account {lst['bills_of_one_account']['read_models_ms']:.2f} ms from the read models, "
          f"{lst['bills_of_one_account']['event_store_ms']:.2f} ms from the event store; bills in one state across "
          f"{lst['bills_in_a_state_across_accounts']['bills']} accounts "
          f"{lst['bills_in_a_state_across_accounts']['read_models_ms']:.2f} ms from the read models, "
          f"{lst['bills_in_a_state_across_accounts']['event_store_ms']:.2f} ms from the event store")
    print(f"load average {doc['loadavg_start']} -> {doc['loadavg_end']}; {doc['machine']}")


if __name__ == "__main__":
    raise SystemExit(main())


