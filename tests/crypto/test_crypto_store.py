"""At-rest sealing of device secrets."""

from __future__ import annotations

import pytest

from crypto.errors import CorruptStoreError, StoreError, WrongStoreKeyError
from crypto.store import StoreKeys

SECRET = bytes(range(32))


def test_seal_open_round_trip_and_name_binding() -> None:
    keys = StoreKeys(SECRET, StoreKeys.new_salt())
    blob = keys.seal("account", b"pickle")
    assert b"pickle" not in blob
    assert keys.open("account", blob) == b"pickle"
    with pytest.raises(CorruptStoreError):
        keys.open("state", blob)


def test_wrong_secret_detected_by_key_check() -> None:
    salt = StoreKeys.new_salt()
    keys = StoreKeys(SECRET, salt)
    other = StoreKeys(bytes(32), salt)
    with pytest.raises(WrongStoreKeyError):
        other.check(keys.key_check)
    keys.check(keys.key_check)
    with pytest.raises(CorruptStoreError):
        other.open("account", keys.seal("account", b"x"))


def test_corruption_detected() -> None:
    keys = StoreKeys(SECRET, StoreKeys.new_salt())
    blob = bytearray(keys.seal("x", b"data" * 10))
    blob[-1] ^= 1
    with pytest.raises(CorruptStoreError):
        keys.open("x", bytes(blob))
    with pytest.raises(CorruptStoreError):
        keys.open("x", b"KS1")


def test_weak_secret_refused() -> None:
    with pytest.raises(StoreError):
        StoreKeys(b"short", StoreKeys.new_salt())


def test_tags_are_keyed_per_store_and_kind() -> None:
    salt = StoreKeys.new_salt()
    keys = StoreKeys(SECRET, salt)
    tag = keys.tag("id", "@a:k|A|m1")
    assert len(tag) == 16
    assert tag == StoreKeys(SECRET, salt).tag("id", "@a:k|A|m1")
    assert tag != keys.tag("ct", "@a:k|A|m1")
    assert tag != StoreKeys(bytes(32), salt).tag("id", "@a:k|A|m1")
    assert tag != StoreKeys(SECRET, StoreKeys.new_salt()).tag("id", "@a:k|A|m1")
