"""The event store's JSON transcoder: the eventsourcing library's stored format, decoded with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError

_MARK = b'"_type_":'


class FastJSONTranscoder(JSONTranscoder):
    """Writes exactly what the library's JSONTranscoder writes; reads it with orjson and revives only the typed values.

    Typed values (UUID, Decimal, datetime) are stored as {"_type_": name, "_data_": value}. The library runs a
    Python hook on every decoded dict; here the encoded bytes are counted for that marker first (a marker inside
    a string value is escaped, so it never counts) and the decoded tree is walked only until that many are found:
    an event's timestamp comes first, and a snapshot of a big account has no other typed value to look for.
    """

    def decode(self, data: bytes) -> Any:
        obj = orjson.loads(data)
        wanted = data.count(_MARK)
        if wanted:
            self._revive(obj, wanted)
        return obj

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
        if isinstance(data, (dict, list)):  # a transcoding's data may itself hold typed values: look everywhere
            self._revive(data, 1 << 62)
        return transcoding.decode(data)
