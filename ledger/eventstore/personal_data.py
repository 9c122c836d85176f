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
import time
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.aggregates.search_text import fold
from ledger.errors import PersonalDataUnavailable
from ledger.ports import DirectoryMatches

KEYS_TABLE = "ledger_customer_keys"
DIRECTORY_TABLE = "ledger_customer_directory"
SEARCHED = ("customer_ref", "name", "email", "phone")
FIELDS = {"customer_id": 1, "name": 2, "email": 3, "phone": 4}
"""The fields a search may be narrowed to, by their place in the directory's search text (1-based, as split_part)."""
EXACT = (1, 3, 4)
"""The fields whose whole value identifies a customer (id, email, phone): a search text equal to one answers only
the customers it equals (an exact lookup, before any substring search)."""
COUNT_CAP = 500
"""The number of matches is counted up to this many; past it a search answers a lower bound (total_exact False)."""
SEP = "\x1f"
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

    def _find(self, pattern: str, limit: int, offset: int, fields: Mapping[int, str],
              within: Collection[UUID] | None) -> DirectoryMatches:
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

    def search(self, text: str, limit: int, offset: int, *, fields: Mapping[str, str] | None = None,
               within: Collection[UUID] | None = None) -> DirectoryMatches:
        """Customers whose id, name, email or phone contains `text` (case and accents ignored), those with a field
        starting with it first, then by name and id; when `text` is a whole customer id, email or phone, only the
        customers it equals. `fields` narrows to customers whose named field (FIELDS) also contains its text;
        `within`: only these customers. One page of ids and the number of matches, exact up to COUNT_CAP (past it
        a lower bound, unless this page is the last: see `counted`)."""
        narrowed = {FIELDS[name]: fold(value).strip() for name, value in (fields or {}).items() if fold(value).strip()}
        return self._find(fold(text).strip(), max(1, limit), max(0, offset), narrowed,
                          None if within is None else set(within))

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

    def _find(self, pattern: str, limit: int, offset: int, fields: Mapping[int, str],
              within: Collection[UUID] | None) -> DirectoryMatches:
        return ranked(((owner, ref, text, sort) for owner, (ref, text, sort) in self.entries.items()), pattern, limit,
                      offset, fields, within)


def counted(page: list[UUID], matched: int, offset: int, limit: int) -> DirectoryMatches:
    """The page with its number of matches, `matched` counted up to COUNT_CAP + 1 at least: exact up to the cap;
    past it, exact only when this page is the last one (it is short but not empty: offset + its length), else a
    lower bound (at least COUNT_CAP + 1, and at least the matches up to a full page's end)."""
    if matched <= COUNT_CAP:
        return DirectoryMatches(page, matched, True)
    if 0 < len(page) < limit:
        return DirectoryMatches(page, offset + len(page), True)
    return DirectoryMatches(page, max(COUNT_CAP + 1, offset + len(page)) if page else COUNT_CAP + 1, False)


def ranked(rows: Iterable[tuple[UUID, str, str, str]], pattern: str, limit: int, offset: int,
           fields: Mapping[int, str], within: Collection[UUID] | None) -> DirectoryMatches:
    """The search over directory rows (owner, customer_ref, search_text, sort_name) in Python: memory and SQLite
    (which narrows the rows with LIKE first); PostgresVault answers the same from its indexes."""
    hits, exact = [], []
    for owner, ref, text, sort in rows:
        parts = text.split(SEP)
        if pattern not in text or any(value not in parts[at - 1] for at, value in fields.items()) \
                or (within is not None and owner not in within):
            continue
        if pattern and any(parts[at - 1] == pattern for at in EXACT):
            exact.append((sort, ref, owner))
        hits.append((not any(part.startswith(pattern) for part in parts), sort, ref, owner))
    if exact:
        exact.sort()
        return DirectoryMatches([e[2] for e in exact[offset:offset + limit]], len(exact), True)
    hits.sort()
    return counted([h[3] for h in hits[offset:offset + limit]], len(hits), offset, limit)


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

    def _find(self, pattern: str, limit: int, offset: int, fields: Mapping[int, str],
              within: Collection[UUID] | None) -> DirectoryMatches:
        rows = self.conn.execute(f"SELECT customer_id, customer_ref, search_text, sort_name FROM {DIRECTORY_TABLE} "
                                 "WHERE search_text LIKE ? ESCAPE '\\'", (f"%{_like(pattern)}%",))
        return ranked(((UUID(r[0]), r[1], r[2], r[3]) for r in rows), pattern, limit, offset, fields, within)

    def close(self) -> None:
        self.conn.close()


class _sqlite_transaction:  # noqa: N801
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.conn.execute("ROLLBACK" if kind else "COMMIT")


_KEY = {1: "split_part(search_text, E'\\x1f', 1)", 2: "sort_name", 3: "split_part(search_text, E'\\x1f', 3)",
        4: "split_part(search_text, E'\\x1f', 4)"}
"""Each searched field of a PostgreSQL directory row (btree-indexed: text_pattern_ops, for = and LIKE 'text%')."""
_ORDER = 'sort_name COLLATE "C", customer_ref COLLATE "C"'
"""Search order (code point order on every backend, as Python and SQLite compare); its index also serves name
prefixes, and it covers the columns a search reads (an index-only walk of the directory in name order)."""
DENSE = 0.5
"""A search the directory's statistics expect to match at least this share of it counts by a scan that stops at the
cap; any other by the trigram index."""
ANALYZE_AFTER = 1_000
"""The directory is vacuumed and its statistics refreshed after this many rows written (or 10% of its rows, when
more)."""
STATS_TTL_S = 300.0
"""The statistics the density estimate reads are re-read at most this old (another process may have refreshed them)."""


def gram_masks(sample: Iterable[str]) -> tuple[dict[tuple[int, str], int], int]:
    """The statistics' sample of search texts as, per (field, trigram), the bitmask of the sample rows holding it
    (field 0: any field); the texts themselves are not kept. With the number of rows."""
    masks: dict[tuple[int, str], int] = {}
    n = 0
    for n, text in enumerate(sample, 1):
        bit = 1 << (n - 1)
        for at, part in enumerate(text.split(SEP), 1):
            for i in range(len(part) - 2):
                for key in ((0, part[i:i + 3]), (at, part[i:i + 3])):
                    masks[key] = masks.get(key, 0) | bit
    return masks, n


def estimated_share(masks: Mapping[tuple[int, str], int], rows: int, pattern: str, fields: Mapping[int, str]) -> float:
    """The share of the sample holding every trigram of the text (anywhere) and of each field's text (in that field):
    at least the share that contains them, which the planner's own estimate (the same sample) is close to."""
    if not rows:
        return 0.0
    found = (1 << rows) - 1
    for at, text in [(0, pattern), *fields.items()]:
        for i in range(len(text) - 2):
            found &= masks.get((at, text[i:i + 3]), 0)
    return found.bit_count() / rows


class PostgresVault(PersonalDataVault):
    """Keys and directory in tables of the event store's PostgreSQL schema; the directory has a trigram index."""

    def __init__(self, master_key: bytes | None, url: str, schema: str | None) -> None:
        import psycopg
        from psycopg import sql

        super().__init__(master_key)
        self.conn = psycopg.connect(url, autocommit=True)
        if schema:
            self.conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
        self.conn.execute("SET max_parallel_workers_per_gather = 0")  # short searches: no worker start-up
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (customer_id uuid PRIMARY KEY, wrapped bytea NOT NULL)")
        self.conn.execute(f"CREATE TABLE IF NOT EXISTS {DIRECTORY_TABLE} (customer_id uuid PRIMARY KEY, "
                          "customer_ref text NOT NULL, search_text text NOT NULL, sort_name text NOT NULL)")
        for name, on in (("ref", f"({_KEY[1]}) text_pattern_ops"), ("email", f"({_KEY[3]}) text_pattern_ops"),
                         ("phone", f"({_KEY[4]}) text_pattern_ops"),
                         ("sorted", f"({_ORDER}) INCLUDE (customer_id, search_text)")):
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {DIRECTORY_TABLE}_{name} ON {DIRECTORY_TABLE} {on}"
                              if name == "sorted" else
                              f"CREATE INDEX IF NOT EXISTS {DIRECTORY_TABLE}_{name} ON {DIRECTORY_TABLE} ({on})")
        # the order index before it covered the search text (the walk in name order read every row it passed)
        self.conn.execute(f"DROP INDEX IF EXISTS {DIRECTORY_TABLE}_order")
        # a scan is never the planner's choice: a search the statistics expect to match most rows asks for one itself
        # (a LIKE no index serves); a scan stopping at the cap still reads most of the table when fewer match and
        # they are stored together at its end
        self.conn.execute("SET enable_seqscan = off")
        try:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            self.conn.execute(f"CREATE INDEX IF NOT EXISTS {DIRECTORY_TABLE}_trgm ON {DIRECTORY_TABLE} "
                              "USING gin (search_text public.gin_trgm_ops) WITH (fastupdate = off)")
            options = self.conn.execute("SELECT reloptions FROM pg_class WHERE oid = to_regclass(%s)",
                                        (f"{DIRECTORY_TABLE}_trgm",)).fetchone()
            if options is not None and "fastupdate=off" not in (options[0] or []):  # made before fastupdate was off
                self.conn.execute(f"ALTER INDEX {DIRECTORY_TABLE}_trgm SET (fastupdate = off)")
                self.conn.execute("SELECT public.gin_clean_pending_list(to_regclass(%s))", (f"{DIRECTORY_TABLE}_trgm",))
        except psycopg.Error:  # no pg_trgm on this server: search still works, by a sequential scan
            pass
        self._analyzed_at = self._rows()
        self._indexed = 0
        self._masks: dict[tuple[int, str], int] = {}
        self._sampled, self._stats_read = 0, float("-inf")

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
        self._indexed += 1
        if self._indexed > max(ANALYZE_AFTER, self._analyzed_at // 10):
            # the planner picks between the trigram index and the ordered walk by the directory's statistics, and the
            # walk reads only the index where the visibility map says its pages are all visible: keep both fresh after
            # bulk loads without waiting for autovacuum (as autovacuum would, at 10% new rows)
            self.conn.execute(f"VACUUM (ANALYZE, SKIP_LOCKED) {DIRECTORY_TABLE}")
            self._analyzed_at, self._indexed, self._stats_read = self._rows(), 0, float("-inf")

    def _dense(self, pattern: str, fields: Mapping[int, str]) -> bool:
        """Whether the statistics expect the text (and the fields' texts) in at least DENSE of the directory: from
        their sample of search texts (pg_stats), read again when older than STATS_TTL_S, so no estimate costs a
        round trip of its own."""
        if time.monotonic() - self._stats_read > STATS_TTL_S:
            # search texts are all distinct (each holds its customer id): the sample is the histogram's bounds
            row = self.conn.execute("SELECT histogram_bounds::text::text[] FROM pg_stats WHERE schemaname = "
                                    "current_schema() AND tablename = %s AND attname = 'search_text'",
                                    (DIRECTORY_TABLE,)).fetchone()
            self._masks, self._sampled = gram_masks(row[0] or [] if row else [])
            self._stats_read = time.monotonic()
        return estimated_share(self._masks, self._sampled, pattern, fields) >= DENSE

    def _ordered(self, branches: list[tuple[int, str, list[Any]]], narrow: str, narrow_args: list[Any],
                 upto: int) -> list[Any]:
        """The first `upto` ids of the union of the branches (group, condition, arguments), by group then name."""
        query = " UNION ALL ".join(f"(SELECT customer_id, {group} AS g, sort_name, customer_ref FROM {DIRECTORY_TABLE} "
                                   f"WHERE {where}{narrow} ORDER BY {_ORDER} LIMIT {upto})" for group, where, _ in branches)
        return self.conn.execute(f"SELECT customer_id FROM ({query}) AS found ORDER BY g, {_ORDER} LIMIT {upto}",
                                 [a for _, _, args in branches for a in args + narrow_args], prepare=False).fetchall()

    def _rows(self) -> int:
        """The directory's row count as the statistics have it (0 before the first ANALYZE)."""
        row = self.conn.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (DIRECTORY_TABLE,)).fetchone()
        return max(0, int(row[0])) if row and row[0] is not None else 0

    def _find(self, pattern: str, limit: int, offset: int, fields: Mapping[int, str],
              within: Collection[UUID] | None) -> DirectoryMatches:
        narrow, narrow_args = "", list[Any]()
        for at, value in fields.items():
            narrow += f" AND {_KEY[at]} LIKE %s"
            narrow_args.append(f"%{_like(value)}%")
        if within is not None:
            narrow += " AND customer_id = ANY(%s)"
            narrow_args.append(list(within))

        def run(query: str, args: list[Any]) -> list[Any]:  # never a prepared statement: its generic plan cannot
            return self.conn.execute(query, args, prepare=False).fetchall()  # use a LIKE pattern's prefix or trigrams

        starts = {at: f"{_KEY[at]} LIKE %s" for at in _KEY}
        # the trigram index, unless the statistics expect the text in most rows (or it is under 3 characters, with no
        # trigram to look up: the trigram index would be read whole): then a LIKE no index serves, a scan that stops
        # at the cap (such texts match many)
        dense = len(pattern) < 3 or (within is None and self._dense(pattern, fields))
        contains = "(search_text || '') LIKE %s" if dense else "search_text LIKE %s"
        prefix = "(" + " OR ".join(starts.values()) + ")"
        contains_args, prefix_args = [f"%{_like(pattern)}%"], [f"{_like(pattern)}%"] * len(_KEY)
        upto = offset + limit
        # one statement: a whole id, email or phone (an equality lookup on their btree indexes: marked in the last
        # column); only when there is none, every match up to the cap (ranked here)
        hits = (f"SELECT customer_id, {prefix}, sort_name, customer_ref, FALSE FROM {DIRECTORY_TABLE} WHERE "
                f"{contains}{narrow} LIMIT {COUNT_CAP + 1}")
        args = prefix_args + contains_args + narrow_args
        if pattern:
            equal = " OR ".join(f"{_KEY[at]} = %s" for at in EXACT)
            hits = (f"WITH exact AS MATERIALIZED (SELECT customer_id, sort_name, customer_ref FROM {DIRECTORY_TABLE} "
                    f"WHERE ({equal}){narrow}) SELECT customer_id, TRUE, sort_name, customer_ref, TRUE FROM exact "
                    f"UNION ALL (SELECT * FROM ({hits}) AS hits WHERE NOT EXISTS (SELECT 1 FROM exact))")
            args = [pattern] * len(EXACT) + narrow_args + args
        rows = run(hits, args)
        if rows and rows[0][4]:
            exact = sorted(rows, key=lambda r: (r[2], r[3]))
            return DirectoryMatches([r[0] for r in exact[offset:upto]], len(exact), True)
        if len(rows) <= COUNT_CAP:
            rows.sort(key=lambda r: (not r[1], r[2], r[3]))
            return DirectoryMatches([r[0] for r in rows[offset:upto]], len(rows), True)
        # more than the cap: each group's first rows in name order, then the page of them; not counted further.
        # Names starting with the text are a range of the (sort_name, customer_ref) index, so already in order; the
        # other groups: their few matches sorted, or (when they are many) that index walked until the page is full
        # (it covers the columns searched: an index-only walk where the pages are all visible)
        like = f"{_like(pattern)}%"
        other = "(" + " OR ".join(starts[at] for at in EXACT) + f") AND NOT {starts[2]}"
        branches = [(0, starts[2], [like]), (0, other, [like] * (len(EXACT) + 1))] if pattern else [(0, "TRUE", [])]
        if pattern:  # the substring ones next, only when the prefix matches do not fill the page (a one-time filter):
            # how many start with the text, each field's own prefix range of its index up to the page's end (at least
            # `upto` distinct customers when, and only when, that many start with it; never one walk of an index
            # filtered by the OR, which reads most of it when the few that start with the text are together near its end)
            starting = " UNION ".join(f"(SELECT customer_id FROM {DIRECTORY_TABLE} WHERE {starts[at]}{narrow} "
                                      f"LIMIT {upto})" for at in _KEY)
            branches.append((1, f"{contains} AND NOT {prefix} AND (SELECT count(*) FROM ({starting}) AS p) < {upto}",
                             contains_args + prefix_args + [a for p in prefix_args for a in [p, *narrow_args]]))
        page = [r[0] for r in self._ordered(branches, narrow, narrow_args, upto)[offset:upto]]
        return counted(page, len(rows), offset, limit)

    def close(self) -> None:
        self.conn.close()
