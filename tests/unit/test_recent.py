"""Recent: the bounded memo the encoders and decoders keep recent results in."""

from ledger.recent import Recent


def test_keep_stores_and_returns_the_value():
    """A kept value is returned and found again by key."""
    recent = Recent(3)
    assert recent.keep("a", 1) == 1 and recent.get("a") == 1


def test_a_full_memo_empties_before_keeping_more():
    """At its size the memo is cleared, so it never holds more than `size` entries."""
    recent = Recent(2)
    recent.keep("a", 1)
    recent.keep("b", 2)
    recent.keep("c", 3)
    assert dict(recent) == {"c": 3}
