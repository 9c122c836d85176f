"""Unit tests do no I/O: an autouse guard fails any test that connects a socket or a database (PostgreSQL,
SQLite), starts a process, or opens or makes a file or folder for writing. Reading files (the Avro schemas,
time zones) is allowed. A test that needs any of the rest belongs in tests/integration; a ledger for a unit
test is `make_ledger(memory_settings())`.

The test runners' own bookkeeping is let through: pytest's, and hypothesis's storage (its example database,
which keeps failing examples between runs, and its character tables)."""

from __future__ import annotations

import builtins
import io
import os
import socket
import sqlite3
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

_WRITE_MODES = set("wax+")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_RUNNER_MODULES = ("_pytest.", "pluggy.", "hypothesis.")
_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
_SITE = (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])


def _by_the_runner() -> bool:
    """True when pytest or hypothesis, not the code under test, is doing the I/O: the first caller outside this
    module and the standard library (tempfile, pathlib, gzip, ... opening for someone) decides."""
    frame = sys._getframe(1)
    while frame is not None and (frame.f_globals.get("__name__") == __name__ or _in_stdlib(frame.f_code.co_filename)):
        frame = frame.f_back
    return frame is not None and str(frame.f_globals.get("__name__", "")).startswith(_RUNNER_MODULES)


def _in_stdlib(filename: str) -> bool:
    return filename.startswith(_STDLIB) and not filename.startswith(_SITE) or filename.startswith("<frozen")


def _refuse(what: str) -> None:
    pytest.fail(f"a unit test tried to {what}: tests/unit does no I/O (move the test to tests/integration)")


def _refusing(what: str) -> Callable[..., Any]:
    def guard(*args: Any, **kwargs: Any) -> Any:
        _refuse(what)

    return guard


def _guarded_open(real: Callable[..., Any]) -> Callable[..., Any]:
    def open_for_reading(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if _WRITE_MODES & set(mode) and not _by_the_runner():
            _refuse(f"open {file!r} for writing (mode {mode!r})")
        return real(file, mode, *args, **kwargs)

    return open_for_reading


def _guarded_os_open(real: Callable[..., int]) -> Callable[..., int]:
    def os_open_for_reading(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & _WRITE_FLAGS and not _by_the_runner():
            _refuse(f"open {path!r} for writing (os.open)")
        return real(path, flags, *args, **kwargs)

    return os_open_for_reading


def _guarded_mkdir(real: Callable[..., None]) -> Callable[..., None]:
    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if not _by_the_runner():
            _refuse(f"make the folder {path!r}")
        real(path, *args, **kwargs)

    return mkdir


@pytest.fixture(autouse=True)
def no_io(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every unit test runs with sockets, databases, processes and file writes refused."""
    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, _refusing(f"use the network (socket.{name})"))
    monkeypatch.setattr(psycopg, "connect", _refusing("connect to PostgreSQL"))
    monkeypatch.setattr(psycopg.Connection, "connect", _refusing("connect to PostgreSQL"))
    monkeypatch.setattr(sqlite3, "connect", _refusing("open an SQLite database"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refusing("start a process"))
    monkeypatch.setattr(os, "system", _refusing("start a process (os.system)"))
    monkeypatch.setattr(os, "posix_spawn", _refusing("start a process (os.posix_spawn)"))
    monkeypatch.setattr(os, "fork", _refusing("fork a process"))
    monkeypatch.setattr(builtins, "open", _guarded_open(builtins.open))
    monkeypatch.setattr(io, "open", _guarded_open(io.open))
    monkeypatch.setattr(os, "open", _guarded_os_open(os.open))
    monkeypatch.setattr(os, "mkdir", _guarded_mkdir(os.mkdir))
    yield
