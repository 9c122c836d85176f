"""Loading schemas from a folder on disk (what an installed package holds): only schema folders count."""

from __future__ import annotations

import shutil
from pathlib import Path

from ledger.contracts.codec import SCHEMA_DIR, SchemaRegistry
from ledger.contracts.rating import CHARGE_SCHEMA


def test_load_skips_python_s_pycache(tmp_path: Path) -> None:
    """The __pycache__ folder Python writes beside schemas/__init__.py is not taken for a schema."""
    shutil.copytree(Path(str(SCHEMA_DIR / CHARGE_SCHEMA)), tmp_path / CHARGE_SCHEMA)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"")
    assert SchemaRegistry.load(tmp_path).names() == [CHARGE_SCHEMA]
