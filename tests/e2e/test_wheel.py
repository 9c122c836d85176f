"""The package ships what it needs: the wheel built from the Docker build context, installed in a fresh virtual
environment and run from a folder outside the repository with no path added (what `pip install .` and the image do)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from ledger.bootstrap import ensure_ledger_topics
from ledger.contracts.codec import SchemaRegistry
from ledger.settings import Settings
from tests.support.pipeline import RatingSystem, process_env, read_topic
from tests.support.processes import run_tool

ROOT = Path(__file__).resolve().parents[2]
CHARGE_AMOUNT = Decimal("10.004")


def build_context(root: Path, dest: Path) -> Path:
    """A copy of the repository as `docker build` sees it: without what .dockerignore excludes."""
    patterns = [line.strip() for line in (root / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "exceptions (!p) in .dockerignore are not modelled here"

    def excluded(relative: str) -> bool:  # a little wider than Docker's matching (`*` also crosses `/`), never narrower
        return any(fnmatch(relative, p) or (p.startswith("**/") and fnmatch(relative.rsplit("/", 1)[-1], p[3:]))
                   for p in patterns)

    def ignore(directory: str, names: list[str]) -> set[str]:
        folder = Path(directory).relative_to(root)
        return {n for n in names if excluded((folder / n).as_posix())}

    shutil.copytree(root, dest, ignore=ignore)
    return dest


@dataclass(frozen=True)
class Installed:
    """The built wheel and the fresh virtual environment it is installed in."""

    wheel: Path
    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without a Python path, a virtual environment or LEDGER_* settings, plus `extra`."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("LEDGER_")} | extra


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """`pip wheel --no-deps` of the build context, installed (dependencies from PyPI) in a fresh venv, once."""
    work = tmp_path_factory.mktemp("wheel")
    source = build_context(ROOT, work / "context")
    run_tool([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(work / "dist")], AssertionError,
             timeout=600, cwd=work, env=clean_env())
    [wheel] = (work / "dist").glob("ledger-*.whl")
    run_tool([sys.executable, "-m", "venv", str(work / "venv")], AssertionError, timeout=300, cwd=work, env=clean_env())
    run_tool([str(work / "venv" / "bin" / "python"), "-m", "pip", "install", str(wheel)], AssertionError, timeout=900,
             cwd=work, env=clean_env())
    return Installed(wheel, work / "venv")


def run(installed: Installed, program: str, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A program of the venv, from `cwd` (outside the repository), with `env`."""
    return subprocess.run([str(installed.bin / program), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, timeout=300)


def ok(result: subprocess.CompletedProcess) -> Any:
    """The JSON document a successful run printed."""
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return json.loads(result.stdout)


def repository_schema_files() -> dict[str, bytes]:
    """schemas/<full name>/v<N>.avsc of the repository, by relative path: what the wheel must hold byte for byte."""
    return {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in sorted((ROOT / "schemas").glob("*/*.avsc"))}


def test_wheel_holds_every_released_schema_file_unchanged(installed: Installed) -> None:
    """The wheel has ledger, consumers and schemas, and each schemas/<name>/v<N>.avsc byte for byte as released."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = wheel.namelist()
        shipped = {n: wheel.read(n) for n in names if n.startswith("schemas/") and n.endswith(".avsc")}
    assert {"ledger/__init__.py", "consumers/__init__.py", "consumers/charge_ingestion.py", "schemas/__init__.py"} <= set(names)
    assert shipped == repository_schema_files()


def test_installed_demo_runs_and_verifies(installed: Installed, tmp_path: Path) -> None:
    """`ledger demo --json` of the installed package bills the three accounts and verifies store and read models."""
    summary = ok(run(installed, "ledger", "demo", "--json", cwd=tmp_path, env=clean_env(TMPDIR=str(tmp_path))))
    assert summary["verify"]["ok"] is True and summary["read_models"]["verify"]["ok"] is True
    assert summary["cycle"]["totals"] == {"EUR": "43.87", "USD": "155.47", "JPY": "5644"}
    assert summary["bills"]["ACME-PARIS-00001"]["remaining_amount"] == "13.87"
    assert Path(summary["store_path"]).is_relative_to(tmp_path)


def test_installed_package_imports_consumers_and_loads_every_schema(installed: Installed, tmp_path: Path) -> None:
    """The installed consumers and schemas are the venv's, and the registry loads one schema per schemas/ folder."""
    script = ("import json, consumers.projection, schemas\n"
              "from ledger.contracts.codec import SCHEMA_DIR, SchemaRegistry\n"
              "registry = SchemaRegistry.load()\n"
              "print(json.dumps({'consumers': consumers.__file__, 'schemas': str(SCHEMA_DIR), 'names': registry.names(),\n"
              "                  'versions': sum(len(registry.versions(n)) for n in registry.names())}))")
    found = ok(run(installed, "python", "-c", script, cwd=tmp_path, env=clean_env()))
    folders = sorted(p.name for p in (ROOT / "schemas").iterdir() if p.is_dir() and p.name != "__pycache__")
    assert found["names"] == folders and found["versions"] == len(repository_schema_files())
    assert Path(found["consumers"]).is_relative_to(installed.venv) and Path(found["schemas"]).is_relative_to(installed.venv)


# ---------------------------------------------------------------- the stream processes of the installed package


@pytest.fixture
def stream_settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """A SQLite store and read models in tmp_path, with this test's own Kafka topics."""
    tag = uuid.uuid4().hex[:8]
    return Settings(store="sqlite", sqlite_path=tmp_path / "ledger.sqlite",
                    read_model_sqlite_path=tmp_path / "read_models.sqlite", kafka_bootstrap=kafka_bootstrap,
                    events_topic=f"events-{tag}", rating_topic=f"rating-{tag}", dead_letter_topic=f"dlq-{tag}",
                    ingest_group=f"ingest-{tag}", topic_partitions=1)


@pytest.fixture
def stream_env(stream_settings: Settings) -> dict[str, str]:
    """The environment of an installed ledger process on `stream_settings` (LEDGER_* variables, no Python path)."""
    return clean_env(**{k: v for k, v in process_env(stream_settings).items() if k.startswith("LEDGER_")})


def open_account(installed: Installed, cwd: Path, env: dict[str, str]) -> None:
    """The monthly specification and account ACC-1 in EUR, through the installed CLI, on 1 October 2026 (the
    ledger's clock fixed then: the charges that follow are effective after the opening)."""
    opening = env | {"LEDGER_FIXED_NOW": "2026-10-01T00:00:00Z"}
    ok(run(installed, "ledger", "--json", "cycle-spec", "define", "monthly-1", cwd=cwd, env=opening))
    ok(run(installed, "ledger", "--json", "account", "open", "ACC-1", "--customer", "C1", "--currency", "EUR",
           "--cycle-spec", "monthly-1", cwd=cwd, env=opening))


def post_and_relay(installed: Installed, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Open ACC-1, post one charge of CHARGE_AMOUNT, and run `ledger relay --idle-exit 1`; its JSON outcome."""
    open_account(installed, cwd, env)
    ok(run(installed, "ledger", "--json", "charge", "post", "--charge-id", "ch1", "--account", "ACC-1",
           "--amount", str(CHARGE_AMOUNT), "--date", "2026-10-05T10:00:00Z", cwd=cwd, env=env))
    return ok(run(installed, "ledger", "--json", "relay", "--idle-exit", "1", cwd=cwd, env=env))


def test_installed_relay_publishes_the_stored_events(installed: Installed, stream_settings: Settings,
                                                     stream_env: dict[str, str], tmp_path: Path) -> None:
    """`ledger relay --idle-exit 1` exits 0 having published the specification, the account and its charge."""
    relayed = post_and_relay(installed, tmp_path, stream_env)
    messages = read_topic(stream_settings.kafka_bootstrap or "", stream_settings.events_topic)
    decoded = [SchemaRegistry.load().decode(m.value) for m in messages]
    assert relayed["published"] == len(messages) == 3
    assert Counter(name for name, _ in decoded) == Counter([
        "ledger.events.BillingCycleSpecificationDefined", "ledger.events.BillingAccountOpened",
        "ledger.events.BillingAccountChargeApplied"])


def test_installed_project_writes_the_relayed_charge(installed: Installed, stream_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    """`ledger project --idle-exit 1` exits 0 having written the relayed charge into the balance read model."""
    post_and_relay(installed, tmp_path, stream_env)
    projected = ok(run(installed, "ledger", "--json", "project", "--idle-exit", "1", cwd=tmp_path, env=stream_env))
    [row] = ok(run(installed, "ledger", "--json", "read-models", "balances", "ACC-1", cwd=tmp_path, env=stream_env))
    assert projected["projected"] == 3
    assert Decimal(row["balance"]) == CHARGE_AMOUNT


def test_installed_ingest_applies_a_rating_charge(installed: Installed, stream_settings: Settings,
                                                  stream_env: dict[str, str], tmp_path: Path) -> None:
    """`ledger ingest --idle-exit 1` exits 0 having applied the rating system's charge message to the account."""
    open_account(installed, tmp_path, stream_env)
    ensure_ledger_topics(stream_settings)  # the rating system's topic, before it sends
    rating = RatingSystem(stream_settings, SchemaRegistry.load())
    try:
        rating.charge("r1", "ACC-1", CHARGE_AMOUNT)
        rating.flush()
    finally:
        rating.close()
    ingested = ok(run(installed, "ledger", "--json", "ingest", "--idle-exit", "1", cwd=tmp_path, env=stream_env))
    view = ok(run(installed, "ledger", "--json", "account", "show", "ACC-1", cwd=tmp_path, env=stream_env))
    assert (ingested["received"], ingested["applied"], ingested["dead_lettered"]) == (1, 1, 0)
    assert Decimal(view["balance"]) == CHARGE_AMOUNT
