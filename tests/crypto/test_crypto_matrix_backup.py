"""Key backup v1: the recovery key encoding, session data and auth_data signatures."""

from __future__ import annotations

import copy

import pytest
from matrix_support import device, meet, room_event

from crypto.matrix.backup import (
    BACKUP_ALGORITHM,
    BackupDecryptionKey,
    auth_data_signed_by,
    base58_decode,
    base58_encode,
    decode_recovery_key,
    encode_recovery_key,
)
from crypto.matrix.canonical import b64decode, b64encode
from crypto.matrix.errors import BackupError, RecoveryKeyError

ROOM = "!r:kaari.test"


def test_recovery_key_round_trip_and_format() -> None:
    raw = bytes(range(32))
    text = encode_recovery_key(raw)
    groups = text.split(" ")
    assert all(len(g) == 4 for g in groups[:-1])
    assert not set(text) & set("0OIl")
    assert decode_recovery_key(text) == raw
    assert decode_recovery_key(text.replace(" ", "")) == raw
    assert decode_recovery_key("\n".join(groups)) == raw
    assert base58_decode(base58_encode(b"\0\0abc")) == b"\0\0abc"


def test_recovery_key_refuses_typos_wrong_prefix_and_length() -> None:
    raw = bytes(range(32))
    text = encode_recovery_key(raw).replace(" ", "")
    typo = text[:10] + ("2" if text[10] != "2" else "3") + text[11:]
    with pytest.raises(RecoveryKeyError):
        decode_recovery_key(typo)
    wrong_parity = base58_encode(b"\x8b\x01" + raw + b"\x00")
    with pytest.raises(RecoveryKeyError, match="parity"):
        decode_recovery_key(wrong_parity)
    body = b"\x8b\x02" + raw
    parity = 0
    for byte in body:
        parity ^= byte
    with pytest.raises(RecoveryKeyError, match="prefix"):
        decode_recovery_key(base58_encode(body + bytes([parity])))
    with pytest.raises(RecoveryKeyError):
        decode_recovery_key(encode_recovery_key(raw)[:-4])
    with pytest.raises(RecoveryKeyError):
        decode_recovery_key("0OIl")
    with pytest.raises(RecoveryKeyError):
        encode_recovery_key(b"short")


def test_session_data_shape_and_legacy_mac() -> None:
    key = BackupDecryptionKey.generate()
    data = key.encryptor().encrypt_session_data({"hello": "backup"})
    assert set(data) == {"ephemeral", "ciphertext", "mac"}
    assert len(b64decode(data["mac"])) == 8
    assert len(b64decode(data["ephemeral"])) == 32
    assert key.decrypt_session_data(data) == {"hello": "backup"}
    tampered = {**data, "mac": b64encode(b"\0" * 8)}
    with pytest.raises(BackupError):
        key.decrypt_session_data(tampered)
    with pytest.raises(BackupError):
        BackupDecryptionKey.generate().decrypt_session_data(data)
    assert BackupDecryptionKey.from_recovery_key(key.recovery_key).public_key == key.public_key
    assert BackupDecryptionKey.from_base64(key.to_base64()).public_key == key.public_key


def test_backup_restores_history_on_a_new_device() -> None:
    alice, bob = device("alice", "A1"), device("bob", "B1")
    meet(alice, bob)
    alice.share_room_key(ROOM, {alice.user_id, bob.user_id})
    content = alice.encrypt_room_event(ROOM, "m.room.message", {"body": "history"})
    key, version_body = alice.create_backup()
    assert version_body["algorithm"] == BACKUP_ALGORITHM
    auth = version_body["auth_data"]
    assert auth["public_key"] == key.public_key
    assert auth_data_signed_by(auth, alice.user_id, "ed25519:A1", alice.account.ed25519)
    forged = copy.deepcopy(auth)
    forged["public_key"] = BackupDecryptionKey.generate().public_key
    assert not auth_data_signed_by(forged, alice.user_id, "ed25519:A1", alice.account.ed25519)

    alice.enable_backup(key.public_key, "1")
    pending = alice.backup_request()
    assert pending is not None
    _version, body, sessions = pending
    entry = body["rooms"][ROOM]["sessions"][content["session_id"]]
    assert set(entry) == {"first_message_index", "forwarded_count", "is_verified", "session_data"}
    alice.on_backup_response(sessions)
    assert alice.backup_request() is None

    new_phone = device("alice", "A2")
    recovered = BackupDecryptionKey.from_recovery_key(key.recovery_key)
    assert new_phone.restore_backup(recovered, body) == 1
    assert new_phone.restore_backup(recovered, body) == 0  # nothing better the second time
    out = new_phone.decrypt_room_event(room_event(content, alice), ROOM)
    assert out.event.content == {"body": "history"}
    with pytest.raises(BackupError):
        device("alice", "A3").restore_backup(BackupDecryptionKey.generate(), body)
