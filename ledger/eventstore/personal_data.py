"""The personal-data vault: a key per customer (AES-256-GCM, `cryptography`), wrapped by the configured master key and
kept in its own table beside the event tables, and the customer directory that search reads.

Sealing: each personal value is encrypted with its customer's key, a fresh 96-bit nonce, and the customer id and
field name as associated data (a sealed value cannot be moved to another customer or field unnoticed); the sealed
text is `v1.` + urlsafe base64 of nonce + ciphertext + tag. Keys are wrapped the same way with the master key
(associated data: the customer id). Erasing destroys the key (and the directory row): every sealed value of that
customer, in every event ever stored or published, no longer opens.

The directory holds what search needs in clear (name, email, phone, customer id), folded to lower case without
accents; erasure deletes its row. On PostgreSQL it has a trigram index (pg_trgm) so `LIKE '%text%'` is an index
scan; SQLite deletes with `secure_delete` on, so an erased row's bytes are overwritten in the file, and the
write-ahead log (which still holds the pages as they were) is checkpointed and truncated after an erasure.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.aggregates.search_text import fold
from ledger.errors import PersonalDataUnavailable

KEYS_TABLE = "ledger_customer_keys"
DIRECTORY_TABLE = "ledger_customer_directory"
SEARCHED = ("customer_ref", "name", "email", "phone")
_PREFIX = "v1."


def master_key_bytes(encoded: str) -> bytes:
    """The master key from its setting: 32 bytes, urlsafe or standard base64."""
    try:
        key = base64.urlsafe_b64decode(encoded.replace("+", "-").replace("/", "_") + "=" * (-len(encoded) % 4))
    except (ValueError, TypeError):
        key = b""
    if len(key) != 32:
        raise PersonalDataUnavailable("LEDGER_MASTER_KEY must be 32 random bytes in base64 (e.g. from `python -c "
                                      "\"import os, base64; print(base64.urlsafe_b64encode(os.urandom(32)).decode())\"`)")
    return key


class PersonalDataVault:
    """Seals, opens and erases personal data; keeps the searchable directory. Subclasses store the rows."""

    def __init__(self, master_key: bytes | None) -> None:
        self._master = AESGCM(master_key) if master_key is not None else None
        self._keys: dict[UUID, AESGCM] = {}  # unwrapped keys of this process, dropped on erasure
        self._lock = threading.RLock()

    # ------------------------------------------------------------ rows (per backend)

    def _load_key(self, owner: UUID) -> bytes | None:
        raise NotImplementedError

    def _store_key(self, owner: UUID, wrapped: bytes) -> bytes:
        """Insert the wrapped key unless one exists; returns the stored one."""
        raise NotImplementedError

    def _delete(self, owner: UUID) -> bool:
        """Delete the key and the directory row; True when a key was there."""
        raise NotImplementedError

    def _upsert_entry(self, owner: UUID, ref: str, text: str, sort: str) -> None:
        raise NotImplementedError

    def _find(self, pattern: str, limit: int, offset: int) -> tuple[list[UUID], int]:
        raise NotImplementedError

    # ------------------------------------------------------------ keys

    def _master_key(self) -> AESGCM:
        if self._master is None:
            raise PersonalDataUnavailable("no master key is configured for personal data: set LEDGER_MASTER_KEY")
        return self._master

    def _key(self, owner: UUID, create: bool) -> AESGCM | None:
        with self._lock:
            found = self._keys.get(owner)
            if found is not None:
                return found
            wrapped = self._load_key(owner)
            if wrapped is None:
                if not create:
                    return None
                nonce = os.urandom(12)
                wrapped = self._store_key(owner, nonce + self._master_key().encrypt(nonce, AESGCM.generate_key(256),
                                                                                    owner.bytes))
            try:
                raw = self._master_key().decrypt(wrapped[:12], wrapped[12:], owner.bytes)
            except InvalidTag:
                raise PersonalDataUnavailable("a customer key does not open with LEDGER_MASTER_KEY: wrong master key",
                                              customer=owner) from None
            key = self._keys[owner] = AESGCM(raw)
            return key

    def seal(self, owner: UUID, fields: Mapping[str, str]) -> dict[str, str]:
        """Each value encrypted with the owner's key (made on first use)."""
        key = self._key(owner, create=True)
        assert key is not None
        sealed = {}
        for name, value in fields.items():
            nonce = os.urandom(12)
            body = key.encrypt(nonce, value.encode(), f"{owner}:{name}".encode())
            sealed[name] = _PREFIX + base64.urlsafe_b64encode(nonce + body).decode()
        return sealed

    def open(self, owner: UUID, sealed: Mapping[str, str]) -> dict[str, str] | None:
        """The values in clear; None when the owner's key was destroyed (erased)."""
        key = self._key(owner, create=False)
        if key is None:
            return None
        opened = {}
        for name, text in sealed.items():
            raw = base64.urlsafe_b64decode(text[len(_PREFIX):])
            try:
                opened[name] = key.decrypt(raw[:12], raw[12:], f"{owner}:{name}".encode()).decode()
            except InvalidTag:
                raise PersonalDataUnavailable(f"sealed field {name} of customer {owner} does not open",
                                              customer=owner) from None
        return opened

    def erase(self, owner: UUID) -> bool:
        """Destroy the owner's key and directory row; False when there was no key (already erased)."""
        with self._lock:
            self._keys.pop(owner, None)
            return self._delete(owner)

    # ------------------------------------------------------------ directory

    def index(self, owner: UUID, entry: Mapping[str, str]) -> None:
        """The owner's search row from its customer id, name, email and phone (in clear, folded)."""
        text = "\x1f".join(fold(entry.get(name) or "") for name in SEARCHED)
        self._upsert_entry(owner, entry.get("customer_ref", ""), text, fold(entry.get("name") or ""))

    def search(self, text: str, limit: int, offset: int) -> tuple[list[UUID], int]:
        """Customers whose id, name, email or phone contains `text` (case and accents ignored), prefix matches first,
        then by name: one page of ids and the number of matches."""
        return self._find(fold(text).strip(), limit, offset)

    def close(self) -> None:
        pass


class MemoryVault(PersonalDataVault):
    """Keys and directory in this process (tests, LEDGER_STORE=memory)."""

    def __init__(self, master_key: bytes | None) -> None:
        super().__init__(master_key if master_key is not None else AESGCM.generate_key(256))
        self.wrapped: dict[UUID, bytes] = {}
        self.entries: dict[UUID, tuple[str, str, str]] = {}

    def _load_key(self, owner: UUID) -> bytes | None:
        return self.wrapped.get(owner)

    def _store_key(self, owner: UUID, wrapped: bytes) -> bytes:
        return self.wrapped.setdefault(owner, wrapped)

    def _delete(self, owner: UUID) -> bool:
        self.entries.pop(owner, None)
        return self.wrapped.pop(owner, None) is not None

    def _upsert_entry(self, owner: UUID, ref: str, text: str, sort: str) -> None:
        self.entries[owner] = (ref, text, sort)

    def _find(self, pattern: str, limit: int, offset: int) -> tuple[list[UUID], int]:
        hits = [(not _starts(text, pattern), sort, ref, owner) for owner, (ref, text, sort) in self.entries.items()
                if pattern in text]
        hits.sort()
        return [h[3] for h in hits[offset:offset + limit]], len(hits)


def _starts(text: str, pattern: str) -> bool:
    return any(part.startswith(pattern) for part in text.split("\x1f"))


def _like(pattern: str) -> str:
    return pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqliteVault(PersonalDataVault):
    """Keys and directory in tables of the event store's SQLite file."""

    def __init__(self, master_key: bytes | None, path: Path) -> None:
        super().__init__(master_key)
        self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA secure_delete = ON")
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (customer_id TEXT PRIMARY KEY, wrapped BLOB NOT NULL)")
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {DIRECTORY_TABLE} (customer_id TEXT PRIMARY KEY, "
                          "customer_ref TEXT NOT NULL, search_text TEXT NOT NULL, sort_name TEXT NOT NULL)")

    def _load_key(self, owner: UUID) -> bytes | None:
        row = self.conn.execute(f"SELECT wrapped FROM {KEYS_TABLE} WHERE customer_id = ?", (str(owner),)).fetchone()
        return None if row is None else bytes(row[0])

    def _store_key(self, owner: UUID, wrapped: bytes) -> bytes:
        self.conn.execute(f"INSERT OR IGNORE INTO {KEYS_TABLE} VALUES (?, ?)", (str(owner), wrapped))
        return self._load_key(owner) or wrapped

    def _delete(self, owner: UUID) -> bool:
        with _sqlite_transaction(self.conn):
            self.conn.execute(f"DELETE FROM {DIRECTORY_TABLE} WHERE customer_id = ?", (str(owner),))
            deleted = self.conn.execute(f"DELETE FROM {KEYS_TABLE} WHERE customer_id = ?", (str(owner),)).rowcount > 0
        # the write-ahead log still holds the pages as they were before the delete: fold it in and empty it
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted

    def _upsert_entry(self, owner: UUID, ref: str, text: str, sort: str) -> None:
        self.conn.execute(f"INSERT INTO {DIRECTORY_TABLE} VALUES (?, ?, ?, ?) ON CONFLICT (customer_id) DO UPDATE SET "
                          "customer_ref = excluded.customer_ref, search_text = excluded.search_text, "
                          "sort_name = excluded.sort_name", (str(owner), ref, text, sort))

    def _find(self, pattern: str, limit: int, offset: int) -> tuple[list[UUID], int]:
        like, prefix = f"%{_like(pattern)}%", f"{_like(pattern)}%"
        where = f"FROM {DIRECTORY_TABLE} WHERE search_text LIKE ? ESCAPE '\\'"
        total = self.conn.execute(f"SELECT COUNT(*) {where}", (like,)).fetchone()[0]
        rows = self.conn.execute(
            f"SELECT customer_id {where} ORDER BY (search_text NOT LIKE ? ESCAPE '\\' AND search_text NOT LIKE ? "
            "ESCAPE '\\'), sort_name, customer_ref LIMIT ? OFFSET ?",
            (like, prefix, f"%\x1f{_like(pattern)}%", limit, offset)).fetchall()
        return [UUID(r[0]) for r in rows], int(total)

    def close(self) -> None:
        self.conn.close()


class _sqlite_transaction:  # noqa: N801
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.conn.execute("ROLLBACK" if kind else "COMMIT")


class PostgresVault(PersonalDataVault):
    """Keys and directory in tables of the event store's PostgreSQL schema; the directory has a trigram index."""

    def __init__(self, master_key: bytes | None, url: str, schema: str | None) -> None:
        import psycopg
        from psycopg import sql

        super().__init__(master_key)
        self.conn = psycopg.connect(url, autocommit=True)
        if schema:
            self.conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (customer_id uuid PRIMARY KEY, wrapped bytea NOT NULL)")
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {DIRECTORY_TABLE} (customer_id uuid PRIMARY KEY, "
                          "customer_ref text NOT NULL, search_text text NOT NULL, sort_name text NOT NULL)")
        try:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {DIRECTORY_TABLE}_trgm ON {DIRECTORY_TABLE} "
                              "USING gin (search_text public.gin_trgm_ops)")
        except psycopg.Error:  # no pg_trgm on this server: search still works, by a sequential scan
            pass

    def _load_key(self, owner: UUID) -> bytes | None:
        row = self.conn.execute(f"SELECT wrapped FROM {KEYS_TABLE} WHERE customer_id = %s", (owner,)).fetchone()
        return None if row is None else bytes(row[0])

    def _store_key(self, owner: UUID, wrapped: bytes) -> bytes:
        self.conn.execute(f"INSERT INTO {KEYS_TABLE} VALUES (%s, %s) ON CONFLICT DO NOTHING", (owner, wrapped))
        return self._load_key(owner) or wrapped

    def _delete(self, owner: UUID) -> bool:
        with self.conn.transaction():
            self.conn.execute(f"DELETE FROM {DIRECTORY_TABLE} WHERE customer_id = %s", (owner,))
            return self.conn.execute(f"DELETE FROM {KEYS_TABLE} WHERE customer_id = %s", (owner,)).rowcount > 0

    def _upsert_entry(self, owner: UUID, ref: str, text: str, sort: str) -> None:
        self.conn.execute(f"INSERT INTO {DIRECTORY_TABLE} VALUES (%s, %s, %s, %s) ON CONFLICT (customer_id) DO UPDATE "
                          "SET customer_ref = excluded.customer_ref, search_text = excluded.search_text, "
                          "sort_name = excluded.sort_name", (owner, ref, text, sort))

    def _find(self, pattern: str, limit: int, offset: int) -> tuple[list[UUID], int]:
        like = f"%{_like(pattern)}%"
        where = f"FROM {DIRECTORY_TABLE} WHERE search_text LIKE %s"
        total = self.conn.execute(f"SELECT COUNT(*) {where}", (like,)).fetchone()[0]  # type: ignore[index]
        rows = self.conn.execute(
            f"SELECT customer_id {where} ORDER BY (search_text NOT LIKE %s AND search_text NOT LIKE %s), sort_name, "
            "customer_ref LIMIT %s OFFSET %s",
            (like, f"{_like(pattern)}%", f"%\x1f{_like(pattern)}%", limit, offset)).fetchall()
        return [r[0] for r in rows], int(total)

    def close(self) -> None:
        self.conn.close()
