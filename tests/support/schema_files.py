"""The released schema files, listed the way the registry finds them: the installed `schemas` package's resources."""

from __future__ import annotations

from importlib.resources.abc import Traversable

from ledger.contracts.codec import SCHEMA_DIR


def schema_names() -> list[str]:
    """Full names of the released schemas: the folders of the `schemas` package (Python's __pycache__ aside)."""
    return sorted(p.name for p in SCHEMA_DIR.iterdir() if p.is_dir() and p.name != "__pycache__")


def schema_files() -> list[tuple[str, int, Traversable]]:
    """(full name, version, file) of every released <full name>/v<N>.avsc, sorted."""
    found = []
    for name in schema_names():
        for file in (SCHEMA_DIR / name).iterdir():
            if file.name.startswith("v") and file.name.endswith(".avsc"):
                found.append((name, int(file.name[1:-len(".avsc")]), file))
    return sorted(found, key=lambda f: f[:2])
