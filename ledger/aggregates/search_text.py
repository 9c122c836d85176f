"""How customer search compares text: one folding rule, shared by the directory (eventstore) and the queries."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case without accents or compatibility forms ('Émile ＡＢＣ' -> 'emile abc'): what search compares."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
