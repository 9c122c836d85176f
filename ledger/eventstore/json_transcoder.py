"""The event store's JSON transcoder: the eventsourcing library's stored format, encoded and decoded with orjson."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
import orjson
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Transcoding, TranscodingNotRegisteredError
from msgspec.structs import astuple

_MARK = b'"_type_":'
_TIMESTAMP_FIRST = b'{"timestamp":{"_type_":"datetime_iso","_data_":"'  # then a string
_SCALARS = frozenset((str, int, bool, type(None)))
_TYPED = frozenset((UUID, datetime, Decimal))
_Scalar = str | int | bool | None  # msgspec's spelling of _SCALARS


class _Stamp(msgspec.Struct, forbid_unknown_fields=True):
    """A stored typed value: {"_type_": name, "_data_": string} and nothing else."""

    _type_: str = msgspec.field(name="_type_")
    _data_: str = msgspec.field(name="_data_")


def _plain(node: list[Any] | dict[str, Any]) -> bool:
    """True when a list or dict holds only strings, integers, booleans, None and such lists and dicts."""
    scalars = _SCALARS
    for value in node.values() if type(node) is dict else node:
        kind = type(value)
        if kind in scalars:
            continue
        if kind is dict:  # an event's list of items: look at each item's values here rather than by a call each
            for inner in value.values():  # type: ignore[union-attr]  # narrowed by the kind test above
                inner_kind = type(inner)
                if inner_kind not in scalars and ((inner_kind is not list and inner_kind is not dict) or not _plain(inner)):
                    return False
        elif kind is not list or not _plain(value):  # type: ignore[arg-type]  # narrowed by the kind test above
            return False
    return True


def _lean_decoder(names: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    """A decoder of the named fields, each a plain scalar, then a document's timestamp and class version (if any),
    in that order (`msgspec.structs.astuple` gives the named values first). Its structs are not tracked by the
    garbage collector (they hold no containers): a long account's history makes thousands."""
    fields: list[Any] = [*((name, _Scalar) for name in names), ("timestamp", _Stamp),
                         ("class_version", _Scalar | msgspec.UnsetType, msgspec.UNSET)]
    return msgspec.json.Decoder(msgspec.defstruct("Lean", fields, gc=False))


class FastJSONTranscoder(JSONTranscoder):
    """Writes exactly the bytes the library's JSONTranscoder writes, and reads them, with orjson.

    Typed values (UUID, Decimal, datetime) are stored as {"_type_": name, "_data_": value}. Encoding: a document
    whose typed values are all at its top level (an event's timestamp and ids; its nested lists and dicts hold plain
    JSON values, which a check walks) is written by orjson after wrapping those; anything else (a typed value deeper
    down, a float, a tuple...) by the library's encoder. Decoding: the library runs a Python hook on every decoded
    dict; here the encoded bytes are counted for the marker first (a marker inside a string value is escaped, so it
    never counts) and the decoded tree is walked only until that many are found: an event's timestamp comes first,
    and a snapshot of a big account has no other typed value to look for.
    """

    def __init__(self) -> None:
        super().__init__()
        self._datetime: Any = None  # the registered "datetime_iso" decoding, once there is one
        self._lean_decoders: dict[tuple[str, ...], msgspec.json.Decoder[Any]] = {}

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        if transcoding.name == "datetime_iso":  # what decodes an event's timestamp
            self._datetime = datetime.fromisoformat if type(transcoding) is DatetimeAsISO else transcoding.decode

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict:
            top = self._top_level_typed(obj)
            if top is not None:
                try:
                    return orjson.dumps(top)
                except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits, a non-string key: the library's way
                    pass
        return super().encode(obj)

    def _top_level_typed(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """`obj` with its top-level UUID, datetime and Decimal values in their stored form; None unless every other
        value, at any depth, is plain JSON."""
        out = {}
        for key, value in obj.items():
            kind = type(value)
            if kind in _TYPED:
                transcoding = self.types.get(kind)
                data = transcoding.encode(value) if transcoding is not None else None
                if type(data) is not str:
                    return None
                value = {"_type_": transcoding.name, "_data_": data}  # type: ignore[union-attr]
            elif kind not in _SCALARS and ((kind is not list and kind is not dict) or not _plain(value)):
                return None
            out[key] = value
        return out

    def decode(self, data: bytes) -> Any:
        obj = orjson.loads(data)
        wanted = data.count(_MARK)
        if wanted == 1 and self._datetime is not None and data.startswith(_TIMESTAMP_FIRST) and len(obj["timestamp"]) == 2:
            obj["timestamp"] = self._datetime(obj["timestamp"]["_data_"])  # most events: their only typed value
        elif wanted:
            self._revive(obj, wanted)
        return obj

    def decode_lean(self, data: bytes, names: tuple[str, ...]) -> tuple[datetime, list[Any]] | None:
        """An event's timestamp and the values of the given top-level fields, as `decode` gives them, without
        reviving anything else; None (read it with `decode`) unless the timestamp is the document's first field in
        the stored form, the document has no class version, and each named field is there with a plain scalar
        value (a string, integer, boolean or null: never a typed value, list or dict, which `decode` may revive).

        msgspec decodes into a struct of just those fields, skipping the rest of the document without building it
        (about a third of orjson's time for a charge); a document that does not fit the struct is a validation
        error, hence None. A document that is not JSON raises, as `decode` does."""
        if self._datetime is None or not data.startswith(_TIMESTAMP_FIRST):
            return None
        try:
            found = self._lean_decoder_of(names).decode(data)
        except msgspec.ValidationError:
            return None
        if found.class_version is not msgspec.UNSET:
            return None
        return self._datetime(found.timestamp._data_), list(astuple(found)[:-2])

    def decode_lean_rows(self, rows: Iterable[tuple[Any, int, str, bytes]],
                         by_topic: Mapping[str, tuple[Any, tuple[str, ...]]],
                         other: Callable[[int, str, bytes], Any]) -> Iterator[Any]:
        """For each (_, version, topic, state) row (the first column is not read: a bulk read's aggregate position):
        `make._make((version, timestamp, *values))` for a row whose topic is in `by_topic` (make: a NamedTuple
        class, names) and which `decode_lean` reads, else `other(version, topic, state)`.

        `decode_lean` with its per-row work done once per history: the decoder looked up once per topic, the fields
        unpacked at C speed, and a timestamp equal to the previous row's (the events of one command share it)
        revived once."""
        stamp = self._datetime
        if stamp is None:
            yield from (other(version, topic, state) for _, version, topic, state in rows)
            return
        readers = {topic: (make, self._lean_decoder_of(names).decode) for topic, (make, names) in by_topic.items()}
        unset, invalid, prefix, new = msgspec.UNSET, msgspec.ValidationError, _TIMESTAMP_FIRST, tuple.__new__
        last: Any = None
        when: Any = None
        for _, version, topic, state in rows:
            reader = readers.get(topic)
            if reader is not None and state.startswith(prefix):
                try:
                    found = reader[1](state)
                except invalid:
                    found = None
                if found is not None and found.class_version is unset:
                    values = astuple(found)
                    text = values[-2]._data_
                    if text != last:
                        last, when = text, stamp(text)
                    yield new(reader[0], (version, when, *values[:-2]))  # what NamedTuple._make does
                    continue
            yield other(version, topic, state)

    def _lean_decoder_of(self, names: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
        decoder = self._lean_decoders.get(names)
        if decoder is None:
            decoder = self._lean_decoders[names] = _lean_decoder(names)
        return decoder

    def decode_top_level_typed(self, data: bytes, keys: tuple[str, ...]) -> Any:
        """Decode a document whose only typed values can be those of the given top-level keys (an account's snapshot:
        its state is plain JSON, only the timestamp is typed), without scanning all its bytes for markers."""
        obj = orjson.loads(data)
        for key in keys:
            value = obj.get(key)
            if isinstance(value, dict) and len(value) == 2 and "_type_" in value and "_data_" in value:
                obj[key] = self._typed(value)
        return obj

    def _revive(self, node: Any, wanted: int) -> int:
        """Replace typed-value dicts inside `node` in place; returns how many are still to be found."""
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, dict):
                if len(value) == 2 and "_type_" in value and "_data_" in value:
                    node[key] = self._typed(value)
                    wanted -= 1
                else:
                    wanted = self._revive(value, wanted)
            elif isinstance(value, list):
                wanted = self._revive(value, wanted)
            if wanted <= 0:
                break
        return wanted

    def _typed(self, value: dict[str, Any]) -> Any:
        try:
            transcoding = self.names[value["_type_"]]
        except KeyError:
            raise TranscodingNotRegisteredError(
                f"Data serialized with name '{value['_type_']}' is not deserializable. "
                "Please register a custom transcoding for this type."
            ) from None
        data = value["_data_"]
        if type(transcoding) is DatetimeAsISO and type(data) is str:  # every event's timestamp: what it decodes to
            return datetime.fromisoformat(data)
        if isinstance(data, (dict, list)):  # a transcoding's data may itself hold typed values: look everywhere
            self._revive(data, 1 << 62)
        return transcoding.decode(data)
