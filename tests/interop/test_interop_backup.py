"""Key backup v1 across implementations: each side restores what the other backed up."""

from __future__ import annotations

from interop_homeserver import Homeserver
from interop_peers import KEYS_BACKUP, NodeDriver, PyDevice, RustDevice

from crypto.matrix.backup import BACKUP_ALGORITHM, BackupDecryptionKey, encode_recovery_key
from crypto.matrix.canonical import b64decode

ALICE = "@alice:kaari.test"
BOB = "@bob:kaari.test"
ROOM = "!thread:kaari.test"


def test_rust_backs_up_and_python_restores_with_the_recovery_key(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    rust = RustDevice(node_driver, hs, ALICE, "ALICEWEB")
    rust.flush()
    bob = PyDevice(hs, BOB, "BOBPY")
    hs.create_room(ROOM, {ALICE, BOB})

    key = rust.call("new_backup_key")
    version = hs.backup_create(
        ALICE, {"algorithm": BACKUP_ALGORITHM, "auth_data": {"public_key": key["public"]}}
    )["version"]
    rust.call("enable_backup", public_key=key["public"], version=version)
    rust.send_room(ROOM, "m.room.message", {"body": "kept in the backup"})
    event = hs.rooms[ROOM].timeline[-1]
    backup = rust.call("backup_room_keys")
    assert backup is not None
    assert backup["type"] == KEYS_BACKUP
    rust.relay(backup)
    stored = hs.backup_get(ALICE, version)
    entry = stored["rooms"][ROOM]["sessions"][event["content"]["session_id"]]
    assert set(entry["session_data"]) == {"ephemeral", "ciphertext", "mac"}

    # What the user wrote down is the recovery key of the same private key.
    recovery = encode_recovery_key(b64decode(key["private"]))
    restored_key = BackupDecryptionKey.from_recovery_key(recovery)
    assert restored_key.public_key == key["public"]

    new_device = PyDevice(hs, ALICE, "ALICEPY")  # Alice's new phone: no keys yet
    assert new_device.dev.restore_backup(restored_key, stored) == 1
    decrypted = new_device.decrypt(event, ROOM)
    assert decrypted.event.content == {"body": "kept in the backup"}
    assert not decrypted.authenticated  # restored, not received over Olm
    del bob


def test_python_backs_up_and_a_fresh_rust_machine_restores(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    py = PyDevice(hs, ALICE, "ALICEPY")
    bob = RustDevice(node_driver, hs, BOB, "BOBWEB")
    bob.flush()
    hs.create_room(ROOM, {ALICE, BOB})

    upload, signatures = py.dev.bootstrap_cross_signing()
    hs.device_signing_upload(ALICE, upload)
    assert hs.signatures_upload(ALICE, signatures) == {"failures": {}}
    key, version_body = py.dev.create_backup()  # auth_data signed by device and master key
    version = hs.backup_create(ALICE, version_body)["version"]
    py.dev.enable_backup(key.public_key, version)
    py.send_room(ROOM, "m.room.message", {"body": "history for the new laptop"})
    event = hs.rooms[ROOM].timeline[-1]
    pending = py.dev.backup_request()
    assert pending is not None
    backup_version, body, sessions = pending
    hs.backup_put(ALICE, backup_version, body)
    py.dev.on_backup_response(sessions)
    assert py.dev.backup_request() is None

    laptop = RustDevice(node_driver, hs, ALICE, "ALICELAPTOP")
    laptop.flush()
    laptop.call("update_tracked", users=[ALICE])
    laptop.flush()
    # The auth_data's master-key signature is one the Rust machine checks: valid, and not
    # trusted yet (the laptop has not verified Alice's identity); not signed by the laptop.
    info = hs.backup_info(ALICE)
    verification = laptop.call(
        "verify_backup", info={"algorithm": info["algorithm"], "auth_data": info["auth_data"]}
    )
    assert verification == {"trusted": False, "deviceState": 0, "userState": 2}

    result = laptop.call(
        "import_backup",
        private_key=key.to_base64(),
        version=version,
        rooms=hs.backup_get(ALICE, version)["rooms"],
    )
    assert result == {"imported": 1, "total": 1, "decryptFailures": 0}
    out = laptop.decrypt(event, ROOM)
    assert "error" not in out, out
    assert out["event"]["content"] == {"body": "history for the new laptop"}
    assert out["sender"] == ALICE


def test_rust_decrypts_a_python_backup_entry_only_with_the_right_key(
    node_driver: NodeDriver, hs: Homeserver
) -> None:
    py = PyDevice(hs, ALICE, "ALICEPY")
    hs.create_room(ROOM, {ALICE})
    key, version_body = py.dev.create_backup()
    version = hs.backup_create(ALICE, version_body)["version"]
    py.dev.enable_backup(key.public_key, version)
    py.share_room_key(ROOM)
    pending = py.dev.backup_request()
    assert pending is not None
    hs.backup_put(ALICE, version, pending[1])

    laptop = RustDevice(node_driver, hs, ALICE, "ALICELAPTOP")
    wrong = BackupDecryptionKey.generate()
    result = laptop.call(
        "import_backup",
        private_key=wrong.to_base64(),
        version=version,
        rooms=hs.backup_get(ALICE, version)["rooms"],
    )
    assert result["imported"] == 0
    assert result["decryptFailures"] == 1
