"""Content fingerprints: a short stable hash of a command's content, to tell a replay from a conflicting reuse of an id.

Stored fingerprints are compared with new ones, so the text hashed never changes: the compact, key-sorted,
ASCII-escaped `json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))`.

A charge is fingerprinted on every post. json.dumps spends most of its time building a JSONEncoder and then its C
encoder on every call; the C encoder is built once here, with the very arguments json.dumps gives it for these
options, except the markers dict of its circular-reference check (parts are never circular: a circular one would
raise RecursionError rather than ValueError). Without the C accelerator, json.dumps itself writes the text.
"""

from __future__ import annotations

import hashlib
import json
from json import encoder as _encoder
from typing import Any

_sha256 = hashlib.sha256

_make_encoder = getattr(_encoder, "c_make_encoder", None)  # None without the accelerator

if _make_encoder is not None:
    # Arguments as JSONEncoder.iterencode passes them: markers, default, string encoder, indent, key separator, item
    # separator, sort_keys, skipkeys, allow_nan.
    _encode = _make_encoder(None, str, _encoder.encode_basestring_ascii, None, ":", ",", True, False, True)

    def canonical_text(parts: tuple[Any, ...]) -> str:
        """json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))."""
        return "".join(_encode(parts, 0))

else:  # pragma: no cover  (a Python built without the _json accelerator)

    def canonical_text(parts: tuple[Any, ...]) -> str:
        """json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))."""
        return json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))


def digest(*parts: Any) -> str:
    """The first 16 hex digits of the SHA-256 of the parts' canonical JSON text (see the module's docstring)."""
    return _sha256(canonical_text(parts).encode()).hexdigest()[:16]
