"""How PostgreSQL search judges a text dense (count by a scan, not the trigram index) without a round trip: the share
of the statistics' sample of search texts holding all its trigrams, kept as per-trigram bitmasks (no text kept)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.eventstore.personal_data import SEP, estimated_share, gram_masks

SAMPLE = [SEP.join(row) for row in [
    ("cu-1", "zoe durand", "user1@example.org", "+33 6 11"),
    ("cu-2", "lea moreau", "user2@example.org", "+33 6 22"),
    ("cu-3", "hugo durand", "hugo@mail.fr", "+33 6 33"),
    ("cu-4", "ana petit", "ana@example.org", "+33 6 44"),
]]


def test_the_share_is_of_sample_rows_holding_every_trigram_of_the_text() -> None:
    """'example' is in 3 of 4 rows, 'durand' in 2, 'zzz' in none."""
    masks, rows = gram_masks(SAMPLE)
    assert rows == 4
    assert [estimated_share(masks, rows, text, {}) for text in ("example", "durand", "zzz")] == [0.75, 0.5, 0.0]


def test_a_field_narrows_by_that_field_s_own_trigrams() -> None:
    """'durand' narrowed to the email field (3) is in no row: the name's 'durand' does not count for the email."""
    masks, rows = gram_masks(SAMPLE)
    assert estimated_share(masks, rows, "hug", {3: "durand"}) == 0.0
    assert estimated_share(masks, rows, "hug", {2: "durand"}) == 0.25


def test_no_sample_is_never_dense() -> None:
    """Before the directory has statistics, every text is judged sparse (the trigram index)."""
    assert estimated_share(*gram_masks([]), "example", {}) == 0.0


@given(st.lists(st.text(alphabet="abc-@", max_size=12), min_size=1, max_size=20), st.text(alphabet="abc", min_size=3,
                                                                                           max_size=5))
def test_the_estimate_is_never_below_the_share_that_contains_the_text(texts: list[str], text: str) -> None:
    """Every sample row containing the text holds its trigrams: the estimate is at least the true sample share."""
    masks, rows = gram_masks(texts)
    assert estimated_share(masks, rows, text, {}) >= sum(text in t for t in texts) / rows
