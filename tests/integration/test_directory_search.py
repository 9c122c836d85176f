"""The customer directory's search answers the same on memory, SQLite and PostgreSQL: prefix matches first, then
by name; a whole id, email or phone finds only the customers it equals; the page and the number of matches, counted
up to a cap (past it a lower bound, exact again on the last page); a page past the end still carries the number."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.eventstore import personal_data
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


def names(vault: PersonalDataVault, text: str, limit: int = 20, offset: int = 0, **narrow: Any) -> tuple[list[str], int]:
    found = vault.search(text, limit, offset, **narrow)
    assert found.total_exact
    return [NAMES[i.int - 1] for i in found.ids], found.total


def bounded(vault: PersonalDataVault, text: str, limit: int, offset: int) -> tuple[list[str], int, bool]:
    found = vault.search(text, limit, offset)
    return [NAMES[i.int - 1] for i in found.ids], found.total, found.total_exact


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


def test_a_whole_id_finds_only_that_customer_not_the_longer_ids(vault: PersonalDataVault) -> None:
    """'p-1' is P-1's whole id: P-10 (which starts with it) is not listed; 'p-' still finds every id."""
    vault.index(uuid.UUID(int=99), {"customer_ref": "P-10", "name": "Ann Other", "email": "", "phone": ""})
    assert names(vault, "P-1") == (["Anna Schmidt"], 1)
    assert vault.search("p-", 3, 0).total == 7


def test_fields_narrow_the_search_to_their_field(vault: PersonalDataVault) -> None:
    """A field's text must be in that field: 'ann' in the name and 'anna' in the email leaves Anna and Joanna."""
    assert names(vault, "ann", fields={"email": "anna"}) == (["Anna Schmidt", "Joanna Lee"], 2)
    assert names(vault, "ann", fields={"name": "hall"}) == (["Annie Hall"], 1)
    assert names(vault, "", fields={"phone": "00 04"}) == (["Émile Zola"], 1)


def test_within_keeps_only_the_given_customers(vault: PersonalDataVault) -> None:
    """`within` lists only the customers given, in the same order."""
    assert names(vault, "ann", within=[uuid.UUID(int=1), uuid.UUID(int=3)]) == (["Bob Annan", "Joanna Lee"], 2)
    assert names(vault, "", within=[]) == ([], 0)


def test_past_the_count_cap_the_total_is_a_lower_bound(vault: PersonalDataVault, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the cap at 2, 'ann' (4 matches) pages in the same order; the total is at least 3 (or the matches up to
    the page's end), flagged as not exact, except on a last page that is not empty."""
    monkeypatch.setattr(personal_data, "COUNT_CAP", 2)
    assert bounded(vault, "ann", 2, 0) == (["Anna Schmidt", "Annie Hall"], 3, False)
    assert bounded(vault, "ann", 2, 1) == (["Annie Hall", "Bob Annan"], 3, False)
    assert bounded(vault, "ann", 4, 0) == (["Anna Schmidt", "Annie Hall", "Bob Annan", "Joanna Lee"], 4, False)
    assert bounded(vault, "ann", 2, 3) == (["Joanna Lee"], 4, True)
    assert bounded(vault, "ann", 2, 10) == ([], 3, False)
    assert bounded(vault, "", 3, 0) == (["Anna Schmidt", "Annie Hall", "Bob Annan"], 3, False)


# ---------------------------------------------------------------- PostgreSQL: how it answers (the same answers)

FIRSTS, LASTS = ["Zoé", "Lucas", "Inès", "Hugo"], ["Müller", "Petit", "Rossi", "Novák", "Girard"]


def _last(i: int) -> str:
    return "Durand" if i % 12 < 5 else LASTS[i % 5]  # Durand: 5 in 12 customers (541 of 1,300: past the cap)


def _many(vault: PersonalDataVault, n: int) -> None:
    for i in range(n):
        vault.index(uuid.UUID(int=10_000 + i), {"customer_ref": f"M-{i:05d}", "name": f"{FIRSTS[i % 4]} {_last(i)}{i}",
                                                "email": f"u{i:05d}@example.org", "phone": f"+33 6 {i:08d}"})


@pytest.fixture
def postgres_vault(postgres_schema: tuple[str, str]) -> Iterator[PostgresVault]:
    made = PostgresVault(None, *postgres_schema)
    yield made
    made.close()


def test_postgres_answers_a_search_in_one_statement(postgres_vault: PostgresVault) -> None:
    """A search under the cap is one statement (a whole id found the same way), and none asks for a plan (EXPLAIN)."""
    _many(postgres_vault, 20)
    sent: list[str] = []
    execute = postgres_vault.conn.execute

    def recording(query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return execute(query, *args, **kwargs)

    postgres_vault.conn.execute = recording  # type: ignore[method-assign]
    for text in ("durand", "M-00003", "nobody"):
        sent.clear()
        postgres_vault.search(text, 20, 0)
        assert len(sent) <= 2 and not any("EXPLAIN" in q for q in sent), (text, sent)  # 2: the statistics, read once
    assert len(sent) == 1


def test_postgres_pages_dense_and_sparse_texts_past_the_cap_as_memory_does(postgres_vault: PostgresVault) -> None:
    """Over 1,300 customers (statistics taken by the vault itself), a text in every row (counted by a scan) and one in
    5 of 12 (by the trigram index), both past the cap, page and count as the in-memory vault does."""
    memory = MemoryVault(None)
    for vault in (memory, postgres_vault):
        _many(vault, 1_300)
    assert postgres_vault._dense("example", {}) and not postgres_vault._dense("durand", {})
    for text in ("example", "durand", "u011", "zoe", "6 0000"):
        for offset in (0, 40, 480, 530, 1_290):
            assert postgres_vault.search(text, 20, offset) == memory.search(text, 20, offset), (text, offset)
