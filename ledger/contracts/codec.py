"""Avro single-object encoding (C3 01 + CRC-64-AVRO fingerprint + binary body) over the versioned schemas in schemas/.

The schema files ship as package data of the top-level `schemas` package and are read through importlib.resources,
so an installed ledger finds them wherever it is installed (not only in a checkout)."""

from __future__ import annotations

import io
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint as _fingerprint_hex
from fastavro.schema import to_parsing_canonical_form

from ledger.contracts.avro_reader import NotCompilable as ReaderNotCompilable
from ledger.contracts.avro_reader import compile_reader
from ledger.contracts.avro_writer import NotCompilable, Writer, compile_writer
from ledger.contracts.errors import InvalidSchemaFile, UndecodableMessage, UnencodableRecord, UnknownSchema

MAGIC = b"\xc3\x01"
HEADER_SIZE = 10  # 2 magic bytes + 8-byte little-endian CRC-64-AVRO fingerprint
SCHEMA_DIR: Traversable = files("schemas")  # the released schemas, as installed (package data)
_NOT_SCHEMAS = frozenset({"__pycache__"})  # what Python writes beside schemas/__init__.py
_VERSION_FILE = re.compile(r"^v([1-9][0-9]*)\.avsc$")


def canonical_fingerprint(schema: dict[str, Any] | str) -> bytes:
    """The 8 bytes of the schema's CRC-64-AVRO fingerprint over its Parsing Canonical Form, little-endian (Avro spec)."""
    return bytes.fromhex(_fingerprint_hex(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One released version of one schema, as read from schemas/<full name>/v<N>.avsc."""

    name: str
    version: int
    source: dict[str, Any]
    parsed: Any
    fingerprint: bytes
    path: Traversable


class SchemaRegistry:
    """Every version of every schema in a directory; encodes with the latest, decodes any known version as the latest."""

    def __init__(self, versions: list[SchemaVersion]) -> None:
        self._versions: dict[str, list[SchemaVersion]] = {}
        for v in sorted(versions, key=lambda v: (v.name, v.version)):
            self._versions.setdefault(v.name, []).append(v)
        self._latest = {name: vs[-1] for name, vs in self._versions.items()}
        # fingerprint -> (full name, writer schema, reader schema or None when the writer is the latest)
        self._readers: dict[bytes, tuple[str, Any, Any]] = {}
        for name, vs in self._versions.items():
            for v in vs:
                other = self._readers.get(v.fingerprint)
                if other is not None:
                    raise InvalidSchemaFile(
                        f"{v.path} has the same canonical form (fingerprint {v.fingerprint.hex()}) as another version of "
                        f"{other[0]}: a new version must change the schema, not only docs or defaults",
                        path=str(v.path), fingerprint=v.fingerprint.hex(),
                    )
                latest = self._latest[name]
                self._readers[v.fingerprint] = (name, v.parsed, None if v is latest else latest.parsed)
        # fingerprint -> compiled reader (and one leaving uuids as text), for every version the compiler covers
        self._plain_readers: dict[bytes, Callable[[io.BytesIO], Any]] = {}
        self._text_uuid_readers: dict[bytes, Callable[[io.BytesIO], Any]] = {}
        for name, vs in self._versions.items():
            for v in vs:
                reader_source = None if v is self._latest[name] else self._latest[name].source
                try:
                    self._plain_readers[v.fingerprint] = compile_reader(v.source, reader_source)
                    self._text_uuid_readers[v.fingerprint] = compile_reader(v.source, reader_source, uuid_as_text=True)
                except ReaderNotCompilable:
                    pass
        self._writers = {name: (MAGIC + v.fingerprint, v.parsed) for name, v in self._latest.items()}
        self._compiled: dict[str, Writer] = {}  # latest versions the compiled writer covers
        for name, v in self._latest.items():
            try:
                self._compiled[name] = compile_writer(v.source, MAGIC + v.fingerprint)
            except NotCompilable:
                pass
        self._local = threading.local()

    @classmethod
    def load(cls, directory: Traversable | str | os.PathLike[str] | None = None) -> SchemaRegistry:
        """Read and parse every <full name>/v<N>.avsc of a directory (default: the installed `schemas` package)."""
        root = SCHEMA_DIR if directory is None else directory
        root = Path(root) if isinstance(root, (str, os.PathLike)) else root
        if not root.is_dir():
            raise InvalidSchemaFile(f"schema directory {root} does not exist", path=str(root))
        versions = []
        for folder in sorted((p for p in root.iterdir() if p.is_dir() and p.name not in _NOT_SCHEMAS), key=_name):
            numbers = []
            for path in sorted(folder.iterdir(), key=_name):
                match = _VERSION_FILE.match(path.name)
                if not match:
                    raise InvalidSchemaFile(f"{path}: schema files must be named v<N>.avsc", path=str(path))
                numbers.append(int(match.group(1)))
                versions.append(_read_version(folder.name, int(match.group(1)), path))
            if sorted(numbers) != list(range(1, len(numbers) + 1)):
                raise InvalidSchemaFile(f"{folder}: versions must be v1..vN without gaps, found {sorted(numbers)}",
                                        path=str(folder))
        return cls(versions)

    # ---------------------------------------------------------------- queries

    def names(self) -> list[str]:
        """Full names of every schema, sorted."""
        return sorted(self._versions)

    def versions(self, name: str) -> list[int]:
        """Released version numbers of a schema, oldest first."""
        return [v.version for v in self._version_list(name)]

    def schema(self, name: str, version: int | None = None) -> dict[str, Any]:
        """The schema as written in its .avsc file (latest version unless `version` is given)."""
        return self._version(name, version).source

    def fingerprint(self, name: str, version: int | None = None) -> bytes:
        """The 8 fingerprint bytes of a schema's latest version (or of `version`)."""
        return self._version(name, version).fingerprint

    # ---------------------------------------------------------------- encoding

    def encode(self, name: str, record: dict[str, Any], version: int | None = None) -> bytes:
        """Single-object encoding of `record` with the latest version of schema `name` (or an older `version`, for tests).

        The schema's compiled writer writes it when it can (the same bytes, several times faster); any datum it does not
        take as is goes to fastavro, which encodes it or raises UnencodableRecord as it always did."""
        if version is None:
            compiled = self._compiled.get(name)
            if compiled is not None:
                try:
                    return compiled(record)
                except Exception:  # noqa: BLE001 - NotPlain, or a datum of a type the writer did not expect: fastavro decides
                    pass
        try:
            header, parsed = self._writers[name] if version is None else self._writer_of(name, version)
        except KeyError:
            raise UnencodableRecord(f"no schema named {name!r}", schema=name) from None
        buffer = self._buffer()
        buffer.seek(0)
        buffer.truncate()
        buffer.write(header)
        try:
            fastavro.schemaless_writer(buffer, parsed, record)
        except Exception as error:  # fastavro raises ValueError, TypeError, KeyError, AttributeError ... on a bad record
            raise UnencodableRecord(f"record does not fit schema {name}: {type(error).__name__}: {error}", schema=name) from error
        return buffer.getvalue()

    def decode(self, data: bytes, uuid_as_text: bool = False) -> tuple[str, dict[str, Any]]:
        """(full name, record) of a single-object message, read as the latest version of its schema.

        uuid_as_text: uuid fields may come as their text instead of UUID objects (for consumers that store text;
        str() of either gives the same text)."""
        if len(data) < HEADER_SIZE or data[:2] != MAGIC:
            raise UndecodableMessage(
                "not an Avro single-object message: "
                + ("too short" if len(data) < HEADER_SIZE else f"bad magic {bytes(data[:2]).hex()}"),
                length=len(data),
            )
        fp = bytes(data[2:HEADER_SIZE])
        try:
            name, writer, reader = self._readers[fp]
        except KeyError:
            raise UnknownSchema(
                f"message written with unknown schema fingerprint {fp.hex()}: not one of the {len(self._readers)} "
                "released schema versions (a newer producer, or not one of our messages)",
                fingerprint=fp.hex(),
            ) from None
        stream = io.BytesIO(data)
        stream.seek(HEADER_SIZE)
        plain_reader = (self._text_uuid_readers if uuid_as_text else self._plain_readers).get(fp)
        try:
            record: dict[str, Any] = (plain_reader(stream) if plain_reader is not None  # every message schema is a record
                                      else fastavro.schemaless_reader(stream, writer, reader))  # type: ignore[assignment]
        except Exception as error:  # truncated or corrupt body: EOFError, ValueError, UnicodeDecodeError, ...
            raise UndecodableMessage(f"{name} body does not decode: {type(error).__name__}: {error}", schema=name) from error
        if stream.tell() != len(data):
            raise UndecodableMessage(f"{name} body has {len(data) - stream.tell()} trailing bytes", schema=name)
        return name, record

    # ---------------------------------------------------------------- internals

    def _buffer(self) -> io.BytesIO:
        try:
            return self._local.buffer
        except AttributeError:
            self._local.buffer = io.BytesIO()
            return self._local.buffer

    def _version_list(self, name: str) -> list[SchemaVersion]:
        try:
            return self._versions[name]
        except KeyError:
            raise UnencodableRecord(f"no schema named {name!r}", schema=name) from None

    def _version(self, name: str, version: int | None) -> SchemaVersion:
        versions = self._version_list(name)
        if version is None:
            return versions[-1]
        for v in versions:
            if v.version == version:
                return v
        raise UnencodableRecord(f"schema {name} has no version {version}", schema=name, version=version)

    def _writer_of(self, name: str, version: int) -> tuple[bytes, Any]:
        v = self._version(name, version)
        return MAGIC + v.fingerprint, v.parsed


def _name(entry: Traversable) -> str:
    return entry.name


def _read_version(folder_name: str, version: int, path: Traversable) -> SchemaVersion:
    try:
        source = json.loads(path.read_text(encoding="utf-8"))
        parsed = fastavro.parse_schema(source, named_schemas={})
    except Exception as error:
        raise InvalidSchemaFile(f"{path} is not a valid Avro schema: {error}", path=str(path)) from error
    if not isinstance(source, dict) or source.get("type") != "record":
        raise InvalidSchemaFile(f"{path}: a message schema must be a record", path=str(path))
    full_name = parsed["name"]  # type: ignore[index,call-overload]  # a record (checked above): its full name
    if full_name != folder_name:
        raise InvalidSchemaFile(f"{path} defines {full_name}, but its folder is {folder_name}", path=str(path))
    return SchemaVersion(folder_name, version, source, parsed, canonical_fingerprint(source), path)
