"""The account's packed entries (account_storage): any Entry survives being kept and read back, and the packed JSON
form is byte for byte what orjson wrote when it was the encoder."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.aggregates.account_storage import (
    KIND_CODES,
    UnbilledView,
    add_entry,
    charge_record,
    entry_amount,
    pack_entry,
    pack_entry_v2,
)
from ledger.aggregates.entries import Entry, TaxLine
from ledger.aggregates.money import ZERO

SEP = "|"
texts = st.one_of(st.text(max_size=12), st.text(alphabet="|ab", max_size=4), st.just(""))  # separators, empty strings
decimals = st.decimals(allow_nan=False, allow_infinity=False)
tax_lines = st.builds(TaxLine, category=texts, rate=decimals, amount=decimals)


@st.composite
def entries(draw: Any) -> Entry:
    entry_id = draw(texts)
    return Entry(id=entry_id, kind=draw(st.sampled_from(sorted(KIND_CODES))),
                 charge_id=draw(st.one_of(st.just(entry_id), texts)), product_ref=draw(st.one_of(st.none(), texts)),
                 tax_excluded=draw(decimals), taxes=tuple(draw(st.lists(tax_lines, max_size=3))),
                 tax_included=draw(decimals), effective_at=draw(texts), description=draw(texts),
                 paid_by=draw(st.dictionaries(texts, decimals, max_size=2)))


def lines_of(entry: Entry) -> list[dict[str, str]]:
    return [{"category": t.category, "rate": str(t.rate), "amount": str(t.amount)} for t in entry.taxes]


def kept(entry: Entry, fingerprint: str | None) -> SimpleNamespace:
    """An account's storage state holding just `entry`, added the way the account's events add entries."""
    account = SimpleNamespace(entries={}, charges={}, entry_paid={}, unbilled_sum=ZERO)
    add_entry(account, entry.id, entry.tax_included, entry.kind,  # type: ignore[arg-type]
              charge_id=None if entry.charge_id == entry.id else entry.charge_id, product_ref=entry.product_ref,
              tax_excluded=str(entry.tax_excluded), taxes=lines_of(entry), tax_included=str(entry.tax_included),
              effective_at=entry.effective_at, description=entry.description, fingerprint=fingerprint)
    if entry.paid_by:
        account.entry_paid[entry.id] = dict(entry.paid_by)
    return account


@settings(max_examples=500, deadline=None)
@given(entries(), st.one_of(st.none(), st.text(min_size=1, max_size=16)))
def test_any_entry_reads_back_as_it_was_kept(entry: Entry, fingerprint: str | None) -> None:
    """Kept and read back, an Entry is the same value, amounts written the same way, and a charge's fingerprint and
    amount come back from its entry: separators and empty strings included (the JSON form)."""
    account = kept(entry, fingerprint)
    back = UnbilledView(account)[entry.id]  # type: ignore[arg-type]
    assert back == entry and repr(back) == repr(entry)
    assert UnbilledView(account).values() == [entry]  # type: ignore[arg-type]
    own = None if fingerprint is None else (fingerprint, str(entry.tax_included))
    assert charge_record(account, entry.id) == own  # type: ignore[arg-type]
    assert entry_amount(account, entry.id) == entry.tax_included  # type: ignore[arg-type]
    assert account.unbilled_sum == ZERO + entry.tax_included  # the running total (in the context's precision)


@settings(max_examples=300, deadline=None)
@given(entries(), st.one_of(st.none(), st.text(min_size=1, max_size=16)))
def test_packed_form_is_json_only_when_a_value_needs_it(entry: Entry, fingerprint: str | None) -> None:
    """The one-string form unless a value holds the separator or an empty charge id or product ref would be lost."""
    packed = kept(entry, fingerprint).entries[entry.id]
    charge_id = None if entry.charge_id == entry.id else entry.charge_id
    values = [charge_id or "", entry.product_ref or "", str(entry.tax_excluded), str(entry.tax_included),
              entry.effective_at, entry.description, fingerprint or ""]
    values += [v for line in lines_of(entry) for v in line.values()]
    needs_json = any(SEP in v for v in values) or charge_id == "" or entry.product_ref == ""
    assert packed.startswith("[") == needs_json


strings = st.text()  # any text: control characters, DEL, quotes, backslashes, non-BMP characters, U+2028
nullable = st.one_of(st.none(), strings)
raw_lines = st.lists(st.tuples(strings, strings, strings), max_size=3)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(KIND_CODES)), nullable, nullable, strings, raw_lines, strings, strings, strings, nullable)
def test_packed_json_form_is_what_orjson_wrote(kind: str, charge_id: str | None, product_ref: str | None, excl: str,
                                                lines: list[tuple[str, str, str]], incl: str, effective_at: str,
                                                description: str, fingerprint: str | None) -> None:
    """The JSON form of a packed entry (forced by a separator) is orjson.dumps of the same values, byte for byte."""
    description += SEP
    taxes = [{"category": c, "rate": r, "amount": a} for c, r, a in lines]
    packed = pack_entry(kind, charge_id, product_ref, excl, taxes, incl, effective_at, description, fingerprint)
    assert packed == orjson.dumps([KIND_CODES[kind], charge_id, product_ref, excl, [list(t) for t in lines], incl,
                                   effective_at, description, fingerprint]).decode()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(KIND_CODES)), nullable, nullable, strings, raw_lines, strings, strings, strings)
def test_version_2_json_form_is_what_orjson_wrote(kind: str, charge_id: str | None, product_ref: str | None, excl: str,
                                                   lines: list[tuple[str, str, str]], incl: str, effective_at: str,
                                                   description: str) -> None:
    """The version-1 upcast's JSON-form entries are orjson.dumps of the same values, byte for byte."""
    description += SEP
    taxes = [list(t) for t in lines]
    packed = pack_entry_v2(kind, charge_id, product_ref, excl, taxes, incl, effective_at, description)
    assert packed == orjson.dumps([kind, charge_id, product_ref, excl, taxes, incl, effective_at, description]).decode()


def test_a_replaced_entry_keeps_the_charges_record_and_the_total() -> None:
    """Replacing a charge's own entry with another entry records the charge's fingerprint and net, and the total is
    summed afresh."""
    charge = Entry(id="x", kind="appliedBillingCharge", charge_id="x", product_ref=None, tax_excluded=Decimal(10),
                   taxes=(), tax_included=Decimal(10), effective_at="2026-10-05", description="", paid_by={})
    account = kept(charge, "f1")
    add_entry(account, "x", Decimal(-2), "adjustment", charge_id="c",  # type: ignore[arg-type]
              tax_excluded="-2", taxes=[], tax_included="-2", effective_at="2026-10-06", description="fix")
    assert account.charges == {"x": "f1|10"} and account.unbilled_sum == Decimal(-2)
