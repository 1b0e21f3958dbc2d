"""History and recovery with the Matrix reference client: the user fault of issue 13 (a
sender signs out right after sending; every other device, and the therapist's new laptop
signed in afterwards, still read the message) through key backup and forwarded keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from mx_client_support import Devices, family_room

from client.matrix import BackupMismatch
from crypto.matrix.backup import BackupDecryptionKey


def test_a_sender_who_signs_out_right_after_sending_takes_nothing_with_it(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    room = family_room(world.case_id)
    terhi = devices.open(world.therapist, "terhi")
    recovery_key = terhi.create_backup()
    anna = devices.open(world.guardian, "anna")
    _, anna_tablet = devices.login("guardian1@example.fi", "anna-tablet")
    g2 = devices.open(world.guardian2, "g2")
    for c in (terhi, anna, anna_tablet, g2):
        c.sync()
    event_id = anna.send_text(room, "Eino nukkui huonosti")
    anna.http.logout()  # before anyone synced
    anna.close()
    # every other device reads it
    for c in (terhi, anna_tablet, g2):
        got = c.sync().messages
        assert [(m["event_id"], m["content"]["body"]) for m in got] == [
            (event_id, "Eino nukkui huonosti")
        ]
    # the therapist's new laptop, signed in afterwards, reads it from her key backup
    _, laptop = devices.login("therapist@example.fi", "laptop")
    assert laptop.sync().messages == []
    assert [p["reason"] for p in laptop.undecryptable()] == ["unknown_session"]
    with pytest.raises(BackupMismatch):
        laptop.restore_backup(BackupDecryptionKey.generate().recovery_key)
    restored = laptop.restore_backup(recovery_key)
    assert [(m["event_id"], m["content"]["body"]) for m in restored] == [
        (event_id, "Eino nukkui huonosti")
    ]
    assert restored[0]["authenticated"] is False  # restored, not from the sender over Olm
    assert laptop.undecryptable() == []
    # the laptop backs up too, and what it sends reaches everyone
    laptop.send_text(room, "Kiitos tiedosta")
    for c in (terhi, anna_tablet, g2):
        assert c.sync().messages[-1]["content"]["body"] == "Kiitos tiedosta"


def test_a_new_device_gets_history_forwarded_by_the_users_verified_device(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    room = family_room(world.case_id)
    terhi, anna = devices.open(world.therapist, "terhi"), devices.open(world.guardian, "anna")
    master = terhi.bootstrap_cross_signing()
    for c in (terhi, anna):
        c.sync()
    event_id = anna.send_text(room, "Huomenna sovitusti")
    anna.http.logout()
    terhi.sync()
    # a new laptop: the old device shows its master key (QR), the laptop trusts it and
    # the old device cross-signs the laptop; then the laptop asks for the missing keys
    _, laptop = devices.login("therapist@example.fi", "laptop")
    laptop.sync()
    laptop.trust_own_master_key(master)
    terhi.verify_own_device(laptop.device_id)
    assert laptop.request_missing_keys() == 1
    terhi.sync()  # answers with m.forwarded_room_key over Olm
    got = laptop.sync().messages
    assert [(m["event_id"], m["content"]["body"]) for m in got] == [
        (event_id, "Huomenna sovitusti")
    ]
    # an unverified device of the same user gets nothing forwarded
    _, phone = devices.login("therapist@example.fi", "phone")
    phone.sync()
    phone.request_missing_keys()
    terhi.sync()
    assert phone.sync().messages == []
    assert len(phone.undecryptable()) == 1
