"""Decoding our messages with the Apache `avro` library alone, from the .avsc files: an independent reader."""

from __future__ import annotations

import io
import json
from typing import Any

import avro.io
import avro.schema

from tests.support.schema_files import schema_files


def without_logical_types(schema: Any) -> Any:
    """The schema with logical-type annotations removed (Parsing Canonical Form strips them anyway).

    Apache avro (1.12) keeps logical-typed primitives expanded in its canonical form; the spec strips them.
    """
    if isinstance(schema, list):
        return [without_logical_types(s) for s in schema]
    if isinstance(schema, dict):
        return {k: without_logical_types(v) for k, v in schema.items() if k not in ("logicalType", "precision", "scale")}
    return schema


def schemas_by_fingerprint() -> dict[bytes, avro.schema.Schema]:
    found = {}
    for _, _, file in schema_files():
        source = json.loads(file.read_text(encoding="utf-8"))
        fingerprint = avro.schema.parse(json.dumps(without_logical_types(source))).fingerprint("CRC-64-AVRO")
        found[fingerprint] = avro.schema.parse(json.dumps(source))
    return found


def decode(data: bytes, schemas: dict[bytes, avro.schema.Schema]) -> tuple[str, dict[str, Any]]:
    """(full name, datum) of a single-object encoded message, or AssertionError when it is not one."""
    assert data[:2] == b"\xc3\x01", f"not single-object encoded: {data[:2].hex()}"
    schema = schemas[data[2:10]]
    return schema.fullname, avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))
