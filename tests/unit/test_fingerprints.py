"""Content fingerprints (fingerprints.digest) never change: they hash exactly what json.dumps writes."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from datetime import UTC, datetime
from decimal import Decimal
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.aggregates import fingerprints
from ledger.aggregates.fingerprints import digest


def reference(*parts):
    """The fingerprint as first released: json.dumps, compact, sorted keys, default=str."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(), st.text(alphabet=st.characters(max_codepoint=0x7F)),
    st.decimals(allow_nan=False, allow_infinity=False, places=6), st.decimals(), st.floats(),
    st.datetimes(timezones=st.just(UTC)),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.lists(inner, max_size=3).map(tuple)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(st.lists(values, max_size=8))
def test_digest_equals_the_released_fingerprint(parts):
    """Any mix of text (ASCII or not), numbers, Decimals, datetimes, lists and dicts hashes as before."""
    assert digest(*parts) == reference(*parts)


def test_a_charge_fingerprint_is_unchanged():
    """A charge's fingerprint parts as the account builds them give the released value."""
    parts = ("appliedBillingCharge", "EUR", Decimal("12.3456"), [{"category": "VAT", "rate": "20", "amount": "2.46912"}],
             Decimal("14.81472"), datetime(2026, 10, 5, 10, tzinfo=UTC).isoformat(), "PRD-1", None, None)
    assert digest(*parts) == reference(*parts)


def test_non_string_keys_take_the_json_path():
    """A dict with int keys (orjson refuses them) is hashed the json.dumps way."""
    assert digest({1: "a", 2: "b"}) == reference({1: "a", 2: "b"})


def test_control_characters_and_del_hash_as_before():
    """Text with control characters and DEL (which json.dumps escapes) keeps its released fingerprint."""
    parts = ("a\x7fb", "\x00\x1f\n\t\r\b\f\"\\/", "\u2028")
    assert digest(*parts) == reference(*parts)


@pytest.fixture(scope="module")
def without_accelerator() -> ModuleType:
    """A second copy of the fingerprints module, loaded as on a Python without the _json C accelerator."""
    spec = importlib.util.spec_from_file_location("fingerprints_without_accelerator", fingerprints.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    accelerator = json.encoder.c_make_encoder
    json.encoder.c_make_encoder = None  # type: ignore[attr-defined]
    try:
        spec.loader.exec_module(module)
    finally:
        json.encoder.c_make_encoder = accelerator  # type: ignore[attr-defined]
    return module


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(values, max_size=6))
def test_digest_without_the_accelerator_is_the_same(without_accelerator: ModuleType, parts: list[object]) -> None:
    """Where json has no C encoder, json.dumps writes the text: the fingerprints are the same."""
    assert not hasattr(without_accelerator, "_encode")
    assert without_accelerator.digest(*parts) == digest(*parts) == reference(*parts)
