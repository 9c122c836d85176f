"""The compiled Avro writer writes exactly fastavro's bytes, for every schema, random data and edge values; data it
does not take as is goes to fastavro through the registry, which encodes it or refuses it as before."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Context, Decimal
from functools import cache
from typing import Any
from uuid import UUID

import fastavro
import pytest

from ledger.contracts import SchemaRegistry, UnencodableRecord
from ledger.contracts.avro_writer import NotCompilable, NotPlain, compile_writer, decimal_writer
from ledger.contracts.codec import MAGIC

WIDE = Context(prec=60)  # scaleb without rounding a 30-digit value
DECIMAL_30_6 = {"type": "bytes", "logicalType": "decimal", "precision": 30, "scale": 6}


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


def fastavro_message(name: str, record: dict[str, Any]) -> bytes:
    """What the registry wrote before the compiled writer: header, then fastavro's schemaless body."""
    return MAGIC + registry().fingerprint(name) + fastavro_body(registry().schema(name), record)


def fastavro_body(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema, named_schemas={}), record)
    return buffer.getvalue()


# ---------------------------------------------------------------- random data for any of our schemas


def edge_integers(bits: int) -> list[int]:
    top = (1 << (bits - 1)) - 1
    values = [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, 16383, 16384, -16384, top, -top - 1]
    values += [s * ((1 << k) + d) for k in range(1, bits - 1) for d in (-1, 0, 1) for s in (1, -1)]
    return [v for v in values if -top - 1 <= v <= top]


def random_decimal(rng: random.Random) -> Decimal:
    """A decimal at scale 6 of up to 30 digits, often at a power-of-two boundary of its unscaled value."""
    if rng.random() < 0.4:
        n = rng.choice((1, -1)) * ((1 << rng.randrange(0, 99)) + rng.choice((-1, 0, 1)))
    else:
        n = rng.randrange(-(10**rng.randrange(1, 31)) + 1, 10**rng.randrange(1, 31))
    n = max(min(n, 10**30 - 1), -(10**30) + 1)
    return Decimal(n).scaleb(-6, WIDE)


def random_moment(rng: random.Random) -> datetime:
    zone = timezone(timedelta(minutes=rng.randrange(-14 * 60, 14 * 60 + 1)))
    start = datetime(1900, 1, 1, tzinfo=UTC)
    return (start + timedelta(microseconds=rng.randrange(0, 200 * 365 * 86_400 * 10**6))).astimezone(zone)


def random_text(rng: random.Random) -> str:
    alphabet = "abcXYZ 0189-_.:/é€漢🙂\u0000\n\""
    size = rng.choice((0, 1, 5, 36, 63, 64, 127, 128, 200)) if rng.random() < 0.97 else rng.choice((16_383, 16_384, 20_000))
    return "".join(rng.choices(alphabet, k=size))


def random_datum(schema: Any, rng: random.Random, names: dict[str, Any] | None = None) -> Any:
    """A random value for `schema` (records it defines are remembered in `names`, by short name, for references)."""
    names = {} if names is None else names
    if isinstance(schema, list):
        other = next(s for s in schema if s != "null")
        return None if rng.random() < 0.3 else random_datum(other, rng, names)
    if isinstance(schema, str):
        schema = names.get(schema) or {"type": schema}
    kind, logical = schema["type"], schema.get("logicalType")
    if not isinstance(kind, str):
        return random_datum(kind, rng, names)
    if logical == "decimal":
        return random_decimal(rng)
    if logical == "timestamp-micros":
        return random_moment(rng)
    if logical == "date":
        return date(1900, 1, 1) + timedelta(days=rng.randrange(0, 200 * 366))
    if logical == "uuid":
        value = UUID(int=rng.getrandbits(128))
        return value if rng.random() < 0.3 else str(value)
    if kind == "record":
        names[schema["name"]] = schema
        return {f["name"]: random_datum(f["type"], rng, names) for f in schema["fields"]}
    if kind == "array":
        return [random_datum(schema["items"], rng, names) for _ in range(rng.choice((0, 1, 2, 5)))]
    if kind == "map":
        return {random_text(rng)[:8] + str(i): random_datum(schema["values"], rng, names) for i in range(rng.choice((0, 1, 3)))}
    if kind == "string":
        return random_text(rng)
    if kind in ("int", "long"):
        return rng.choice(edge_integers(32 if kind == "int" else 64))
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "bytes":
        return bytes(rng.getrandbits(8) for _ in range(rng.choice((0, 1, 40))))
    if kind == "boolean":
        return rng.random() < 0.5
    raise ValueError(f"no generator for {schema}")


# ---------------------------------------------------------------- the same bytes


def test_every_latest_schema_compiles() -> None:
    """All the event and charge schemas are covered, so no message takes the slow path."""
    for name in registry().names():
        compile_writer(registry().schema(name))


@pytest.mark.parametrize("name", registry().names())
def test_random_records_encode_as_fastavro_encodes_them(name: str) -> None:
    """Random records (edge integers, decimals at two's-complement boundaries, any moment and offset, long and
    non-ASCII strings, empty and full arrays and maps, null and non-null unions): the same bytes as fastavro."""
    schema = registry().schema(name)
    writer = compile_writer(schema, b"H")
    rng = random.Random(name)
    for _ in range(300):
        record = random_datum(schema, rng)
        assert writer(record) == b"H" + fastavro_body(schema, record)


@pytest.mark.parametrize("name", registry().names())
def test_the_registry_writes_what_fastavro_wrote(name: str) -> None:
    rng = random.Random(f"registry {name}")
    for _ in range(50):
        record = random_datum(registry().schema(name), rng)
        assert registry().encode(name, record) == fastavro_message(name, record)


def test_decimals_at_every_byte_boundary() -> None:
    """fastavro sizes a negative unscaled value from its magnitude (-128 takes two bytes): so does the writer."""
    write = decimal_writer(30, 6)
    for k in range(0, 100):
        for n in ((1 << k) - 1, 1 << k, (1 << k) + 1):
            for value in (n, -n):
                if abs(value) < 10**30:
                    record = {"d": Decimal(value).scaleb(-6, WIDE)}
                    schema = {"type": "record", "name": "R", "fields": [{"name": "d", "type": DECIMAL_30_6}]}
                    assert write(record["d"]) == fastavro_body(schema, record), value
    assert write(Decimal("-0.000000")) == write(Decimal("0.000000")) == b"\x02\x00"


def test_moments_and_days_around_the_epoch() -> None:
    schema = {"type": "record", "name": "R", "fields": [
        {"name": "t", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "d", "type": {"type": "int", "logicalType": "date"}}]}
    writer = compile_writer(schema)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for offset in (-10**12, -1, 0, 1, 999_999, 10**15):
        for zone in (UTC, timezone(timedelta(hours=-11, minutes=-30)), timezone(timedelta(hours=13))):
            record = {"t": (epoch + timedelta(microseconds=offset)).astimezone(zone), "d": date(1969, 12, 31)}
            assert writer(record) == fastavro_body(schema, record)


# ---------------------------------------------------------------- what the writer leaves to fastavro


@pytest.mark.parametrize("value", [Decimal("5"), Decimal("1.5"), Decimal("1E+3"), Decimal("0.0000001"), Decimal("NaN"),
                                   b"\x01\x02", 12, "1.000000", None])
def test_a_decimal_not_at_the_schema_scale_is_left_to_fastavro(value: Any) -> None:
    with pytest.raises(NotPlain):
        decimal_writer(30, 6)(value)


def test_what_the_writer_does_not_take_is_encoded_by_fastavro() -> None:
    """Unquantized decimals, naive moments, tuples for arrays and UUID objects: fastavro's bytes, as before."""
    name = "ledger.events.BillingAccountChargeApplied"
    rng = random.Random(3)
    record = random_datum(registry().schema(name), rng)
    record.update(tax_excluded=Decimal("5"), taxes=tuple(record["taxes"]), recorded_at=datetime(2026, 10, 1, 9),
                  aggregate_id=UUID(int=7))
    with pytest.raises(Exception):
        compile_writer(registry().schema(name))(record)
    assert registry().encode(name, record) == fastavro_message(name, record)


def test_a_bad_record_is_still_refused_with_fastavro_s_reason() -> None:
    name = "ledger.events.BillingAccountStatusChanged"
    record = random_datum(registry().schema(name), random.Random(4))
    record["aggregate_version"] = "seven"
    with pytest.raises(UnencodableRecord) as error:
        registry().encode(name, record)
    assert error.value.message.startswith(f"record does not fit schema {name}")


@pytest.mark.parametrize("schema", [
    {"type": "record", "name": "R", "fields": [{"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A"]}}]},
    {"type": "record", "name": "R", "fields": [{"name": "u", "type": ["null", "string", "long"]}]},
    {"type": "record", "name": "R", "fields": [{"name": "f", "type": "double"}]},
    {"type": "record", "name": "R", "fields": [{"name": "r", "type": "Other"}]},
])
def test_schemas_outside_the_writer_s_cover_are_said_so(schema: dict[str, Any]) -> None:
    with pytest.raises(NotCompilable):
        compile_writer(schema)


def test_a_missing_field_with_a_default_is_written_as_fastavro_writes_it() -> None:
    schema = {"type": "record", "name": "R", "fields": [
        {"name": "a", "type": ["null", "string"]}, {"name": "b", "type": "long", "default": 5},
        {"name": "c", "type": {"type": "array", "items": "string"}, "default": []}]}
    assert compile_writer(schema)({}) == fastavro_body(schema, {})
    with pytest.raises(KeyError):
        compile_writer({"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]})({})
