"""The SQLite key store: sealed records, keyed duplicate tags, compaction, atomicity."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from client import keystore
from client.keystore import DB_NAME, KeyStore
from crypto.errors import CorruptStoreError, StoreError, WrongStoreKeyError

SECRET = bytes(range(32))


def test_records_round_trip_and_are_sealed(tmp_path: Path) -> None:
    store = KeyStore.create(tmp_path / "s", SECRET)
    store.put("account", b"pickle-bytes")
    store.put("olm.aa.bb", b"one")
    store.put("olm.aa.cc", b"two")
    store.put("olm.ab.dd", b"three")
    assert store.get("account") == b"pickle-bytes"
    assert store.get("missing") is None
    assert store.names("olm.aa.") == ["olm.aa.bb", "olm.aa.cc"]
    assert store.names("olm.a_") == []  # a plain prefix, not a LIKE pattern
    store.delete("olm.aa.bb")
    assert store.names("olm.aa.") == ["olm.aa.cc"]
    with pytest.raises(ValueError, match="bad record name"):
        store.put("../escape", b"x")
    store.close()
    assert b"pickle-bytes" not in (tmp_path / "s" / DB_NAME).read_bytes()
    with pytest.raises(StoreError, match="already exists"):
        KeyStore.create(tmp_path / "s", SECRET)
    with pytest.raises(WrongStoreKeyError):
        KeyStore.open(tmp_path / "s", bytes(32))
    reopened = KeyStore.open(tmp_path / "s", SECRET)
    assert reopened.get("olm.ab.dd") == b"three"


def test_seen_tags_are_keyed_and_persist(tmp_path: Path) -> None:
    store = KeyStore.create(tmp_path / "s", SECRET)
    assert store.add_seen("id", "@a:k|A|msg-1")
    assert not store.add_seen("id", "@a:k|A|msg-1")
    assert store.seen("id", "@a:k|A|msg-1")
    assert not store.seen("ct", "@a:k|A|msg-1")  # kinds are separate
    store.close()
    with sqlite3.connect(tmp_path / "s" / DB_NAME) as db:
        tags = [row[0] for row in db.execute("SELECT tag FROM seen")]
    db.close()
    assert len(tags) == 1
    assert len(tags[0]) == 16
    assert b"msg-1" not in tags[0]
    other = KeyStore.create(tmp_path / "t", SECRET)  # other salt: other tags
    assert other.keys.tag("id", "@a:k|A|msg-1") != tags[0]
    reopened = KeyStore.open(tmp_path / "s", SECRET)
    assert reopened.seen("id", "@a:k|A|msg-1")
    assert not reopened.add_seen("id", "@a:k|A|msg-1")


def test_seen_compaction_keeps_the_newest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keystore, "COMPACT_EVERY", 10)
    store = KeyStore.create(tmp_path / "s", SECRET, seen_limit=25)
    for i in range(100):
        assert store.add_seen("id", f"m{i}")
    assert store.seen_count() <= 25 + 10
    assert all(store.seen("id", f"m{i}") for i in range(75, 100))
    assert not store.seen("id", "m0")
    store.close()
    reopened = KeyStore.open(tmp_path / "s", SECRET, seen_limit=25)
    for i in range(100, 110):
        reopened.add_seen("id", f"m{i}")
    assert all(reopened.seen("id", f"m{i}") for i in range(85, 110))


def test_transaction_is_atomic(tmp_path: Path) -> None:
    store = KeyStore.create(tmp_path / "s", SECRET)
    store.put("state", b"v1")

    def crash_mid_transaction() -> None:
        with store.transaction():
            store.put("state", b"v2")
            store.add_seen("id", "x")
            with store.transaction():  # nested: joins the outer transaction
                store.put("other", b"y")
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError, match="crash"):
        crash_mid_transaction()
    assert store.get("state") == b"v1"
    assert store.get("other") is None
    assert not store.seen("id", "x")
    assert store.add_seen("id", "x")


def test_corrupt_metadata_and_files(tmp_path: Path) -> None:
    store = KeyStore.create(tmp_path / "s", SECRET)
    store.close()
    with sqlite3.connect(tmp_path / "s" / DB_NAME) as db:
        db.execute("UPDATE meta SET v = x'00' WHERE k = 'salt'")
    db.close()
    with pytest.raises(CorruptStoreError, match="metadata"):
        KeyStore.open(tmp_path / "s", SECRET)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / DB_NAME).write_bytes(b"\x00" * 4096)
    with pytest.raises(StoreError):
        KeyStore.open(tmp_path / "junk", SECRET)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / DB_NAME).write_bytes(b"not a database, just some text" * 200)
    with pytest.raises(CorruptStoreError):
        KeyStore.open(tmp_path / "text", SECRET)
