"""Suite-wide fixtures: a real PostgreSQL server (lazy) and a fresh schema per test."""

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

from tests.support.postgres_server import (  # noqa: E402
    PostgresServerError,
    drop_schema,
    fresh_schema,
    postgres_server,
)

_POSTGRES_FIXTURES = {"postgres_url", "postgres_schema"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses PostgreSQL with ``postgres`` (so ``-m 'not postgres'`` works)."""
    for item in items:
        if _POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


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
