"""Recent: a bounded memo of recently computed immutable values, for hot encode/decode paths."""

from __future__ import annotations

from typing import Any


class Recent(dict):
    """A dict of recent results that empties itself when full: bounded memory, no per-hit bookkeeping.

    Hot paths look up with the dict's own `get` and store a miss with `keep(key, value)`, which returns the value.
    """

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def keep(self, key: Any, value: Any) -> Any:
        if len(self) >= self.size:
            self.clear()
        self[key] = value
        return value
