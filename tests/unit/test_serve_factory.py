"""The worker's app factory (ledger.http.server.app): built from LEDGER_* settings, its start-up heap frozen."""

from __future__ import annotations

import gc

import pytest

from ledger.http import server


def test_the_start_up_heap_is_left_out_of_later_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the factory ran, the objects alive at start-up are frozen (gc.freeze): no collection traverses them."""
    monkeypatch.setenv("LEDGER_STORE", "memory")
    monkeypatch.setattr(server, "create_app", lambda parts: object())
    monkeypatch.setattr(server, "api_parts", lambda settings: None)
    monkeypatch.setattr(server, "configure_logging", lambda level, json: None)
    thresholds = gc.get_threshold()
    try:
        server.app()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
