"""The schema registry and single-object codec: header and fingerprint per the Avro spec, errors, evolution, interop."""

from __future__ import annotations

import importlib.resources
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

import avro.io
import avro.schema
import fastavro
import pytest

from ledger.contracts import (
    CHARGE_SCHEMA,
    SCHEMA_DIR,
    InvalidSchemaFile,
    SchemaRegistry,
    SchemaVersion,
    UndecodableMessage,
    UnencodableRecord,
    UnknownSchema,
    canonical_fingerprint,
)
from ledger.errors import LedgerError
from tests.support.apache_avro import without_logical_types
from tests.support.schema_files import schema_files, schema_names

PRIMITIVES = {"null": None, "boolean": True, "int": 7, "long": 7_000_000_000, "float": 1.5, "double": 2.5,
              "bytes": b"\x00\x01", "string": "text"}
LOGICAL = {"decimal": Decimal("-1234.567891"), "timestamp-micros": datetime(2026, 10, 7, 7, 15, 0, 123456, tzinfo=UTC),
           "date": date(2026, 10, 31), "uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO exactly as the Avro specification's reference code computes it."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


def sample(schema: Any, names: dict[str, Any], namespace: str = "") -> Any:
    """A value for any Avro schema (first non-null union branch, one item per array and map)."""
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return PRIMITIVES[schema]
        return sample(names[schema if "." in schema else f"{namespace}.{schema}"], names, namespace)
    if isinstance(schema, list):
        return sample(next(s for s in schema if s != "null"), names, namespace)
    if schema.get("logicalType") in LOGICAL:
        return LOGICAL[schema["logicalType"]]
    kind = schema["type"]
    if kind == "record":
        namespace = schema.get("namespace", namespace)
        names[f"{namespace}.{schema['name']}"] = schema
        return {f["name"]: sample(f["type"], names, namespace) for f in schema["fields"]}
    if kind == "array":
        return [sample(schema["items"], names, namespace)]
    if kind == "map":
        return {"key": sample(schema["values"], names, namespace)}
    if kind == "enum":
        return schema["symbols"][0]
    return sample(kind, names, namespace)


def records(schema: Any, namespace: str = "", found: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Every record a schema defines, by full name: {full name: {field name: field}}."""
    found = {} if found is None else found
    if isinstance(schema, list):
        for branch in schema:
            records(branch, namespace, found)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            namespace = schema.get("namespace", namespace)
            found[f"{namespace}.{schema['name']}"] = {f["name"]: f for f in schema["fields"]}
            for field in schema["fields"]:
                records(field["type"], namespace, found)
        else:
            for key in ("type", "items", "values"):
                if isinstance(schema.get(key), (dict, list)):
                    records(schema[key], namespace, found)
    return found


def plain(value: Any) -> Any:
    """UUIDs as strings, recursively: fastavro and Apache avro differ only there."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def message(name: str = CHARGE_SCHEMA) -> bytes:
    return registry().encode(name, sample(registry().schema(name), {}))


def all_versions() -> list[tuple[str, int]]:
    return [(name, v) for name in registry().names() for v in registry().versions(name)]


# ---------------------------------------------------------------- loading


def test_load_defaults_to_the_schemas_package() -> None:
    """load() without a directory reads the `schemas` package's files through importlib.resources."""
    charge_v1 = importlib.resources.files("schemas") / CHARGE_SCHEMA / "v1.avsc"
    assert SCHEMA_DIR == importlib.resources.files("schemas")
    assert registry().schema(CHARGE_SCHEMA, 1) == json.loads(charge_v1.read_text(encoding="utf-8"))


def test_names_are_the_schema_folders() -> None:
    """names() lists one full name per folder of schemas/."""
    assert registry().names() == schema_names()


def test_every_version_is_loaded() -> None:
    """Every v<N>.avsc file is a loaded version."""
    assert sorted(all_versions()) == [(name, version) for name, version, _ in schema_files()]


@pytest.mark.parametrize("name,file", [(name, file) for name, _, file in schema_files()],
                         ids=[f"{name}/{file.name}" for name, _, file in schema_files()])
def test_every_file_is_a_standalone_schema(name: str, file: Any) -> None:
    """Each .avsc file parses on its own, with fastavro and with Apache avro."""
    source = json.loads(file.read_text(encoding="utf-8"))
    assert fastavro.parse_schema(source, named_schemas={})["name"] == name
    assert avro.schema.parse(json.dumps(source)).fullname == name


@pytest.mark.parametrize("name", schema_names())
def test_every_record_and_field_has_a_doc(name: str) -> None:
    """Each record and each field of every version says what it means."""
    for version in registry().versions(name):
        for record_name, fields in records(registry().schema(name, version)).items():
            undocumented = [f for f, field in fields.items() if not field.get("doc", "").strip()]
            assert not undocumented, (name, version, record_name, undocumented)


def test_same_canonical_form_twice_is_refused() -> None:
    """Two versions with the same canonical form (only docs or defaults changed) cannot be told apart: refused."""
    source = registry().schema(CHARGE_SCHEMA, 1)
    parsed, fingerprint = fastavro.parse_schema(source, named_schemas={}), registry().fingerprint(CHARGE_SCHEMA, 1)
    reworded = {**source, "doc": "the same schema, other words"}
    versions = [SchemaVersion(CHARGE_SCHEMA, 1, source, parsed, fingerprint, SCHEMA_DIR / CHARGE_SCHEMA / "v1.avsc"),
                SchemaVersion(CHARGE_SCHEMA, 2, reworded, parsed, fingerprint, SCHEMA_DIR / CHARGE_SCHEMA / "v2.avsc")]
    with pytest.raises(InvalidSchemaFile, match="same canonical form"):
        SchemaRegistry(versions)


# ---------------------------------------------------------------- single-object encoding


def test_header_is_magic_then_fingerprint() -> None:
    """A message starts with C3 01 and the 8 fingerprint bytes of the latest version."""
    data = message()
    assert data[:2] == b"\xc3\x01" and data[2:10] == registry().fingerprint(CHARGE_SCHEMA)


@pytest.mark.parametrize("name,version", all_versions())
def test_fingerprint_is_little_endian_crc64_of_canonical_form(name: str, version: int) -> None:
    """The fingerprint is the spec's CRC-64-AVRO of the Parsing Canonical Form, least significant byte first."""
    canonical = fastavro.schema.to_parsing_canonical_form(registry().schema(name, version))
    assert registry().fingerprint(name, version) == crc64_avro(canonical.encode()).to_bytes(8, "little")


def test_fingerprint_matches_the_spec_test_vector() -> None:
    """The fingerprint of "null" is the Avro spec's test value 7195948357588979594, little-endian."""
    assert int.from_bytes(canonical_fingerprint("null"), "little") == 7195948357588979594


@pytest.mark.parametrize("name", schema_names())
def test_every_schema_round_trips(name: str) -> None:
    """A sample record of each schema encodes and decodes to the same values."""
    record = sample(registry().schema(name), {})
    decoded_name, decoded = registry().decode(registry().encode(name, record))
    assert decoded_name == name and plain(decoded) == plain(record)


def test_encode_reuses_no_state_between_messages() -> None:
    """Encoding twice in a row gives two complete, independent messages."""
    first, second = message(), message()
    assert first == second and registry().decode(first) == registry().decode(second)


def test_encode_unknown_name_is_refused() -> None:
    """Encoding with a name no schema has raises UnencodableRecord."""
    with pytest.raises(UnencodableRecord, match="no schema named"):
        registry().encode("ledger.events.Nothing", {})


def test_encode_bad_record_is_refused() -> None:
    """A record that does not fit its schema raises UnencodableRecord naming the schema."""
    with pytest.raises(UnencodableRecord, match=CHARGE_SCHEMA):
        registry().encode(CHARGE_SCHEMA, {"id": "c1"})


# ---------------------------------------------------------------- decoding errors


def test_bad_magic_is_undecodable() -> None:
    """A message that does not start with C3 01 is refused."""
    with pytest.raises(UndecodableMessage, match="bad magic"):
        registry().decode(b"\x00\x01" + message()[2:])


def test_short_header_is_undecodable() -> None:
    """A message shorter than the 10-byte header is refused."""
    with pytest.raises(UndecodableMessage, match="too short"):
        registry().decode(message()[:9])


def test_truncated_body_is_undecodable() -> None:
    """A message cut inside its body is refused."""
    with pytest.raises(UndecodableMessage, match="does not decode"):
        registry().decode(message()[:-3])


def test_trailing_bytes_are_undecodable() -> None:
    """Bytes after a complete body are refused (the message is not what it claims)."""
    with pytest.raises(UndecodableMessage, match="trailing"):
        registry().decode(message() + b"\x00")


def test_unknown_fingerprint_is_an_unknown_schema() -> None:
    """A fingerprint no released version has raises UnknownSchema with the fingerprint's hex."""
    data = b"\xc3\x01" + bytes.fromhex("0102030405060708") + message()[10:]
    with pytest.raises(UnknownSchema, match="0102030405060708") as caught:
        registry().decode(data)
    assert caught.value.context["fingerprint"] == "0102030405060708"


def test_contract_errors_are_ledger_errors_with_stable_codes() -> None:
    """UnknownSchema is an UndecodableMessage, both LedgerErrors with fixed codes."""
    assert issubclass(UnknownSchema, UndecodableMessage) and issubclass(UndecodableMessage, LedgerError)
    assert (UndecodableMessage.code, UnknownSchema.code, UnencodableRecord.code) == (
        "undecodable_message", "unknown_schema", "unencodable_record")


# ---------------------------------------------------------------- evolution


def evolving() -> list[tuple[str, int]]:
    return [(name, v) for name in registry().names() for v in registry().versions(name)[:-1]]


def test_some_schema_has_several_versions() -> None:
    """At least one schema (the inbound charge) has released more than one version."""
    assert len(registry().versions(CHARGE_SCHEMA)) >= 2


@pytest.mark.parametrize("name,version", evolving())
def test_latest_version_reads_older_data(name: str, version: int) -> None:
    """Data written with an older version decodes as the latest: old fields kept, new fields at their defaults."""
    data = registry().encode(name, sample(registry().schema(name, version), {}), version=version)
    assert data[2:10] == registry().fingerprint(name, version)
    written = fastavro.parse_schema(registry().schema(name, version), named_schemas={})
    old = fastavro.schemaless_reader(io.BytesIO(data[10:]), written)
    # fastavro's own schema resolution (old writer schema, latest reader schema): nested records' new fields too
    resolved = fastavro.schemaless_reader(io.BytesIO(data[10:]), written,
                                          fastavro.parse_schema(registry().schema(name), named_schemas={}))
    decoded_name, decoded = registry().decode(data)
    assert decoded_name == name
    for field in registry().schema(name)["fields"]:
        expected = old[field["name"]] if field["name"] in old else field["default"]
        if isinstance(expected, dict):
            expected = resolved[field["name"]]
        assert decoded[field["name"]] == expected, field["name"]


@pytest.mark.parametrize("name,version", evolving())
def test_fields_added_in_a_later_version_have_defaults(name: str, version: int) -> None:
    """Every field a newer version adds to a record has a default, so older data stays readable."""
    older = records(registry().schema(name, version))
    for newer_version in registry().versions(name)[version:]:
        for record_name, fields in records(registry().schema(name, newer_version)).items():
            added = set(fields) - set(older.get(record_name, fields))
            assert all("default" in fields[f] for f in added), (record_name, newer_version, added)


# ---------------------------------------------------------------- interop with Apache avro


@pytest.mark.parametrize("name", schema_names())
def test_apache_avro_computes_the_same_fingerprint(name: str) -> None:
    """Apache avro's CRC-64-AVRO fingerprint of the schema equals our header bytes.

    Apache avro (Python, 1.12) keeps {"type": "long"} for logical-typed primitives in its canonical form, against the
    spec's [PRIMITIVES] rule, so the logical-type annotations (which [STRIP] removes anyway) are dropped first.
    """
    schema = avro.schema.parse(json.dumps(without_logical_types(registry().schema(name))))
    assert schema.canonical_form == fastavro.schema.to_parsing_canonical_form(registry().schema(name))
    assert schema.fingerprint("CRC-64-AVRO") == message(name)[2:10]


@pytest.mark.parametrize("name", schema_names())
def test_apache_avro_reads_our_messages(name: str) -> None:
    """Apache avro's DatumReader reads the body after the 10-byte header to the same values."""
    data = message(name)
    reader = avro.io.DatumReader(avro.schema.parse(json.dumps(registry().schema(name))))
    body = reader.read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))
    assert plain(body) == plain(registry().decode(data)[1])
