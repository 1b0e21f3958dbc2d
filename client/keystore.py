"""The device's encrypted key store: one SQLite database (stdlib ``sqlite3``).

Layout of ``<dir>/store.sqlite3`` (WAL journal, ``synchronous=FULL``,
``secure_delete=ON``; the directory is 0700, the files 0600)::

    meta(k TEXT PRIMARY KEY, v BLOB)         -- "version", "salt", "keyCheck" (not secret)
    records(name TEXT PRIMARY KEY, blob BLOB) -- each blob sealed by StoreKeys.seal(name, …)
    seen(tag BLOB PRIMARY KEY, seq INTEGER) WITHOUT ROWID
                                              -- keyed BLAKE2b tags of processed ciphertexts
                                              -- and message ids (duplicate detection)

Record names carry no plaintext identifiers: whatever is derived from a peer
key, case or session id is a keyed tag (:meth:`crypto.store.StoreKeys.tag`, named by
:meth:`KeyStore.tagged_name`).
A :meth:`KeyStore.transaction` is one SQLite transaction, made durable by one
fsync of the WAL at commit: a decrypt writes the one changed Olm session
record plus two small ``seen`` rows, atomically. The ``seen`` table keeps the
newest :attr:`KeyStore.seen_limit` tags; older ones are dropped every
:data:`COMPACT_EVERY` insertions.

Every SQLite failure (not a database, malformed pages, I/O) is raised as
:class:`crypto.errors.StoreError` (corruption as :class:`CorruptStoreError`).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import msgspec

from crypto.errors import CorruptStoreError, StoreError
from crypto.store import SALT_BYTES, StoreKeys

VERSION = 2
DB_NAME = "store.sqlite3"
#: How many seen tags are kept by default (ciphertexts and message ids together).
SEEN_LIMIT = 40_000
#: Drop tags beyond the limit once per this many insertions.
COMPACT_EVERY = 1_000

T = TypeVar("T")

_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,120}$")
_SCHEMA = """
CREATE TABLE meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE records(name TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE seen(tag BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
"""


def _connect(db: Path) -> sqlite3.Connection:
    # One thread at a time, not necessarily the one that opened it: an asyncio client
    # (client/call.py) reaches its store from worker threads, one call after another.
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA trusted_schema=OFF")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _corrupt(exc: sqlite3.Error) -> StoreError:
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return CorruptStoreError(f"key store database is corrupted: {exc}")
    return StoreError(f"key store database error: {exc}")


class KeyStore:
    """Encrypted records and duplicate-detection tags in one SQLite file."""

    def __init__(
        self, path: Path, conn: sqlite3.Connection, keys: StoreKeys, seen_limit: int
    ) -> None:
        self.path = path
        self.keys = keys
        self.seen_limit = seen_limit
        self._conn = conn
        self._depth = 0
        try:
            row = conn.execute("SELECT coalesce(max(seq), 0) FROM seen").fetchone()
        except sqlite3.Error as exc:
            raise _corrupt(exc) from exc
        self._seq: int = row[0]

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], secret: bytes, *, seen_limit: int = SEEN_LIMIT
    ) -> KeyStore:
        root = Path(path)
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = root / DB_NAME
        keys = StoreKeys(secret, StoreKeys.new_salt())
        try:
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError as exc:
            raise StoreError(f"a key store already exists at {root}") from exc
        try:
            conn = _connect(db)
            conn.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
            conn.executemany(
                "INSERT INTO meta(k, v) VALUES (?, ?)",
                [
                    ("version", VERSION),
                    ("salt", keys.salt),
                    ("keyCheck", keys.key_check),
                ],
            )
        except sqlite3.Error as exc:
            raise _corrupt(exc) from exc
        return cls(root, conn, keys, seen_limit)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], secret: bytes, *, seen_limit: int = SEEN_LIMIT
    ) -> KeyStore:
        root = Path(path)
        db = root / DB_NAME
        if not db.is_file():
            raise StoreError(f"no key store at {root}")
        try:
            conn = _connect(db)
            meta = dict(conn.execute("SELECT k, v FROM meta").fetchall())
        except sqlite3.Error as exc:
            raise _corrupt(exc) from exc
        version, salt, check = meta.get("version"), meta.get("salt"), meta.get("keyCheck")
        if not isinstance(salt, bytes) or len(salt) != SALT_BYTES or not isinstance(check, bytes):
            conn.close()
            raise CorruptStoreError("key store metadata is corrupted")
        if version != VERSION:
            conn.close()
            raise StoreError(f"unsupported key store version {version!r}")
        keys = StoreKeys(secret, salt)
        try:
            keys.check(check)
        except StoreError:
            conn.close()
            raise
        return cls(root, conn, keys, seen_limit)

    def close(self) -> None:
        self._conn.close()

    # -- transactions ----------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one atomic, durable commit (nested calls join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _corrupt(exc) from exc
        self._depth = 1
        seq = self._seq
        try:
            yield
        except BaseException:
            self._depth = 0
            self._seq = seq
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._seq = seq
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise _corrupt(exc) from exc

    def _exec(self, sql: str, args: tuple[object, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, args)
        except sqlite3.Error as exc:
            raise _corrupt(exc) from exc

    # -- records ---------------------------------------------------------------
    @staticmethod
    def _check_name(name: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"bad record name {name!r}")

    def put(self, name: str, data: bytes) -> None:
        self._check_name(name)
        with self.transaction():
            self._exec(
                "INSERT INTO records(name, blob) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET blob = excluded.blob",
                (name, self.keys.seal(name, data)),
            )

    def get(self, name: str) -> bytes | None:
        self._check_name(name)
        row = self._exec("SELECT blob FROM records WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        if not isinstance(row[0], bytes):
            raise CorruptStoreError(f"store record {name!r} is not a blob")
        return self.keys.open(name, row[0])

    def tagged_name(self, prefix: str, kind: str, value: str) -> str:
        """The record name ``<prefix>.<keyed tag of value>``: it does not reveal ``value``."""
        return f"{prefix}.{self.keys.tag(kind, value).hex()}"

    def get_json(self, name: str, type_: type[T]) -> T | None:
        """A record holding JSON of ``type_`` (:class:`CorruptStoreError` if it does not)."""
        raw = self.get(name)
        if raw is None:
            return None
        try:
            return msgspec.json.decode(raw, type=type_)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise CorruptStoreError(f"record {name!r} is unreadable") from exc

    def delete(self, name: str) -> None:
        self._check_name(name)
        with self.transaction():
            self._exec("DELETE FROM records WHERE name = ?", (name,))

    def names(self, prefix: str) -> list[str]:
        """Record names starting with ``prefix`` (a plain prefix, no wildcards), sorted."""
        rows = self._exec(
            "SELECT name FROM records WHERE substr(name, 1, ?) = ? ORDER BY name",
            (len(prefix), prefix),
        ).fetchall()
        return [r[0] for r in rows]

    # -- duplicate detection ---------------------------------------------------
    def seen(self, kind: str, value: str) -> bool:
        """Whether ``(kind, value)`` was recorded with :meth:`add_seen` (and not compacted away)."""
        tag = self.keys.tag(kind, value)
        return self._exec("SELECT 1 FROM seen WHERE tag = ?", (tag,)).fetchone() is not None

    def add_seen(self, kind: str, value: str) -> bool:
        """Record ``(kind, value)``; return False if it was already recorded."""
        tag = self.keys.tag(kind, value)
        with self.transaction():
            cur = self._exec(
                "INSERT INTO seen(tag, seq) VALUES (?, ?) ON CONFLICT(tag) DO NOTHING",
                (tag, self._seq + 1),
            )
            if cur.rowcount != 1:
                return False
            self._seq += 1
            if self._seq % COMPACT_EVERY == 0:
                self._exec("DELETE FROM seen WHERE seq <= ?", (self._seq - self.seen_limit,))
        return True

    def seen_count(self) -> int:
        row = self._exec("SELECT count(*) FROM seen").fetchone()
        return int(row[0])
