"""Real PostgreSQL for the test suite.

Owns getting a server (the one named by ``LEDGER_TEST_POSTGRES_URL``, else a
throw-away cluster started here, installing Debian's ``postgresql`` package
when it is missing and we are root) and per-test schemas on it.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from tests.support.processes import free_ports, run_tool

URL_ENV = "LEDGER_TEST_POSTGRES_URL"
DB_USER = "postgres"
DB_NAME = "ledger"
_TOOLS = ("initdb", "pg_ctl", "postgres")
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


class PostgresServerError(RuntimeError):
    """PostgreSQL could not be found, installed, started or reached."""


def _run(cmd: Sequence[str], timeout: float = 120, **kwargs: Any) -> str:
    return run_tool(cmd, PostgresServerError, timeout, **kwargs)


def _version_key(bindir: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", bindir))


def find_bindir() -> Path | None:
    """Directory holding initdb, pg_ctl and postgres: PATH first, then newest Debian."""
    candidates = []
    if on_path := shutil.which("pg_ctl"):
        candidates.append(os.path.dirname(os.path.realpath(on_path)))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for bindir in candidates:
        if all(os.access(os.path.join(bindir, t), os.X_OK) for t in _TOOLS):
            return Path(bindir)
    return None


def install_postgres() -> None:
    """Install Debian's ``postgresql`` package (root and apt-get only)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PostgresServerError(
            "PostgreSQL (initdb, pg_ctl, postgres) not found and cannot be installed "
            f"here (needs root and apt-get); set {URL_ENV} to use an existing server"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update"], timeout=900, env=env)
    _run(["apt-get", "install", "-y", "postgresql"], timeout=1800, env=env)


def _server_user() -> pwd.struct_passwd | None:
    """OS user to run PostgreSQL as: None for ourselves unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "ledger-pg"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    if shutil.which("useradd"):
        with contextlib.suppress(PostgresServerError):
            _run(["useradd", "--system", "--user-group", "--no-create-home",
                  "--shell", "/usr/sbin/nologin", "ledger-pg"])
            return pwd.getpwnam("ledger-pg")
    return pwd.getpwnam("nobody")


def wait_until_ready(url: str, timeout: float = 30, process: subprocess.Popen | None = None) -> None:
    """Wait until ``url`` accepts connections (while ``process`` runs), else raise PostgresServerError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=5).close()
            return
        except psycopg.OperationalError as exc:
            if process is not None and process.poll() is not None:
                raise PostgresServerError(f"postgres exited with {process.returncode}") from exc
            if time.monotonic() > deadline:
                shown = re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)
                raise PostgresServerError(f"PostgreSQL at {shown} not reachable: {exc}") from exc
            time.sleep(0.2)


class PostgresServer:
    """A throw-away PostgreSQL cluster in a temp dir; ``url`` once started."""

    def __init__(self, **settings: str) -> None:
        """`settings` are added to postgresql.conf (over the suite's fast but crash-unsafe defaults)."""
        self.settings = settings
        self.url = ""
        self._tmp: Path | None = None
        self._bindir: Path | None = None
        self._user: pwd.struct_passwd | None = None
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        bindir = find_bindir()
        if bindir is None:
            install_postgres()
            if (bindir := find_bindir()) is None:
                raise PostgresServerError("postgresql installed, yet no initdb/pg_ctl/postgres found")
        self._bindir, self._user = bindir, _server_user()
        self._tmp = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        assert self._tmp is not None
        data, sockets, log = self._tmp / "data", self._tmp / "sockets", self._tmp / "postgres.log"
        sockets.mkdir()
        if self._user is not None:
            for path in (self._tmp, sockets):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        _run([self._tool("initdb"), "-D", str(data), "-U", DB_USER, "-A", "trust",
              "-E", "UTF8", "--no-locale", "--no-sync"], **self._as_server_user())
        settings = {**_SETTINGS, **self.settings, "unix_socket_directories": f"'{sockets}'"}
        with open(data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        for attempt in range(3):  # the free port may be taken before postgres binds it
            port = free_ports(1)[0]
            with open(log, "ab") as log_file:  # a child of ours (not pg_ctl's), so we reap it
                self._proc = subprocess.Popen(
                    [self._tool("postgres"), "-D", str(data), "-p", str(port)],
                    stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                    start_new_session=True, **self._as_server_user(),
                )
            admin_url = f"postgresql://{DB_USER}@127.0.0.1:{port}/postgres"
            try:
                wait_until_ready(admin_url, timeout=60, process=self._proc)
                break
            except PostgresServerError as exc:
                log_text = log.read_text(errors="replace")
                if attempt == 2 or self._proc.poll() is None or "already in use" not in log_text:
                    raise PostgresServerError(f"{exc}\n--- postgres.log ---\n{log_text[-4000:]}") from exc
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))
        self.url = f"postgresql://{DB_USER}@127.0.0.1:{port}/{DB_NAME}"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/")[0])

    def halt(self, mode: str = "fast") -> None:
        """Stop the server process (pg_ctl `mode`: fast ends sessions and shuts down cleanly, immediate is a crash),
        keeping its port and data for `resume()`."""
        assert self._tmp is not None and self._proc is not None
        _run([self._tool("pg_ctl"), "-D", str(self._tmp / "data"), "stop", "-m", mode, "-w", "-t", "60"],
             **self._as_server_user())
        self._proc.wait(timeout=30)

    def resume(self) -> None:
        """Start the server again after `halt()`: same port, same data directory."""
        assert self._tmp is not None
        port = self.port
        with open(self._tmp / "postgres.log", "ab") as log_file:
            self._proc = subprocess.Popen(
                [self._tool("postgres"), "-D", str(self._tmp / "data"), "-p", str(port)],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True, **self._as_server_user(),
            )
        wait_until_ready(self.url, timeout=60, process=self._proc)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _as_server_user(self) -> dict[str, Any]:
        """subprocess arguments that run a command as the server's OS user."""
        if self._user is None:
            return {"cwd": self._tmp}
        return {"cwd": self._tmp, "user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _tool(self, name: str) -> str:
        assert self._bindir is not None
        return str(self._bindir / name)

    def stop(self) -> None:
        """Stop the server (pg_ctl fast, else immediate, else SIGKILL) and delete its files."""
        atexit.unregister(self.stop)
        tmp, proc = self._tmp, self._proc
        if tmp is None:
            return
        try:
            if proc is not None and proc.poll() is None:
                for mode in ("fast", "immediate"):
                    with contextlib.suppress(PostgresServerError, subprocess.TimeoutExpired):
                        _run([self._tool("pg_ctl"), "-D", str(tmp / "data"), "stop", "-m", mode,
                              "-w", "-t", "30"], **self._as_server_user())
                        proc.wait(timeout=10)
                        break
                else:
                    proc.kill()
                    proc.wait()
        finally:
            self._tmp, self._proc, self.url = None, None, ""
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a libpq URL: ``$LEDGER_TEST_POSTGRES_URL`` if set, else a started server's."""
    if url := os.environ.get(URL_ENV, "").strip():
        wait_until_ready(url)
        yield url
        return
    with PostgresServer() as server:
        yield server.url


def fresh_schema(url: str) -> str:
    """Create and return a new, empty, uniquely named schema (``t_<hex>``)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return name


def drop_schema(url: str, name: str) -> None:
    """Drop schema ``name`` and everything in it."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
