"""Suite-wide fixtures: a real PostgreSQL server (lazy), a fresh schema per test, a real Kafka broker (lazy)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:  # plain `pytest` does not put the repo root on sys.path
    sys.path.insert(0, _ROOT)

from tests.support.kafka_server import KafkaServer, KafkaServerError, kafka_broker  # noqa: E402
from tests.support.postgres_server import (  # noqa: E402
    PostgresServer,
    PostgresServerError,
    drop_schema,
    fresh_schema,
    postgres_server,
)

_POSTGRES_FIXTURES = {"postgres_url", "postgres_schema", "postgres_server_control"}
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


def _service(stack: contextlib.ExitStack, provider: Any, errors: tuple[type[Exception], ...], what: str) -> Any:
    """Enter a server's context; without one, skip locally but fail under CI (a missing service is a failure)."""
    try:
        return stack.enter_context(provider)
    except errors as exc:
        reason = f"no {what} for the tests: {exc}"
        if _in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """libpq URL of a real PostgreSQL server; started on first use, stopped at session end."""
    with contextlib.ExitStack() as stack:
        yield _service(stack, postgres_server(), (PostgresServerError, OSError), "PostgreSQL server")


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[tuple[str, str]]:
    """``(url, schema_name)`` of a fresh empty schema, dropped (CASCADE) after the test."""
    name = fresh_schema(postgres_url)
    yield postgres_url, name
    drop_schema(postgres_url, name)


@pytest.fixture(scope="session")
def _own_postgres() -> Iterator[PostgresServer]:
    """A throw-away cluster of this suite's own, apart from the shared one: tests stop and start it, and crash it
    (pg_ctl -m immediate), so a commit must survive that: synchronous_commit on (the shared server's is off)."""
    with contextlib.ExitStack() as stack:
        yield _service(stack, PostgresServer(synchronous_commit="on"), (PostgresServerError, OSError),
                       "stoppable PostgreSQL server")


@pytest.fixture
def postgres_server_control(_own_postgres: PostgresServer) -> Iterator[PostgresServer]:
    """A PostgreSQL server the test may stop (`halt`) and start again (`resume`) on the same port and data
    directory; running again after the test."""
    yield _own_postgres
    if not _own_postgres.running:
        _own_postgres.resume()


@pytest.fixture(scope="session")
def _kafka() -> Iterator[tuple[str, KafkaServer | None]]:
    """``(bootstrap, server)``: server is None when ``$LEDGER_TEST_KAFKA_BOOTSTRAP`` names the broker."""
    with contextlib.ExitStack() as stack:
        yield _service(stack, kafka_broker(), (KafkaServerError, OSError), "Kafka broker")


@pytest.fixture(scope="session")
def kafka_bootstrap(_kafka: tuple[str, KafkaServer | None]) -> str:
    """``host:port`` of a real Kafka broker; started on first use, stopped at session end."""
    return _kafka[0]


@pytest.fixture(scope="session")
def _own_kafka(_kafka: tuple[str, KafkaServer | None]) -> Iterator[KafkaServer]:
    """A broker this suite started itself: the session's, or (when that one is external) a private one."""
    if _kafka[1] is not None:
        yield _kafka[1]
        return
    with contextlib.ExitStack() as stack:
        yield _service(stack, KafkaServer(), (KafkaServerError, OSError), "stoppable Kafka broker")


@pytest.fixture
def kafka_server(_own_kafka: KafkaServer) -> Iterator[KafkaServer]:
    """A broker the test may stop and start (same ports and data); left running after the test."""
    yield _own_kafka
    _own_kafka.start()  # a no-op unless the test left it stopped
