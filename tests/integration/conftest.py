"""Integration fixtures: settings for either store, the Avro schema registry, and per-test streaming settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.bootstrap import ensure_ledger_topics
from ledger.contracts.codec import SchemaRegistry
from ledger.service import Ledger
from ledger.settings import Settings
from tests.support.ledger_factory import make_ledger, postgres_settings, sqlite_settings
from tests.support.onboarding import MASTER_KEY
from tests.support.pipeline import drop_read_schemas, stream_settings
from tests.support.streams import play_story

SettingsFactory = Callable[..., Settings]


@pytest.fixture(params=["sqlite", "postgres"])
def make_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SettingsFactory]:
    """Builds Settings for the parametrized store; each call points at the same database (and read models)."""
    if request.param == "sqlite":
        yield lambda **overrides: sqlite_settings(tmp_path / "ledger.sqlite",
                                                  **{"read_model_sqlite_path": tmp_path / "read.sqlite", **overrides})
        return
    url, schema = request.getfixturevalue("postgres_schema")
    made: list[Settings] = []

    def make(**overrides: object) -> Settings:
        made.append(postgres_settings(url, schema, **{"read_model_schema": f"{schema}_read", **overrides}))
        return made[-1]

    yield make
    if made:
        drop_read_schemas(made[-1])


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


@pytest.fixture
def make_stream_settings(postgres_schema: tuple[str, str]) -> Iterator[Callable[..., Settings]]:
    """Settings on a given broker with this test's own topics, group and read-model schema (dropped after)."""
    made: list[Settings] = []

    def make(bootstrap: str, **overrides: object) -> Settings:
        settings = stream_settings(*postgres_schema, bootstrap, **overrides)
        ensure_ledger_topics(settings)
        made.append(settings)
        return settings

    yield make
    for settings in made:
        drop_read_schemas(settings)


@pytest.fixture
def sealed_settings(make_settings: SettingsFactory) -> Settings:
    """Settings (either store) with a master key, so customers' and payment methods' personal data can be sealed."""
    return make_settings(master_key=MASTER_KEY)


@pytest.fixture
def story_settings(sealed_settings: Settings) -> Settings:
    """The story's settings: sealed, as the demo's customer has personal data."""
    return sealed_settings


@pytest.fixture
def story_ledger(story_settings: Settings) -> Iterator[Ledger]:
    """A ledger (either store) on which the README demo's story has been played."""
    ledger = make_ledger(story_settings)
    play_story(ledger)
    yield ledger
    ledger.close()


@pytest.fixture
def api(make_settings: SettingsFactory) -> Iterator[Any]:
    """The HTTP API in-process on the parametrized store (tests/support/api.py), its clock at 2026-10-01."""
    from tests.support.api import api_on
    from tests.support.ledger_factory import FakeClock

    with api_on(make_settings(), FakeClock()) as on:
        yield on


@pytest.fixture
def sealed_api(sealed_settings: Settings) -> Iterator[Any]:
    """The HTTP API in-process with a master key (personal data can be sealed), its clock at 2026-10-01."""
    from tests.support.api import api_on
    from tests.support.ledger_factory import FakeClock

    with api_on(sealed_settings, FakeClock()) as on:
        yield on
