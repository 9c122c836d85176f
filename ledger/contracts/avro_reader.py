"""Avro decoding by fastavro without its per-value logical-type hooks, and one converter compiled per schema pair.

fastavro reads the plain Avro types of the writer and reader schemas with their logical types stripped (the
binary form and schema resolution do not depend on them); a converter compiled from the reader schema then
turns the values of decimal, timestamp-micros/millis, date and uuid fields into what fastavro's own hooks give
(the same Decimal, aware UTC datetime, date and UUID), touching only the fields that have a logical type.
A schema using anything the converter does not model raises NotCompilable, and the registry keeps full
fastavro for it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Context
from typing import Any
from uuid import UUID

import fastavro

from ledger.recent import Recent

Convert = Callable[[Any], Any]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_COMPILING = object()


class NotCompilable(Exception):
    """The schema uses something the converter does not model; decode it with fastavro's hooks."""


def strip(schema: Any) -> Any:
    """The schema without logicalType (and its precision and scale): the plain types fastavro reads fast."""
    if isinstance(schema, list):
        return [strip(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strip(v) for k, v in schema.items() if k not in ("logicalType", "precision", "scale")}
    if "logicalType" in schema and set(out) == {"type"} and isinstance(out["type"], str):
        return out["type"]  # {"type": "long", "logicalType": ...} is just "long"
    return out


def _decimal(precision: int, scale: int) -> Convert:
    context = Context(prec=precision)
    create = context.create_decimal
    return _bounded_cache(lambda data: create(int.from_bytes(data, "big", signed=True)).scaleb(-scale, context))


def _timestamp(unit_micros: int) -> Convert:
    def convert(data: int) -> datetime:
        return EPOCH + timedelta(microseconds=data * unit_micros)

    return convert


def _date(data: int) -> date:
    return date.fromordinal(data + 719163)  # 1970-01-01 is ordinal 719163


def _bounded_cache(make: Callable[[Any], Any], size: int = 4096) -> Convert:
    """`make`, remembering recent results (for immutable values that repeat: amounts, account ids)."""
    recent = Recent(size)

    def convert(data: Any) -> Any:
        found = recent.get(data)
        return found if found is not None else recent.keep(data, make(data))

    return convert


def _logical(schema: dict[str, Any], uuid_as_text: bool) -> Convert | None:
    logical, base = schema["logicalType"], schema["type"]
    if logical == "decimal" and base == "bytes":
        return _decimal(int(schema["precision"]), int(schema.get("scale", 0)))
    if logical == "timestamp-micros" and base == "long":
        return _timestamp(1)
    if logical == "timestamp-millis" and base == "long":
        return _timestamp(1000)
    if logical == "date" and base == "int":
        return _date
    if logical == "uuid" and base == "string":
        return None if uuid_as_text else _bounded_cache(UUID)
    raise NotCompilable(f"logical type {logical} on {base}")


class _Compiler:
    """Builds converters from a schema; named types are remembered by full name for later references."""

    def __init__(self, uuid_as_text: bool) -> None:
        self.named: dict[str, Any] = {}
        self.uuid_as_text = uuid_as_text

    @staticmethod
    def full_name(name: str, namespace: str) -> str:
        return name if "." in name else f"{namespace}.{name}" if namespace else name

    def of(self, schema: Any, namespace: str) -> Convert | None:
        """A converter for values of `schema`, or None when they need none."""
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return None
            found = self.named.get(self.full_name(schema, namespace), _COMPILING)
            if found is _COMPILING:
                raise NotCompilable(f"named type {schema} is unknown or refers to itself")
            return found
        if isinstance(schema, list):
            return self.union(schema, namespace)
        kind = schema["type"]
        if "logicalType" in schema:
            return _logical(schema, self.uuid_as_text)
        if kind == "record":
            return self.record(schema, namespace)
        if kind == "array":
            item = self.of(schema["items"], namespace)
            return None if item is None else (lambda values: [item(v) for v in values])
        if kind == "map":
            value = self.of(schema["values"], namespace)
            return None if value is None else (lambda values: {k: value(v) for k, v in values.items()})
        if kind in ("enum", "fixed"):
            self.named[self.full_name(schema["name"], schema.get("namespace", namespace))] = None
            return None
        if isinstance(kind, (dict, list)) or kind in _PRIMITIVES:
            return self.of(kind, namespace)
        raise NotCompilable(f"type {kind!r}")

    def union(self, branches: list[Any], namespace: str) -> Convert | None:
        converters = [self.of(b, namespace) for b in branches]
        real = [c for b, c in zip(branches, converters) if b != "null"]
        if all(c is None for c in real):
            return None
        if len(real) != 1:  # fastavro returns a branch's value without saying which branch it was
            raise NotCompilable("a union of several non-null branches with logical types")
        only = real[0]
        return lambda value: None if value is None else only(value)  # type: ignore[misc]  # narrowed above: None converters are filtered out

    def record(self, schema: dict[str, Any], namespace: str) -> Convert | None:
        namespace = schema.get("namespace", namespace)
        name = self.full_name(schema["name"], namespace)
        self.named[name] = _COMPILING
        fields = [(f["name"], self.of(f["type"], namespace)) for f in schema["fields"]]
        fields = [(n, c) for n, c in fields if c is not None]
        convert = None if not fields else _record_converter(fields)  # type: ignore[arg-type]  # narrowed above: None converters are filtered out
        self.named[name] = convert
        return convert


def _record_converter(fields: list[tuple[str, Convert]]) -> Convert:
    def convert(record: dict[str, Any]) -> dict[str, Any]:
        for field_name, field_convert in fields:
            record[field_name] = field_convert(record[field_name])
        return record

    return convert


def compile_reader(writer_source: dict[str, Any], reader_source: dict[str, Any] | None,
                   uuid_as_text: bool = False) -> Callable[[io.BytesIO], Any]:
    """A function reading one body from a stream, equal to fastavro.schemaless_reader with the full schemas
    (but with uuid fields left as their text when `uuid_as_text`)."""
    reader = reader_source if reader_source is not None else writer_source
    convert = _Compiler(uuid_as_text).of(reader, reader.get("namespace", ""))
    plain_writer = fastavro.parse_schema(strip(writer_source), named_schemas={})
    plain_reader = None if reader_source is None else fastavro.parse_schema(strip(reader_source), named_schemas={})
    read = fastavro.schemaless_reader
    if convert is None:
        return lambda stream: read(stream, plain_writer, plain_reader)
    return lambda stream: convert(read(stream, plain_writer, plain_reader))
