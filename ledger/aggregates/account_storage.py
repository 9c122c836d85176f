"""How a BillingAccount keeps its entries and charge records in its state, and in its snapshots: the one module that
knows the account's stored layout. Rules read entries as `Entry` values and change them through the functions here.

The state is compact so that a long account's snapshot loads fast (nothing in it for a JSON decoder to walk):
- `entries`: each unbilled entry packed into one string, usually
  "kind|charge_id|product_ref|excluded|included|effective_at|description|fingerprint|category|rate|amount|..."
  (the kind as its one-letter code, amounts signed decimal strings, charge_id empty on an entry that is a charge
  itself, the fingerprint only on a charge's own entry, then three values per tax line); a JSON array of the same
  values when one of them holds the separator or an empty string would be ambiguous;
- `unbilled_sum`: the running total of the entries' tax-included amounts;
- `charges`: "fingerprint|net" of each charge whose own unbilled entry does not say it (billed, adjusted or prepaid):
  an unbilled, unadjusted charge needs nothing beside its entry;
- a snapshot: that state with its few Decimals and datetimes as strings and the layout's version as "class_version";
  older layouts are upcast when loaded.

Layout versions: 1 the library's snapshot (entries as dicts, Decimal nets); 2 compact (packed entries, string nets);
3 a charge's fingerprint in its packed entry, "fingerprint|net" records only for charges billed, adjusted or prepaid;
4 no last_activity (it is modified_on).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from eventsourcing.domain import Snapshot as LibrarySnapshot
from eventsourcing.utils import get_topic, resolve_topic

from ledger.aggregates.entries import ADJUSTMENT, CHARGE, CHARGE_TYPES, CREDIT, PENALTY, REVERSAL_DEBIT, Entry, TaxLine
from ledger.aggregates.money import ZERO

STATE_VERSION = 4
SEP = "|"
KIND_CODES = {CHARGE: "c", PENALTY: "p", CREDIT: "r", ADJUSTMENT: "a", REVERSAL_DEBIT: "d"}  # packed: one letter
KINDS = {code: kind for kind, code in KIND_CODES.items()}
_DECIMALS = ("credit_limit", "balance", "credit_balance", "prepaid_balance", "unbilled_sum")
_MOMENTS = ("_created_on", "_modified_on")
D = Decimal


def _json_form(values: list[Any]) -> str:
    """A packed entry's JSON form: compact, non-ASCII text as it is (as orjson wrote it when it was the encoder)."""
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- packed entries


def pack_entry(kind: str, charge_id: str | None, product_ref: str | None, tax_excluded: str,
               taxes: list[dict[str, str]], tax_included: str, effective_at: str, description: str,
               fingerprint: str | None = None) -> str:
    """An unbilled entry as one string. Amounts: signed decimal strings; taxes: tax lines as events hold them
    ({"category", "rate", "amount"}); charge_id None: the entry's own id; fingerprint: a charge's idempotency
    fingerprint on its own entry (None on other entries)."""
    code = KIND_CODES.get(kind, kind)
    parts = [code, charge_id or "", product_ref or "", tax_excluded, tax_included, effective_at, description,
             fingerprint or ""]
    for line in taxes:
        parts += (line["category"], line["rate"], line["amount"])
    packed = SEP.join(parts)
    if packed.count(SEP) != len(parts) - 1 or charge_id == "" or product_ref == "" or fingerprint == "":
        lines = [[line["category"], line["rate"], line["amount"]] for line in taxes]
        return _json_form([code, charge_id, product_ref, tax_excluded, lines, tax_included, effective_at, description,
                           fingerprint])
    return packed


def packed_amount(packed: str) -> Decimal:
    """The signed tax-included amount of a packed entry."""
    if packed[0] == "[":
        return D(json.loads(packed)[5])
    return D(packed.split(SEP, 5)[4])


def charge_of_entry(packed: str) -> tuple[str, str] | None:
    """(fingerprint, signed tax-included amount) of a charge's own packed entry; None for any other entry."""
    if packed[0] == "[":
        values = json.loads(packed)
        fingerprint, included = values[8], values[5]
    else:
        parts = packed.split(SEP, 8)
        fingerprint, included = parts[7], parts[4]
    return (fingerprint, included) if fingerprint else None


class _Rates(dict[str, Decimal]):
    """The few distinct tax rates, read on every entry: each text's Decimal, made once."""

    def __missing__(self, text: str) -> Decimal:
        rate = D(text)
        if len(self) < 1024:
            self[text] = rate
        return rate


_RATES = _Rates()


class _EntryShape:
    """Entry's very layout without its frozen __setattr__ (unpack_entry sets its fields, then makes it an Entry)."""

    __slots__ = Entry.__slots__


class _TaxLineShape:
    """TaxLine's very layout without its frozen __setattr__ (see _EntryShape)."""

    __slots__ = TaxLine.__slots__


_new = object.__new__


def _tax_line(category: str, rate: str, amount: str) -> TaxLine:
    """TaxLine(category, Decimal(rate), Decimal(amount)), made as unpack_entry makes an Entry."""
    line: Any = _new(_TaxLineShape)
    line.category, line.rate, line.amount = category, _RATES[rate], D(amount)
    line.__class__ = TaxLine  # the same slots: Python allows it
    return line


def unpack_entry(entry_id: str, packed: str, paid_by: dict[str, Decimal] | None) -> Entry:
    """A packed entry as an Entry (paid_by: what payments paid of it, copied).

    A bill run reads thousands, so the Entry is made without the frozen dataclass __init__ (an object.__setattr__
    per field): its fields are set on an _EntryShape, which then becomes an Entry; the same object, as the codec's
    property test checks against Entry's own __init__."""
    if packed[0] == "[":
        kind, charge_id, product_ref, excl, lines, incl, effective_at, description, _ = json.loads(packed)
        taxes = tuple(_tax_line(c, r, a) for c, r, a in lines)
    else:
        kind, charge_id, product_ref, excl, incl, effective_at, description, _, *tax = packed.split(SEP)
        charge_id, product_ref = charge_id or None, product_ref or None
        if len(tax) == 3:  # most entries: one tax line
            taxes = (_tax_line(tax[0], tax[1], tax[2]),)
        else:
            taxes = tuple(_tax_line(tax[i], tax[i + 1], tax[i + 2]) for i in range(0, len(tax), 3))
    entry: Any = _new(_EntryShape)
    entry.id = entry_id
    entry.kind = KINDS.get(kind, kind)
    entry.charge_id = entry_id if charge_id is None else charge_id
    entry.product_ref = product_ref
    entry.tax_excluded = D(excl)
    entry.taxes = taxes
    entry.tax_included = D(incl)
    entry.effective_at = effective_at
    entry.description = description
    entry.paid_by = dict(paid_by) if paid_by else {}
    entry.__class__ = Entry
    return entry


class BillRow(NamedTuple):
    """An unbilled entry as a bill run composes it (`bill_rows`): its texts as packed (amounts are the str() of a
    Decimal, as every event writes them), its amounts as Decimals, its tax lines as (category, rate, amount)."""

    id: str
    kind: str
    charge_id: str
    product_ref: str  # "" for none
    description: str
    excluded_text: str
    included_text: str
    tax_excluded: Decimal
    tax_included: Decimal
    effective_at: str
    taxes: tuple[tuple[str, Decimal, Decimal], ...]
    paid_by: dict[str, Decimal]


def bill_rows(account: AccountState, charge_cutoff: datetime | None, credit_cutoff: datetime | None) -> list[BillRow]:
    """The entries `BillingAccount.entries_for_bill` chooses (debits effective before the charge cut-off, credits
    before the credit cut-off, None taking all), in order, each read once from its packed string as a BillRow,
    without making the Entry and TaxLine values (`bill_composition.compose_rows` composes them). Pinned to
    entries_for_bill + compose by test_bill_rows_compose_what_the_entries_compose."""
    rows = []
    paid, moment, rates = account.entry_paid, datetime.fromisoformat, _RATES
    for entry_id, packed in account.entries.items():
        if packed[0] == "[":  # the rare JSON form: read as an Entry
            e = unpack_entry(entry_id, packed, paid.get(entry_id))
            row = BillRow(e.id, e.kind, e.charge_id, e.product_ref or "", e.description, str(e.tax_excluded),
                          str(e.tax_included), e.tax_excluded, e.tax_included, e.effective_at,
                          tuple((t.category, t.rate, t.amount) for t in e.taxes), e.paid_by)
        else:
            kind, charge_id, product_ref, excl, incl, effective_at, description, _, *tax = packed.split(SEP)
            by = paid.get(entry_id) if paid else None
            row = BillRow(entry_id, KINDS.get(kind, kind), charge_id or entry_id, product_ref, description, excl, incl,
                          D(excl), D(incl), effective_at,
                          tuple((tax[i], rates[tax[i + 1]], D(tax[i + 2])) for i in range(0, len(tax), 3)),
                          dict(by) if by else {})
        cutoff = credit_cutoff if row.tax_included < ZERO else charge_cutoff
        if cutoff is None or moment(row.effective_at) < cutoff:
            rows.append(row)
    return rows


# ---------------------------------------------------------------- the account's entries and charge records


class AccountState(Protocol):
    """What of an account's state this module keeps (BillingAccount.Opened starts them empty)."""

    entries: dict[str, str]  # entry id -> packed entry
    entry_paid: dict[str, dict[str, Decimal]]  # entry id -> payment id -> what it paid of the entry
    unbilled_sum: Decimal
    charges: dict[str, str]  # charge id -> "fingerprint|net", for the charges their own entry does not tell


def add_entry(account: AccountState, entry_id: str, amount: Decimal, kind: str, *, charge_id: str | None = None,
              product_ref: str | None = None, tax_excluded: str, taxes: list[dict[str, str]], tax_included: str,
              effective_at: str, description: str, fingerprint: str | None = None) -> None:
    """Add (or replace) an unbilled entry, keeping the running unbilled total (and the record of a charge whose own
    entry is replaced). amount: the signed tax-included amount (tax_included as a Decimal); see pack_entry."""
    entries = account.entries
    old = entries.get(entry_id)
    entries[entry_id] = pack_entry(kind, charge_id, product_ref, tax_excluded, taxes, tax_included, effective_at,
                                   description, fingerprint)
    if old is not None:
        own = charge_of_entry(old)
        if own is not None and entry_id not in account.charges:
            _keep(account.charges, entries, entry_id, *own)
        _resum(account)
    else:
        account.unbilled_sum += amount


def bill_entries(account: AccountState, entry_ids: list[str]) -> None:
    """Take entries off the unbilled ones (onto a bill): a billed charge keeps its fingerprint and net in a record."""
    entries, records = account.entries, account.charges
    for entry_id in entry_ids:
        own = charge_of_entry(entries.pop(entry_id))
        if own is not None and entry_id not in records:
            records[entry_id] = own[0] + SEP + own[1]
    _resum(account)


def entry_amount(account: AccountState, entry_id: str) -> Decimal:
    """The signed tax-included amount of an unbilled entry."""
    return packed_amount(account.entries[entry_id])


def charge_record(account: AccountState, charge_id: str) -> tuple[str, str] | None:
    """(fingerprint, signed net as a decimal string) of a charge; None when the account has no such charge."""
    record = account.charges.get(charge_id)
    if record is not None:
        fingerprint, _, net = record.partition(SEP)
        return fingerprint, net
    packed = account.entries.get(charge_id)
    return None if packed is None else charge_of_entry(packed)


def set_charge(account: AccountState, charge_id: str, fingerprint: str, net: str) -> None:
    """Set a charge's fingerprint and signed net (a decimal string)."""
    _keep(account.charges, account.entries, charge_id, fingerprint, net)


def _keep(records: dict[str, str], entries: dict[str, str], charge_id: str, fingerprint: str, net: str) -> None:
    """No record while the charge's own unbilled entry says the same, else "fingerprint|net" (so the state is the
    same whatever order led to it)."""
    packed = entries.get(charge_id)
    if packed is not None and charge_of_entry(packed) == (fingerprint, net):
        records.pop(charge_id, None)
    else:
        records[charge_id] = fingerprint + SEP + net


def _resum(account: AccountState) -> None:
    """The unbilled total summed afresh from the entries left (as a sum of them would read, e.g. 0 not 0.0000)."""
    account.unbilled_sum = sum((packed_amount(p) for p in account.entries.values()), ZERO)


class UnbilledView(Mapping[str, Entry]):
    """Read-only dict-like view of an account's unbilled entries (entry id -> Entry, read afresh on every access)."""

    __slots__ = ("_packed", "_paid")

    def __init__(self, account: AccountState) -> None:
        self._packed, self._paid = account.entries, account.entry_paid

    def __getitem__(self, entry_id: str) -> Entry:
        return unpack_entry(entry_id, self._packed[entry_id], self._paid.get(entry_id))

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._packed

    def __iter__(self) -> Iterator[str]:
        return iter(self._packed)

    def __len__(self) -> int:
        return len(self._packed)

    def values(self) -> list[Entry]:  # type: ignore[override]
        """Every entry in order, as a list (read in one pass)."""
        paid = self._paid
        return [unpack_entry(k, packed, paid.get(k) if paid else None) for k, packed in self._packed.items()]


class ChargeNetView(Mapping[str, Decimal]):
    """Read-only dict-like view of every charge's signed net amount (charge id -> Decimal): the account's charge
    records, else the amount of the charge's own unbilled entry."""

    __slots__ = ("_records", "_entries")

    def __init__(self, account: AccountState) -> None:
        self._records, self._entries = account.charges, account.entries

    def _own(self) -> Iterator[str]:
        return (k for k, packed in self._entries.items() if k not in self._records and charge_of_entry(packed))

    def __getitem__(self, charge_id: str) -> Decimal:
        record = self._records.get(charge_id)
        if record is not None:
            return D(record.partition(SEP)[2])
        own = charge_of_entry(self._entries[charge_id])
        if own is None:
            raise KeyError(charge_id)
        return D(own[1])

    def __contains__(self, charge_id: object) -> bool:
        if charge_id in self._records:
            return True
        packed = self._entries.get(charge_id)  # type: ignore[call-overload]
        return packed is not None and charge_of_entry(packed) is not None

    def __iter__(self) -> Iterator[str]:
        yield from self._records
        yield from self._own()

    def __len__(self) -> int:
        return len(self._records) + sum(1 for _ in self._own())


# ---------------------------------------------------------------- snapshots


class AccountSnapshot(LibrarySnapshot):
    """A snapshot of an account: its state with its few Decimals and datetimes as strings (nothing for a decoder to
    walk) and the layout's version; older layouts are upcast when it is loaded."""

    @classmethod
    def take(cls, aggregate: Any) -> Any:
        state = {k: v for k, v in vars(aggregate).items() if k not in ("_id", "_version", "_pending_events")}
        for key in _DECIMALS:
            state[key] = str(state[key])
        for key in _MOMENTS:
            state[key] = state[key].isoformat()
        state["open_bills"] = {k: {**b, "remaining": str(b["remaining"])} for k, b in state["open_bills"].items()}
        state["entry_paid"] = {k: {p: str(v) for p, v in paid.items()} for k, paid in state["entry_paid"].items()}
        state["prepaid_excess"] = {k: str(v) for k, v in state["prepaid_excess"].items()}
        state["class_version"] = STATE_VERSION
        return cls(originator_id=aggregate.id, originator_version=aggregate.version,
                   timestamp=cls.create_timestamp(), topic=get_topic(type(aggregate)), state=state)

    def mutate(self, _: Any) -> Any:
        state = dict(self.state)
        version = state.pop("class_version", None)
        if version == 2:
            upcast_v2_v3(state)
        if version in (2, 3):
            upcast_v3_v4(state)
        for key in _DECIMALS:
            state[key] = D(state[key])
        for key in _MOMENTS:
            state[key] = datetime.fromisoformat(state[key])
        state["open_bills"] = {k: {**b, "remaining": D(b["remaining"])} for k, b in state["open_bills"].items()}
        state["entry_paid"] = {k: {p: D(v) for p, v in paid.items()} for k, paid in state["entry_paid"].items()}
        state["prepaid_excess"] = {k: D(v) for k, v in state["prepaid_excess"].items()}
        state.update(_id=self.originator_id, _version=self.originator_version, _pending_events=[])
        account = object.__new__(resolve_topic(self.topic))
        object.__setattr__(account, "__dict__", state)
        return account


def upcast_v1_v2(state: dict[str, Any]) -> None:
    """A version-1 snapshot's state (unbilled entries as dicts, Decimal nets) in the compact layout."""
    entries, paid, total = {}, {}, ZERO
    for entry_id, e in state.pop("unbilled").items():
        entries[entry_id] = pack_entry_v2(
            e["kind"], None if e["charge_id"] == entry_id else e["charge_id"], e["product_ref"], str(e["tax_excluded"]),
            [[t["category"], t["rate"], t["amount"]] for t in e["taxes"]], str(e["tax_included"]), e["effective_at"],
            e["description"],
        )
        if e.get("paid_by"):
            paid[entry_id] = dict(e["paid_by"])
        total += e["tax_included"]
    state.update(entries=entries, entry_paid=paid, unbilled_sum=total,
                 nets={k: str(v) for k, v in state.pop("charge_net").items()})


def upcast_v2_v3(state: dict[str, Any]) -> None:
    """A version-2 state (every charge in `nets` and in `caller_ids`) in the version-3 layout: each charge's
    fingerprint packed into its own unbilled entry, a "fingerprint|net" record kept exactly where replaying
    the events keeps one."""
    caller_ids, entries = state["caller_ids"], state["entries"]
    fingerprints = {key[7:]: caller_ids.pop(key) for key in [k for k in caller_ids if k.startswith("charge:")]}
    for entry_id, packed in entries.items():
        entries[entry_id] = _upcast_packed_v2(entry_id, packed, fingerprints)
    state["charges"] = {}
    for charge_id, net in state.pop("nets").items():
        _keep(state["charges"], entries, charge_id, fingerprints[charge_id], net)


def upcast_v3_v4(state: dict[str, Any]) -> None:
    """Version 3 kept `last_activity`, always the last event's timestamp: now read from modified_on."""
    state.pop("last_activity", None)


def pack_entry_v2(kind: str, charge_id: str | None, product_ref: str | None, tax_excluded: str,
                  taxes: list[list[str]], tax_included: str, effective_at: str, description: str) -> str:
    """An entry packed in the version-2 layout (full kind names, no fingerprint slot), as the version-1 upcast
    produces it."""
    parts = [kind, charge_id or "", product_ref or "", tax_excluded, tax_included, effective_at, description]
    for line in taxes:
        parts += line
    packed = SEP.join(parts)
    if packed.count(SEP) != len(parts) - 1 or charge_id == "" or product_ref == "":
        return _json_form([kind, charge_id, product_ref, tax_excluded, taxes, tax_included, effective_at, description])
    return packed


def _upcast_packed_v2(entry_id: str, packed: str, fingerprints: dict[str, str]) -> str:
    """A version-2 packed entry (full kind name, no fingerprint slot) in the current layout; a charge's own entry (a
    charge type, no charge id of its own) gets the charge's fingerprint from `fingerprints` (charge id ->
    fingerprint)."""
    if packed[0] == "[":
        kind, charge_id, product_ref, excl, lines, incl, effective_at, description = json.loads(packed)
    else:
        kind, charge_id, product_ref, excl, incl, effective_at, description, *tax = packed.split(SEP)
        charge_id, product_ref = charge_id or None, product_ref or None
        lines = [tax[i : i + 3] for i in range(0, len(tax), 3)]
    fingerprint = fingerprints.get(entry_id) if kind in CHARGE_TYPES and charge_id is None else None
    taxes = [{"category": c, "rate": r, "amount": a} for c, r, a in lines]
    return pack_entry(kind, charge_id, product_ref, excl, taxes, incl, effective_at, description, fingerprint)
