"""Offering lifecycle and the catalogue/subscription lists on SQLite and PostgreSQL: read models follow the
lifecycle (projection, verify, rebuild), and the CLI lists select from them (through `ledger.cli.app.main`)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.bootstrap import local_projection, read_model_db
from ledger.cli.app import main
from ledger.commands import ChangeOfferingLifecycle, ChangeSubscription, SuspendSubscription
from ledger.errors import OfferingNotSellable
from ledger.projections.rebuild import rebuild
from ledger.projections.tables import PRODUCT_OFFERINGS
from ledger.projections.verify import verify_read_models
from ledger.service import Ledger
from ledger.settings import Settings
from tests.integration.conftest import SettingsFactory
from tests.support.ledger_factory import FakeClock, define_spec, make_ledger, open_account
from tests.support.master_data import define_offering, recurring_price, subscribe
from tests.support.pipeline import process_env

NOW = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
def catalogue(settings: Settings) -> Iterator[Ledger]:
    """Offerings BASIC (retired after S-1), PLUS (launched) and BETA (in test); S-1 on BASIC, S-2 and S-3 on PLUS
    (S-3 starts in December), S-2 suspended."""
    ledger = make_ledger(settings, FakeClock(datetime(2026, 10, 1, tzinfo=UTC)))
    define_spec(ledger)
    open_account(ledger, "A")
    open_account(ledger, "B")
    for ref in ("BASIC", "PLUS", "BETA"):
        define_offering(ledger, ref, recurring_price("31.00"))
    subscribe(ledger, "S-1", "A", "BASIC", "2026-10-15")
    subscribe(ledger, "S-2", "B", "PLUS", "2026-10-15")
    subscribe(ledger, "S-3", "A", "PLUS", "2026-12-01")
    for ref, status in (("BASIC", "Retired"), ("PLUS", "Launched"), ("BETA", "In test")):
        ledger.execute(ChangeOfferingLifecycle.parse({"offering_id": ref, "status": status}))
    ledger.clock.set(NOW)  # type: ignore[attr-defined]
    ledger.execute(SuspendSubscription.parse({"subscription_id": "S-2", "effective_date": "2026-11-18"}))
    yield ledger
    ledger.close()


def _feed(ledger: Ledger, db: Any) -> int:
    return local_projection(ledger, db)


def test_the_offering_rows_follow_the_lifecycle_and_verify(catalogue: Ledger, settings: Settings) -> None:
    """Each offering's row carries its lifecycle status; verify agrees with the event store."""
    db = read_model_db(settings)
    _feed(catalogue, db)
    rows = {r["offering_ref"]: r["lifecycle_status"] for r in db.all_rows(PRODUCT_OFFERINGS)}
    assert rows == {"BASIC": "Retired", "PLUS": "Launched", "BETA": "In test"}
    assert verify_read_models(catalogue.store, db).ok
    db.close()


def test_verify_reports_a_tampered_lifecycle_status(catalogue: Ledger, settings: Settings) -> None:
    """A row whose lifecycle status disagrees with the event store is a difference."""
    db = read_model_db(settings)
    _feed(catalogue, db)
    row = next(r for r in db.all_rows(PRODUCT_OFFERINGS) if r["offering_ref"] == "BASIC")
    with db.transaction():
        db.upsert(PRODUCT_OFFERINGS, [{**row, "lifecycle_status": "Active"}])
    report = verify_read_models(catalogue.store, db)
    assert not report.ok and any("lifecycle_status is Active" in d for d in report.differences)
    db.close()


def test_a_rebuild_gives_the_same_lifecycle_rows(catalogue: Ledger, settings: Settings) -> None:
    """Rebuilding the read models from the events gives the same offering rows."""
    db = read_model_db(settings)
    _feed(catalogue, db)
    before = db.all_rows(PRODUCT_OFFERINGS)
    db.close()
    assert rebuild(settings, read_model_db, lambda fresh: _feed(catalogue, fresh)) > 0
    after = read_model_db(settings)
    assert after.all_rows(PRODUCT_OFFERINGS) == before and verify_read_models(catalogue.store, after).ok
    after.close()


def test_the_sellable_rule_holds_on_the_store(catalogue: Ledger) -> None:
    """A change to the offering in test is refused; the retired offering's subscription is unchanged."""
    with pytest.raises(OfferingNotSellable):
        catalogue.execute(ChangeSubscription.parse({"subscription_id": "S-1", "offering_id": "BETA",
                                                    "effective_date": "2026-12-01"}))
    with pytest.raises(OfferingNotSellable):
        subscribe(catalogue, "S-9", "B", "BASIC", "2026-12-01")


# ---------------------------------------------------------------- the CLI lists


@pytest.fixture
def cli(catalogue: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, Any]]:
    """`ledger --json ARGS` in this process on the catalogue's store, at NOW; (exit code, the JSON it printed)."""
    for name in [k for k in os.environ if k.startswith("LEDGER_")]:
        monkeypatch.delenv(name)
    for name, value in process_env(settings).items():
        if name.startswith("LEDGER_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("LEDGER_FIXED_NOW", NOW.isoformat())

    def run(*args: str) -> tuple[int, Any]:
        code = main(["--json", "--log-level", "ERROR", *args])
        out = capsys.readouterr().out
        return code, json.loads(out) if out.strip() else None

    return run


def test_cli_offering_list_filters_by_status_and_pages(cli: Callable[..., tuple[int, Any]]) -> None:
    """`offering list` in creation order (then by id: all three were made at one moment) with the total;
    --status selects in the read model."""
    code, page = cli("offering", "list", "--limit", "2")
    assert code == 0 and page["total"] == 3 and [o["offering_id"] for o in page["offerings"]] == ["BASIC", "BETA"]
    _, retired = cli("offering", "list", "--status", "Retired")
    assert retired["total"] == 1 and retired["offerings"][0]["sellable"] is False
    _, rest = cli("offering", "list", "--offset", "2")
    assert [o["offering_id"] for o in rest["offerings"]] == ["PLUS"]


def test_cli_offering_show_and_lifecycle(cli: Callable[..., tuple[int, Any]]) -> None:
    """`offering lifecycle` moves the status (a refused move exits 2); `offering show` reads it back."""
    code, moved = cli("offering", "lifecycle", "BETA", "--status", "Active", "--reason", "tests passed")
    assert code == 0 and (moved["from_status"], moved["status"], moved["changed"]) == ("In test", "Active", True)
    code, refused = cli("offering", "lifecycle", "BASIC", "--status", "In design")
    assert code == 2 and refused["error"] == "invalid_lifecycle_transition"
    _, shown = cli("offering", "show", "BETA")
    assert shown["lifecycle_status"] == "Active" and shown["prices"][0]["price_id"] == "monthly"


def test_cli_price_list_by_offering(cli: Callable[..., tuple[int, Any]]) -> None:
    """`price list` lists every price, or one offering's."""
    _, every = cli("price", "list")
    assert every["total"] == 3
    _, one = cli("price", "list", "--offering", "PLUS")
    assert [(p["offering_id"], p["price_id"]) for p in one["prices"]] == [("PLUS", "monthly")]


def test_cli_subscription_list_filters_account_status_and_offering(cli: Callable[..., tuple[int, Any]]) -> None:
    """`subscription list` filters by account, status today and offering, with exact totals."""
    _, every = cli("subscription", "list")
    assert every["total"] == 3
    _, on_a = cli("subscription", "list", "--account", "A")
    assert [s["subscription_id"] for s in on_a["subscriptions"]] == ["S-1", "S-3"]
    _, suspended = cli("subscription", "list", "--status", "suspended")
    assert [s["subscription_id"] for s in suspended["subscriptions"]] == ["S-2"]
    _, created = cli("subscription", "list", "--status", "created", "--offering", "PLUS")
    assert created["total"] == 1 and created["subscriptions"][0]["subscription_id"] == "S-3"
    _, show = cli("subscription", "show", "S-2")
    assert show["status"] == "suspended"
