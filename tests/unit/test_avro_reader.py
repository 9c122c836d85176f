"""The compiled Avro reader gives exactly what fastavro's logical-type hooks give, for every schema version pair."""

from __future__ import annotations

import io
import random
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

import fastavro
import pytest

from ledger.contracts import SchemaRegistry
from ledger.contracts.avro_reader import NotCompilable, compile_reader
from tests.unit.test_avro_writer import fastavro_body, random_datum


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


def version_pairs() -> list[tuple[str, int]]:
    return [(name, version) for name in registry().names() for version in registry().versions(name)]


def fastavro_read(body: bytes, writer: dict[str, Any], reader: dict[str, Any]) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(body), fastavro.parse_schema(writer, named_schemas={}),
                                      fastavro.parse_schema(reader, named_schemas={}))


@pytest.mark.parametrize("name, version", version_pairs())
def test_random_records_read_as_fastavro_reads_them(name: str, version: int) -> None:
    """Records written with any released version read as the latest version: equal values of equal types."""
    writer, reader = registry().schema(name, version), registry().schema(name)
    read = compile_reader(writer, None if writer == reader else reader)
    rng = random.Random(f"{name} v{version}")
    for _ in range(200):
        body = fastavro_body(writer, random_datum(writer, rng))
        expected, got = fastavro_read(body, writer, reader), read(io.BytesIO(body))
        assert got == expected and repr(got) == repr(expected)  # repr: a Decimal's exponent, a datetime's zone


@pytest.mark.parametrize("name", registry().names())
def test_the_registry_decodes_what_fastavro_decoded(name: str) -> None:
    """registry.decode() of an encoded message equals fastavro's reading of its body."""
    schema = registry().schema(name)
    rng = random.Random(f"decode {name}")
    for _ in range(50):
        message = registry().encode(name, random_datum(schema, rng))
        assert registry().decode(message) == (name, fastavro_read(message[10:], schema, schema))


def test_an_unmodelled_logical_type_is_not_compiled() -> None:
    """A logical type the converter does not know leaves the schema to fastavro."""
    schema = {"type": "record", "name": "T", "fields": [{"name": "t", "type": {"type": "int", "logicalType": "time-millis"}}]}
    with pytest.raises(NotCompilable):
        compile_reader(schema, None)


def test_repeated_amounts_share_one_decimal() -> None:
    """A decimal read twice is the same (immutable) object, from the converter's bounded cache."""
    schema = {"type": "record", "name": "T", "fields": [
        {"name": "a", "type": {"type": "bytes", "logicalType": "decimal", "precision": 30, "scale": 6}}]}
    body = fastavro_body(schema, {"a": Decimal("12.5")})
    read = compile_reader(schema, None)
    first, second = read(io.BytesIO(body))["a"], read(io.BytesIO(body))["a"]
    assert first == Decimal("12.500000") and first is second


@pytest.mark.parametrize("name, version", version_pairs())
def test_every_released_version_compiles(name: str, version: int) -> None:
    """No message of ours takes fastavro's slower path with hooks."""
    compile_reader(registry().schema(name, version), registry().schema(name))


@pytest.mark.parametrize("name", [n for n in registry().names() if n.startswith("ledger.events.")])
def test_uuids_as_text_are_the_text_of_the_uuids(name: str) -> None:
    """decode(uuid_as_text=True) differs only in giving each UUID as its str()."""
    rng = random.Random(f"text {name}")

    def texts(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: texts(v) for k, v in value.items()}
        if isinstance(value, list):
            return [texts(v) for v in value]
        return str(value) if isinstance(value, UUID) else value

    for _ in range(30):
        message = registry().encode(name, random_datum(registry().schema(name), rng))
        assert registry().decode(message, uuid_as_text=True) == (name, texts(registry().decode(message)[1]))
