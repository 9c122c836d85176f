"""End-to-end: the rules on time through the CLI (an early cycle run and its reason, a reversal's --date)."""

from __future__ import annotations

import json

from tests.e2e.test_cli import ok, scripted_session


def test_an_early_cycle_run_needs_the_flag_and_a_reason_and_is_recorded(cli) -> None:
    """Before November's cut-off: refused without --early-run, then without a reason; with both it runs, saying so."""
    scripted_session(cli)
    run = ["cycle", "run", "--spec", "monthly-1", "--period-start", "2026-11-01", "--trigger-type", "person", "--by", "bob"]
    refused = cli(*run, at="2026-11-20T00:00:00Z")
    assert refused.returncode == 2 and "[period_not_over]" in refused.stderr and "early run" in refused.stderr
    no_reason = cli(*run, "--early-run", at="2026-11-20T00:00:00Z")
    assert no_reason.returncode == 2 and "reason" in no_reason.stderr
    done = ok(cli(*run, "--early-run", "--reason", "account closes on the 21st", at="2026-11-20T00:00:00Z"))
    assert "EARLY RUN before the period's cut-offs" in done.stdout


def test_a_reversal_takes_its_date_and_the_effective_state_follows_it(cli) -> None:
    """`payment reverse --date`: on the effective basis the payment counts until that date, then is canceled."""
    scripted_session(cli)
    ok(cli("payment", "reverse", "P1", "--kind", "bouncedCheck", "--date", "2026-11-10T00:00:00Z",
           at="2026-11-12T00:00:00Z"))

    def status(moment: str) -> str:
        state = json.loads(ok(cli("--json", "history", "ACC-1", "--as-of", moment, "--basis", "effective")).stdout)["state"]
        return state["payments"][0]["status"]

    assert (status("2026-11-09T23:59:59Z"), status("2026-11-10T00:00:00Z")) == ("done", "canceled")
    late = cli("payment", "reverse", "P1", "--kind", "bouncedCheck", at="2026-11-13T00:00:00Z")
    assert late.returncode == 2 and "--date: Field required" in late.stderr
