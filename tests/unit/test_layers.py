"""The folders are the layers: which package may import which (read from the source, imports inside functions too)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ledger", "consumers")

SHARED = {"ledger.errors", "ledger.recent"}
DOMAIN = {"ledger.aggregates"} | SHARED
USE_CASES = DOMAIN | {"ledger.commands", "ledger.ports", "ledger.settings"}
READS = USE_CASES | {"ledger.queries"}
ADAPTERS = {"ledger.eventstore", "ledger.streaming"}
EVERYTHING = {"ledger", "consumers"}

ALLOWED: dict[str, set[str]] = {
    "ledger.aggregates": DOMAIN,
    "ledger.errors": set(),
    "ledger.recent": set(),
    "ledger.settings": set(),
    "ledger.logging_setup": set(),
    "ledger.ports": {"ledger.errors", "ledger.settings"},
    "ledger.commands": USE_CASES,
    "ledger.queries": READS,
    "ledger.service": USE_CASES,
    "ledger.eventstore": DOMAIN | {"ledger.eventstore", "ledger.ports"},
    "ledger.contracts": DOMAIN | {"ledger.contracts"},
    "ledger.runtime": {"ledger.errors", "ledger.runtime"},
    "ledger.streaming": DOMAIN | {"ledger.streaming", "ledger.eventstore", "ledger.contracts", "ledger.ports",
                                  "ledger.runtime"},
    "ledger.projections": READS | {"ledger.projections", "ledger.contracts", "ledger.streaming"},
    "consumers": USE_CASES | {"consumers", "ledger.contracts", "ledger.projections", "ledger.streaming", "ledger.runtime"},
    "ledger.bootstrap": EVERYTHING,
    "ledger.cycle_processes": EVERYTHING,  # a process entry point: its workers build their Ledger with bootstrap
    "ledger.cli": EVERYTHING,
    "ledger.http": EVERYTHING,
    "ledger.__main__": {"ledger.cli"},
    "ledger": set(),
}
"""Each module (by the longest matching prefix) and the ledger packages it may import."""

FORBIDDEN: dict[str, set[str]] = {
    # entry points get their adapters from bootstrap; they never pick one, and never import each other
    "ledger.cli": ADAPTERS | {"ledger.http", "ledger.eventstore"},
    "ledger.http": ADAPTERS | {"ledger.cli"},
    "ledger.bootstrap": {"ledger.cli", "ledger.http"},
}

IO_MODULES = {"sqlite3", "socket", "subprocess", "http", "urllib", "ssl", "asyncio", "selectors", "shutil",
              "tempfile", "threading", "multiprocessing", "io", "os", "pathlib", "logging"}
DOMAIN_THIRD_PARTY = {"eventsourcing.domain", "eventsourcing.utils"}
USE_CASE_THIRD_PARTY = DOMAIN_THIRD_PARTY | {"pydantic", "eventsourcing.persistence", "stdnum"}  # stdnum: pure number checks
THIRD_PARTY_RULES: dict[str, tuple[set[str], set[str]]] = {
    # layer: (third-party packages it may import, standard-library modules it may not)
    "ledger.aggregates": (DOMAIN_THIRD_PARTY, IO_MODULES),
    "ledger.commands": (USE_CASE_THIRD_PARTY, IO_MODULES - {"io"}),
    "ledger.queries": (USE_CASE_THIRD_PARTY | {"msgspec"}, IO_MODULES - {"io"}),  # msgspec: book checkpoints' codec
    "ledger.ports": (USE_CASE_THIRD_PARTY, IO_MODULES),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str) -> Iterator[str]:
    """Every module a source imports (absolute names; relative imports resolved against `module`)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                yield ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module != "__future__":
                yield node.module
                yield from (f"{node.module}.{alias.name}" for alias in node.names if node.module in PACKAGES)


def _within(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _rule(module: str, table: dict[str, object]) -> str | None:
    matches = [prefix for prefix in table if module == prefix or module.startswith(prefix + ".")]
    return max(matches, key=len) if matches else None


def violations(module: str, source: str) -> list[str]:
    """What `module` imports against the layer rules above."""
    found = []
    layer = _rule(module, ALLOWED)  # type: ignore[arg-type]
    allowed = ALLOWED.get(layer or "", set())
    third_party = THIRD_PARTY_RULES.get(_rule(module, THIRD_PARTY_RULES) or "")  # type: ignore[arg-type]
    forbidden = FORBIDDEN.get(_rule(module, FORBIDDEN) or "", set())  # type: ignore[arg-type]
    for name in sorted(set(imports_of(source, module))):
        top = name.split(".")[0]
        if top in PACKAGES:
            own = _within(name, {layer}) if layer and layer != "ledger" else False
            if name in PACKAGES:
                continue
            if not own and not _within(name, allowed):
                found.append(f"{module} imports {name}")
            elif _within(name, forbidden):
                found.append(f"{module} imports {name} (entry points get adapters through bootstrap)")
        elif third_party is not None:
            packages, io = third_party
            if top in sys.stdlib_module_names:
                if top in io:
                    found.append(f"{module} imports {name} (I/O)")
            elif not _within(name, packages) and not _within(top, packages):
                found.append(f"{module} imports {name}")
    return found


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_what_its_layer_allows(path: Path) -> None:
    """Each module of the package imports only the layers its own layer may use."""
    module = module_name(path)
    assert violations(module, path.read_text(encoding="utf-8")) == []


def test_every_module_has_a_layer() -> None:
    """No module falls outside the layer table (a new folder needs its rule)."""
    assert [module_name(p) for p in _sources() if _rule(module_name(p), ALLOWED) in (None, "ledger")
            and module_name(p) != "ledger"] == []  # type: ignore[arg-type]


def test_a_domain_module_importing_an_adapter_is_caught() -> None:
    """The check itself: an aggregate importing the event store, psycopg or orjson is a violation."""
    source = "import psycopg\nimport orjson\nfrom ledger.eventstore.store import LedgerStore\nfrom decimal import Decimal\n"
    assert violations("ledger.aggregates.billing_account", source) == [
        "ledger.aggregates.billing_account imports ledger.eventstore.store",
        "ledger.aggregates.billing_account imports orjson",
        "ledger.aggregates.billing_account imports psycopg",
    ]


def test_a_domain_module_doing_io_is_caught() -> None:
    """An aggregate importing sqlite3 (or a lazy import inside a function) is a violation."""
    source = "def f():\n    import sqlite3\n"
    assert violations("ledger.aggregates.money", source) == ["ledger.aggregates.money imports sqlite3 (I/O)"]


def test_the_cli_picking_an_adapter_is_caught() -> None:
    """An entry point importing the event store directly (not through bootstrap) is a violation."""
    source = "from ledger.eventstore.store import LedgerStore\nfrom ledger.bootstrap import bootstrap\n"
    assert violations("ledger.cli.accounts", source) == [
        "ledger.cli.accounts imports ledger.eventstore.store (entry points get adapters through bootstrap)",
    ]
