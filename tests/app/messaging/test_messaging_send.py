"""Sending and receiving through the HTTP API with real Olm devices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import World
from messaging_support import counts, family
from support import assert_problem

from app.config import Settings
from crypto.payloads import TextMessage


def texts(messages: list[Any]) -> list[str]:
    return [m.payload.body for m in messages if isinstance(m.payload, TextMessage)]


def test_every_device_of_the_thread_receives_each_message_once(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    result = f.therapist.send_text(f.family_thread, "Hei! Muistakaa kumipallo.")
    assert result["recipients"] == 3  # guardian's two devices and guardian2
    f.guardian.send_text(f.child_thread, "Eino, hyvin tehty!")

    for m in (f.guardian, f.guardian_phone2, f.guardian2):
        got = m.sync()
        assert "Hei! Muistakaa kumipallo." in texts(got)
    assert texts(f.child.sync()) == ["Eino, hyvin tehty!"]  # never the family thread
    assert texts(f.therapist.sync()) == ["Eino, hyvin tehty!"]
    # the sender's other device gets its own copy; nobody gets anything twice
    assert texts(f.guardian_phone2.sync()) == []
    assert texts(f.guardian.sync()) == []
    # acknowledged rows are gone; the sender sees "delivered" per device
    assert counts(settings)["mailbox"] == 0
    delivered = f.therapist.api.deliveries(result["id"])
    assert delivered["recipients"] == 3
    assert {d["deviceId"] for d in delivered["delivered"]} == {
        f.guardian.device.device_id,
        f.guardian_phone2.device.device_id,
        f.guardian2.device.device_id,
    }


def test_a_retried_send_returns_the_first_result(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    first = f.therapist.send(f.family_thread, TextMessage(body="once"), client_message_id="c-1")
    before = counts(settings)
    again = f.therapist.send(f.family_thread, TextMessage(body="once"), client_message_id="c-1")
    assert again == first
    assert counts(settings) == before
    assert texts(f.guardian2.sync()) == ["once"]
    # the same id for another thread is a conflict, not a silent success
    body = {"clientMessageId": "c-1", "ciphertexts": {str(world.therapist.device_id): {}}}
    r = client.post(
        f"/threads/{f.child_thread}/messages", json=body, headers=world.therapist.headers
    )
    assert r.status_code == 422  # the shape is checked first
    cts = f.therapist._encrypt(
        {d["deviceId"]: d["userId"] for d in f.therapist.api.thread_devices(f.child_thread)},
        TextMessage(body="x"),
        "c-1",
    )
    r = client.post(
        f"/threads/{f.child_thread}/messages",
        json={"clientMessageId": "c-1", "ciphertexts": cts},
        headers=world.therapist.headers,
    )
    assert_problem(r, 409, "client_message_id_reused")


def test_a_stale_recipient_set_is_refused_and_repaired(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    devices = {d["deviceId"]: d["userId"] for d in f.therapist.api.thread_devices(f.family_thread)}
    missing_one = dict(list(devices.items())[1:])
    cts = f.therapist._encrypt(missing_one, TextMessage(body="x"), "m-1")
    before = counts(settings)
    r = client.post(
        f"/threads/{f.family_thread}/messages",
        json={"clientMessageId": "m-1", "ciphertexts": cts},
        headers=world.therapist.headers,
    )
    body = assert_problem(r, 409, "device_set_mismatch")
    gone = next(iter(devices))
    assert body["missing"] == [{"userId": devices[gone], "deviceId": gone}]
    assert body["stale"] == []
    assert counts(settings) == before
    # a device revoked after the client encrypted for it is stale
    cts = f.therapist._encrypt(devices, TextMessage(body="x"), "m-2")
    assert len(cts) == 3
    r = client.delete(
        f"/devices/{f.guardian_phone2.device.device_id}", headers=world.guardian.headers
    )
    assert r.status_code == 204
    r = client.post(
        f"/threads/{f.family_thread}/messages",
        json={"clientMessageId": "m-2", "ciphertexts": cts},
        headers=world.therapist.headers,
    )
    body = assert_problem(r, 409, "device_set_mismatch")
    assert body["stale"] == [f.guardian_phone2.device.device_id]
    assert counts(settings) == before
    # the reference client repairs from the answer by itself
    f.therapist.api.thread_devices = lambda _t: [  # type: ignore[method-assign]
        {"deviceId": d, "userId": u} for d, u in devices.items()
    ]
    result = f.therapist.send_text(f.family_thread, "repaired")
    assert result["recipients"] == 2
    assert texts(f.guardian.sync()) == ["repaired"]


def test_the_client_tops_up_one_time_keys_and_rotates_a_used_fallback_key(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    from client.device import ONE_TIME_KEY_TARGET

    f = family(client, tmp_path, world)
    target = f.guardian2.device.device_id
    assert f.guardian2.top_up() == 0  # full
    for _ in range(ONE_TIME_KEY_TARGET):
        claimed = f.therapist.api.claim_keys([target])[target]
        assert claimed["fallback"] is False
    assert f.therapist.api.claim_keys([target])[target]["fallback"] is True
    counts_before = f.guardian2.api.key_counts()
    assert counts_before["oneTimeKeyCount"] == 0
    assert counts_before["fallbackKeyUsed"] is True
    assert f.guardian2.top_up() == ONE_TIME_KEY_TARGET
    after = f.guardian2.api.key_counts()
    assert after["oneTimeKeyCount"] == ONE_TIME_KEY_TARGET
    assert after["fallbackKeyUsed"] is False
    # and messages still flow to the device
    f.therapist.send_text(f.family_thread, "still here")
    assert texts(f.guardian2.sync()) == ["still here"]


def test_a_message_from_a_device_missing_from_the_key_directory_is_not_shown(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    f = family(client, tmp_path, world)
    f.guardian_phone2.send_text(f.family_thread, "from the tablet")
    r = client.delete(
        f"/devices/{f.guardian_phone2.device.device_id}", headers=world.guardian.headers
    )
    assert r.status_code == 204
    # the reader has never seen the tablet's keys, and the directory no longer has them:
    # the message is not shown as the guardian's
    assert f.guardian2.sync() == []
    assert f.guardian2.failed == [(1, "unknown_sender")]
