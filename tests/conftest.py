"""Suite-wide fixtures: a real PostgreSQL server (lazy), a fresh schema per test, a real Kafka broker (lazy)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:  # plain `pytest` does not put the repo root on sys.path
    sys.path.insert(0, _ROOT)

from tests.support.kafka_server import KafkaServer, KafkaServerError, kafka_broker  # noqa: E402
from tests.support.postgres_server import (  # noqa: E402
    PostgresServerError,
    drop_schema,
    fresh_schema,
    postgres_server,
)

_POSTGRES_FIXTURES = {"postgres_url", "postgres_schema"}
_KAFKA_FIXTURES = {"kafka_bootstrap", "kafka_server"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests using PostgreSQL / Kafka with ``postgres`` / ``kafka`` (so ``-m 'not kafka'`` works)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if _POSTGRES_FIXTURES & fixtures:
            item.add_marker(pytest.mark.postgres)
        if _KAFKA_FIXTURES & fixtures:
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """libpq URL of a real PostgreSQL server; started on first use, stopped at session end."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(postgres_server())
        except (PostgresServerError, OSError) as exc:
            reason = f"no PostgreSQL server for the tests: {exc}"
            if _in_ci():
                pytest.fail(reason, pytrace=False)
            pytest.skip(reason)
        yield url


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[tuple[str, str]]:
    """``(url, schema_name)`` of a fresh empty schema, dropped (CASCADE) after the test."""
    name = fresh_schema(postgres_url)
    yield postgres_url, name
    drop_schema(postgres_url, name)


@pytest.fixture(scope="session")
def _kafka() -> Iterator[tuple[str, KafkaServer | None]]:
    """``(bootstrap, server)``: server is None when ``$LEDGER_TEST_KAFKA_BOOTSTRAP`` names the broker."""
    with contextlib.ExitStack() as stack:
        try:
            found = stack.enter_context(kafka_broker())
        except (KafkaServerError, OSError) as exc:
            reason = f"no Kafka broker for the tests: {exc}"
            if _in_ci():
                pytest.fail(reason, pytrace=False)
            pytest.skip(reason)
        yield found


@pytest.fixture(scope="session")
def kafka_bootstrap(_kafka: tuple[str, KafkaServer | None]) -> str:
    """``host:port`` of a real Kafka broker; started on first use, stopped at session end."""
    return _kafka[0]


@pytest.fixture
def kafka_server(_kafka: tuple[str, KafkaServer | None]) -> Iterator[KafkaServer]:
    """The broker this suite started (to stop/start it); skips when an external broker is configured.

    Left running after the test, even if the test stopped it.
    """
    server = _kafka[1]
    if server is None:
        pytest.skip("the Kafka broker is external ($LEDGER_TEST_KAFKA_BOOTSTRAP); cannot stop/start it")
    yield server
    server.start()  # a no-op unless the test left it stopped
