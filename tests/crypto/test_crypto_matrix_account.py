"""One-time key top-up, fallback rotation and pickling of the account."""

from __future__ import annotations

import pytest

from crypto.matrix.account import FALLBACK_MAX_AGE_MS, DeviceAccount
from crypto.matrix.errors import EncodingError

USER = "@alice:kaari.test"
KEY = b"k" * 32


def _uploaded(account: DeviceAccount, server_count: int = 50) -> dict:
    body = account.keys_upload_body()
    assert body is not None
    account.on_keys_upload_response({"one_time_key_counts": {"signed_curve25519": server_count}})
    return body


def test_first_upload_has_device_keys_otks_and_a_fallback_key_then_nothing() -> None:
    account = DeviceAccount(USER, "PHONE")
    body = _uploaded(account)
    assert set(body) == {"device_keys", "one_time_keys", "fallback_keys"}
    assert account.keys_upload_body() is None


def test_counts_drive_the_top_up() -> None:
    account = DeviceAccount(USER, "PHONE")
    _uploaded(account)
    account.update_key_counts({"signed_curve25519": 50}, ["signed_curve25519"])
    assert account.keys_upload_body() is None
    account.update_key_counts({"signed_curve25519": 47}, ["signed_curve25519"])
    body = account.keys_upload_body()
    assert body is not None
    assert set(body) == {"one_time_keys"}
    assert len(body["one_time_keys"]) == 3
    # Not uploaded yet: the next count does not generate a second batch.
    account.update_key_counts({"signed_curve25519": 40}, ["signed_curve25519"])
    assert len(account.signed_one_time_keys()) == 3
    account.on_keys_upload_response({"one_time_key_counts": {"signed_curve25519": 43}})
    # A missing count means zero (sync v2).
    account.update_key_counts({}, ["signed_curve25519"])
    assert len(account.signed_one_time_keys()) == 50


def test_fallback_key_rotates_when_used_or_a_week_old() -> None:
    account = DeviceAccount(USER, "PHONE")
    first = _uploaded(account)["fallback_keys"]
    account.update_key_counts({"signed_curve25519": 50}, ["signed_curve25519"])
    assert account.signed_fallback_keys() == {}
    account.update_key_counts({"signed_curve25519": 50}, [])  # the server handed it out
    second = account.keys_upload_body()
    assert second is not None
    assert set(second) == {"fallback_keys"}
    assert second["fallback_keys"] != first
    account.on_keys_upload_response({"one_time_key_counts": {"signed_curve25519": 50}})
    assert account.fallback_created_ms is not None
    later = account.fallback_created_ms + FALLBACK_MAX_AGE_MS + 1
    account.update_key_counts({"signed_curve25519": 50}, ["signed_curve25519"], at_ms=later)
    assert account.signed_fallback_keys()


def test_pickle_round_trip_and_wrong_key() -> None:
    account = DeviceAccount(USER, "PHONE")
    _uploaded(account, 42)
    data = account.pickle(KEY)
    restored = DeviceAccount.from_pickle(data, KEY)
    assert (restored.curve25519, restored.ed25519) == (account.curve25519, account.ed25519)
    assert restored.uploaded_key_count == 42
    assert restored.shared
    with pytest.raises(EncodingError):
        DeviceAccount.from_pickle(data, b"x" * 32)
