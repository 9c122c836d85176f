"""The stored-version look-ups of the HTTP API's event loop (ledger/eventstore/versions.py), on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from ledger.aggregates import ids
from ledger.bootstrap import read_store
from ledger.eventstore.versions import PostgresVersions
from tests.support.ledger_factory import charged_accounts, define_spec, ledger_on, post_charge, postgres_settings


def test_lookups_waiting_together_share_selects_and_see_every_committed_write(postgres_schema: tuple[str, str]) -> None:
    """Many look-ups at once take fewer selects than look-ups, each answers the stored version, and one asked after
    a commit (by another store) sees it; an unknown id answers None."""
    settings = postgres_settings(*postgres_schema)
    with ledger_on(settings) as ledger:
        define_spec(ledger)
        refs = charged_accounts(ledger, 6)
        store = read_store(settings)
        try:
            versions = store.versions()
            assert isinstance(versions, PostgresVersions)
            account_ids = [ids.account_id(ref) for ref in refs]
            expected = {aggregate_id: store.version(aggregate_id) for aggregate_id in account_ids}

            async def together() -> list[Any]:
                return await asyncio.gather(*(versions.version(i) for i in account_ids * 5),
                                            versions.version(uuid.uuid4()))

            found = asyncio.run(together())
            assert found[:-1] == [expected[i] for i in account_ids * 5] and found[-1] is None
            assert versions.statements < len(account_ids) * 5
            post_charge(ledger, refs[0], "later", "1.00", "EUR", ledger.now().isoformat())
            assert asyncio.run(versions.version(account_ids[0])) == (expected[account_ids[0]] or 0) + 1
            versions.close()
        finally:
            store.close()
