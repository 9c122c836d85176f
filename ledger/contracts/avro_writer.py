"""Compiles an Avro record schema into a Python function that writes exactly what fastavro's schemaless_writer writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Context, Decimal
from functools import cache
from typing import Any
from uuid import UUID

from ledger.recent import Recent

Writer = Callable[[dict[str, Any]], bytes]
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_EXACT = Context(prec=200, Emax=999_999, Emin=-999_999)  # scaleb without rounding
_CACHED = 4_096  # recent moments' and decimals' bytes kept
_SMALL = 16_384  # zigzag varints of 0.._SMALL-1 are precomputed (string lengths, counts, small numbers)


class NotPlain(Exception):
    """The datum is not one the compiled writer takes as is: let fastavro encode it (or explain why it cannot)."""


class NotCompilable(Exception):
    """The schema uses a construct the compiled writer does not cover (named references, enums, other unions...)."""


def _zigzag(n: int) -> bytes:
    z = (n << 1) if n >= 0 else ((-n << 1) - 1)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


_VARINT = [_zigzag(n) for n in range(_SMALL)]


def long_bytes(n: Any, low: int = LONG_MIN, high: int = LONG_MAX) -> bytes:
    """An int (not a bool) in range as Avro's zigzag varint."""
    if type(n) is not int:
        raise NotPlain(f"{type(n).__name__} for an Avro long")
    if 0 <= n < _SMALL:
        return _VARINT[n]
    if not low <= n <= high:
        raise NotPlain(f"{n} out of range")
    return _zigzag(n)


def int_bytes(n: Any) -> bytes:
    return long_bytes(n, INT_MIN, INT_MAX)


def text_bytes(value: Any) -> bytes:
    """A str as length-prefixed UTF-8."""
    if type(value) is not str:
        raise NotPlain(f"{type(value).__name__} for an Avro string")
    data = value.encode()
    size = len(data)
    return (_VARINT[size] if size < _SMALL else _zigzag(size)) + data


def raw_bytes(value: Any) -> bytes:
    if type(value) is not bytes:
        raise NotPlain(f"{type(value).__name__} for Avro bytes")
    size = len(value)
    return (_VARINT[size] if size < _SMALL else _zigzag(size)) + value


def bool_bytes(value: Any) -> bytes:
    if type(value) is not bool:
        raise NotPlain(f"{type(value).__name__} for an Avro boolean")
    return b"\x01" if value else b"\x00"


class DecimalBytes:
    """Avro bytes/decimal at one precision and scale: the unscaled value, two's complement big-endian, sized as
    fastavro sizes it (from the magnitude: -128 at scale 0 takes two bytes); only for a Decimal whose exponent is
    exactly -scale. Recent unscaled values' bytes are kept by their integer (zero balances, an amount written twice
    in one event; hashing the Decimal itself would cost more than encoding it). Compiled writers inline `write`."""

    def __init__(self, precision: int, scale: int) -> None:
        self.quantum = Decimal(1).scaleb(-scale)
        self.scale = scale
        self.limit = 10**precision
        self.recent = Recent(_CACHED)

    def write(self, value: Any) -> bytes:
        if type(value) is not Decimal or not value.same_quantum(self.quantum):
            raise NotPlain("not a decimal at the schema's scale")
        n = int(value.scaleb(self.scale, _EXACT)) if value else 0
        return self.recent.get(n) or self.encode(n)

    def encode(self, n: int) -> bytes:
        magnitude = -n if n < 0 else n
        if magnitude >= self.limit:
            raise NotPlain("more digits than the schema's precision")
        data = n.to_bytes((magnitude.bit_length() + 8) >> 3, "big", signed=True)
        return self.recent.keep(n, _VARINT[len(data)] + data)


@cache
def decimal_bytes(precision: int, scale: int) -> DecimalBytes:
    return DecimalBytes(precision, scale)


def decimal_writer(precision: int, scale: int) -> Callable[[Any], bytes]:
    return decimal_bytes(precision, scale).write


_moments = Recent(_CACHED)


def micros_bytes(value: Any) -> bytes:
    """timestamp-micros: an aware datetime as microseconds since the epoch (or an int as is). The varints of recent
    instants are kept by their number (one command's events share their timestamp; hashing a datetime costs more)."""
    if type(value) is datetime and value.tzinfo is not None:
        delta = value - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        return _moments.get(micros) or _moments.keep(micros, long_bytes(micros))
    if type(value) is int:
        return long_bytes(value)
    raise NotPlain("not an aware datetime")


def date_bytes(value: Any) -> bytes:
    """date: days since the epoch (or an int as is)."""
    if type(value) is date:
        return int_bytes(value.toordinal() - _EPOCH_DAY)
    if type(value) is int:
        return int_bytes(value)
    raise NotPlain("not a date")


_PRIMITIVE = {"string": "text_bytes", "long": "long_bytes", "int": "int_bytes", "bytes": "raw_bytes",
              "boolean": "bool_bytes"}
_LOGICAL = {("long", "timestamp-micros"): "micros_bytes", ("int", "date"): "date_bytes"}


class _Compiler:
    """Emits the source of one writer function. Each datum's code checks it and names its encoded parts (variables or
    pure expressions, in order); a record's parts are joined once at the end (appending to a buffer field by field
    cost more than the encoding)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names: dict[str, Any] = {}
        self.counter = 0
        self.named: dict[str, dict[str, Any]] = {}  # records defined so far, by full name
        self.namespace = ""
        self.open: set[str] = set()  # records being written (a recursive type is not covered)

    def var(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def constant(self, value: Any) -> str:
        name = self.var("k")
        self.names[name] = value
        return name

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def value(self, schema: Any, expr: str, depth: int) -> list[str]:
        """Code checking the datum held in variable `expr` against `schema`; returns its encoded parts."""
        if isinstance(schema, str):
            if schema == "null":
                self.emit(depth, f"if {expr} is not None: raise NotPlain('null expected')")
                return []
            if schema == "string":  # inline: most fields are strings
                data, size = self.var("s"), self.var("n")
                self.emit(depth, f"if type({expr}) is not str: raise NotPlain('str expected')")
                self.emit(depth, f"{data} = {expr}.encode()")
                self.emit(depth, f"{size} = len({data})")
                return [f"(VARINT[{size}] if {size} < SMALL else long_bytes({size}))", data]
            if schema in ("long", "int"):  # inline the small non-negative ones (versions, counts)
                return [f"(VARINT[{expr}] if type({expr}) is int and 0 <= {expr} < SMALL else {_PRIMITIVE[schema]}({expr}))"]
            if schema in _PRIMITIVE:
                return [f"{_PRIMITIVE[schema]}({expr})"]
            full = schema if "." in schema or not self.namespace else f"{self.namespace}.{schema}"
            if full not in self.named:
                raise NotCompilable(f"type {schema!r}")
            return self.record(self.named[full], expr, depth)
        if isinstance(schema, list):
            return self.union(schema, expr, depth)
        kind, logical = schema.get("type"), schema.get("logicalType")
        if not isinstance(kind, str):
            if logical is not None or not isinstance(kind, (dict, list)):
                raise NotCompilable(f"type {kind!r}")
            return self.value(kind, expr, depth)
        if kind == "record":
            return self.record(schema, expr, depth)
        if kind in ("array", "map"):
            return self.collection(schema, kind, expr, depth)
        if kind == "bytes" and logical == "decimal":
            if "scale" not in schema or "precision" not in schema:
                raise NotCompilable("decimal without precision and scale")
            decimals = decimal_bytes(int(schema["precision"]), int(schema["scale"]))
            quantum, recent = self.constant(decimals.quantum), self.constant(decimals.recent)
            encode, unscaled = self.constant(decimals.encode), self.var("d")
            self.emit(depth, f"if type({expr}) is not Decimal or not {expr}.same_quantum({quantum}): "
                             "raise NotPlain('not a decimal at the scale')")
            self.emit(depth, f"{unscaled} = int({expr}.scaleb({decimals.scale}, EXACT)) if {expr} else 0")
            return [f"({recent}.get({unscaled}) or {encode}({unscaled}))"]
        if (kind, logical) == ("string", "uuid"):  # a UUID as its text, else the string as it is
            self.emit(depth, f"if type({expr}) is UUID: {expr} = str({expr})")
            return self.value("string", expr, depth)
        if (kind, logical) in _LOGICAL:
            return [f"{_LOGICAL[kind, logical]}({expr})"]
        if logical is None and kind in _PRIMITIVE:
            return self.value(kind, expr, depth)
        raise NotCompilable(f"type {kind!r} (logical type {logical!r})")

    def union(self, schema: list[Any], expr: str, depth: int) -> list[str]:
        if len(schema) != 2 or "null" not in schema:
            raise NotCompilable("only unions of null and one other type")
        null_index, result = schema.index("null"), self.var("u")
        self.emit(depth, f"if {expr} is None:")
        self.emit(depth + 1, f"{result} = {_VARINT[null_index]!r}")
        self.emit(depth, "else:")
        parts = self.value(schema[1 - null_index], expr, depth + 1)
        self.emit(depth + 1, f"{result} = b''.join(({_VARINT[1 - null_index]!r}, {', '.join(parts)}))")
        return [result]

    def collection(self, schema: dict[str, Any], kind: str, expr: str, depth: int) -> list[str]:
        """An array or map: one block of all its items (count, items), then the empty block, as fastavro writes it."""
        result, item = self.var("c"), self.var("i")
        self.emit(depth, f"if type({expr}) is not {'list' if kind == 'array' else 'dict'}: raise NotPlain('{kind}')")
        self.emit(depth, f"if {expr}:")
        self.emit(depth + 1, f"{result} = [long_bytes(len({expr}))]")
        if kind == "array":
            self.emit(depth + 1, f"for {item} in {expr}:")
            parts = self.value(schema["items"], item, depth + 2)
        else:
            key = self.var("m")
            self.emit(depth + 1, f"for {key}, {item} in {expr}.items():")
            parts = [f"text_bytes({key})", *self.value(schema["values"], item, depth + 2)]
        self.emit(depth + 2, f"{result} += ({', '.join(parts)},)")
        self.emit(depth + 1, f"{result}.append(b'\\x00')")
        self.emit(depth + 1, f"{result} = b''.join({result})")
        self.emit(depth, "else:")
        self.emit(depth + 1, f"{result} = b'\\x00'")
        return [result]

    def record(self, schema: dict[str, Any], expr: str, depth: int) -> list[str]:
        name = schema["name"]
        namespace = name.rpartition(".")[0] if "." in name else schema.get("namespace", self.namespace)
        full = name if "." in name or not namespace else f"{namespace}.{name}"
        if full in self.open:
            raise NotCompilable(f"recursive type {full}")
        self.named[full] = schema
        self.open.add(full)
        outer, self.namespace = self.namespace, namespace
        parts = self.fields(schema, expr, depth)
        self.namespace = outer
        self.open.discard(full)
        return parts

    def fields(self, schema: dict[str, Any], expr: str, depth: int) -> list[str]:
        self.emit(depth, f"if type({expr}) is not dict: raise NotPlain('dict expected')")
        parts: list[str] = []
        for field in schema["fields"]:
            name, kind = field["name"], field["type"]
            value = self.var("v")
            if "default" in field:
                self.emit(depth, f"{value} = {expr}.get({name!r}, {self.constant(field['default'])})")
            elif isinstance(kind, list) and "null" in kind:
                self.emit(depth, f"{value} = {expr}.get({name!r})")
            else:  # a KeyError: fastavro decides (it refuses a missing value without a default)
                self.emit(depth, f"{value} = {expr}[{name!r}]")
            parts += self.value(kind, value, depth)
        return parts


def compile_writer(schema: dict[str, Any], header: bytes = b"") -> Writer:
    """A function record -> header + the record's Avro binary body, as fastavro writes it.

    fastavro walks the schema for every datum, resolves each union by validating the datum against its branches (a
    whole nested record, for the account position) and converts logical types through a dispatch per field; that was
    most of the relay's encoding time. The compiled function knows the schema: straight-line code per field, unions
    of null and one type resolved by `is None`, decimals, timestamps and dates converted inline. It takes only the
    plain cases (a decimal already at the schema's scale, an aware datetime, exact Python types) and raises NotPlain
    (or a KeyError, IndexError...) on anything else, for the caller to hand that datum to fastavro, which encodes it
    or says why not. Raises NotCompilable for a schema it does not cover (named references to enums, other unions,
    floats...)."""
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise NotCompilable("not a record schema")
    compiler = _Compiler()
    parts = compiler.record(schema, "record", 1)
    compiler.emit(1, f"return b''.join((header, {', '.join(parts)}))")
    source = "def write(record):\n" + "\n".join(compiler.lines) + "\n"
    namespace: dict[str, Any] = {
        "NotPlain": NotPlain, "Decimal": Decimal, "UUID": UUID, "EXACT": _EXACT, "header": header, "VARINT": _VARINT,
        "SMALL": _SMALL,
        "text_bytes": text_bytes, "long_bytes": long_bytes,
        "int_bytes": int_bytes, "raw_bytes": raw_bytes, "bool_bytes": bool_bytes, "micros_bytes": micros_bytes,
        "date_bytes": date_bytes, **compiler.names,
    }
    exec(compile(source, f"<avro writer {schema.get('name')}>", "exec"), namespace)  # noqa: S102 - our own schema's code
    return namespace["write"]
