"""The customer directory's search answers the same on memory, SQLite and PostgreSQL: prefix matches first, then
by name; the page and the number of matches from one query; a page past the end still carries the number."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.eventstore.personal_data import MemoryVault, PersonalDataVault, PostgresVault, SqliteVault

NAMES = ["Bob Annan", "Anna Schmidt", "Joanna Lee", "Annie Hall", "Émile Zola", "Zoé Durand"]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def vault(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PersonalDataVault]:
    made: PersonalDataVault
    if request.param == "memory":
        made = MemoryVault(None)
    elif request.param == "sqlite":
        made = SqliteVault(None, tmp_path / "vault.sqlite")
    else:
        url, schema = request.getfixturevalue("postgres_schema")
        made = PostgresVault(None, url, schema)
    for n, name in enumerate(NAMES):
        made.index(uuid.UUID(int=n + 1), {"customer_ref": f"P-{n}", "name": name,
                                          "email": f"{name.split()[0].lower()}{n}@example.org", "phone": f"+33 6 00 0{n}"})
    yield made
    made.close()


def names(vault: PersonalDataVault, text: str, limit: int = 20, offset: int = 0) -> tuple[list[str], int]:
    found, total = vault.search(text, limit, offset)
    return [NAMES[i.int - 1] for i in found], total


def test_prefix_matches_come_first_then_by_name(vault: PersonalDataVault) -> None:
    """'ann' finds the names starting with it first, then those containing it, each group by name."""
    assert names(vault, "ANN") == (["Anna Schmidt", "Annie Hall", "Bob Annan", "Joanna Lee"], 4)


def test_a_page_carries_the_number_of_all_matches(vault: PersonalDataVault) -> None:
    """A page of two from offset 1 holds the next two, and the total counts every match."""
    assert names(vault, "ann", limit=2, offset=1) == (["Annie Hall", "Bob Annan"], 4)


def test_a_page_past_the_end_is_empty_with_the_number(vault: PersonalDataVault) -> None:
    """Paging past the last match gives no ids but still the number of matches."""
    assert names(vault, "ann", limit=2, offset=10) == ([], 4)


def test_whole_email_phone_and_id_find_their_customer(vault: PersonalDataVault) -> None:
    """A whole email (any case), a phone number and a customer id each find their customer."""
    assert names(vault, "EMILE4@EXAMPLE.ORG") == (["Émile Zola"], 1)
    assert names(vault, "+33 6 00 05") == (["Zoé Durand"], 1)
    assert names(vault, "p-2") == (["Joanna Lee"], 1)


def test_a_miss_finds_nothing(vault: PersonalDataVault) -> None:
    """Text no customer holds gives an empty page and zero."""
    assert names(vault, "nobody-here") == ([], 0)
