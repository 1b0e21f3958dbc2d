"""Helpers for the crypto.matrix unit tests: devices that meet without a server."""

from __future__ import annotations

from typing import Any

from crypto.matrix import MatrixDevice, ToDeviceRequest

SERVER = "kaari.test"


def device(user: str, device_id: str) -> MatrixDevice:
    dev = MatrixDevice.create(f"@{user}:{SERVER}", device_id)
    body = dev.keys_upload_body()
    assert body is not None
    dev.on_keys_upload_response({"one_time_key_counts": {"signed_curve25519": 50}})
    dev._published = body  # type: ignore[attr-defined]  # what the server would hold
    return dev


def query_answer(*devices: MatrixDevice, cross_signing: bool = True) -> dict[str, Any]:
    """A keys/query answer listing the given devices (and their users' cross-signing keys)."""
    out: dict[str, Any] = {
        "device_keys": {},
        "master_keys": {},
        "self_signing_keys": {},
        "user_signing_keys": {},
    }
    for dev in devices:
        keys = dev.account.device_keys_json()
        if cross_signing and dev.cross_signing is not None:
            keys = dev.cross_signing.sign_own_device(dev.account.device_keys())
            out["master_keys"][dev.user_id] = dev.cross_signing.master_key_json()
            out["self_signing_keys"][dev.user_id] = dev.cross_signing.self_signing_key_json()
        out["device_keys"].setdefault(dev.user_id, {})[dev.device_id] = keys
    return out


def meet(a: MatrixDevice, *others: MatrixDevice) -> None:
    """``a`` learns the others' device keys (a keys/query) and claims a one-time key of each."""
    users = {o.user_id for o in others}
    a.track_users(users)
    a.directory.mark_changed(users)  # a device-list change: query again
    a.keys_query_body()
    a.on_keys_query_response(query_answer(*others))
    body = a.keys_claim_body({o.user_id for o in others})
    if body is None:
        return
    answer: dict[str, Any] = {}
    for o in others:
        if o.device_id not in body["one_time_keys"].get(o.user_id, {}):
            continue
        otks = o._published["one_time_keys"]  # type: ignore[attr-defined]
        key_id = next(iter(otks))
        answer.setdefault(o.user_id, {})[o.device_id] = {key_id: otks.pop(key_id)}
    a.on_keys_claim_response({"one_time_keys": answer})


def deliver(req: ToDeviceRequest, sender: MatrixDevice, to: MatrixDevice) -> list[Any]:
    """Hand one device its part of a to-device request, as sync would."""
    content = req.messages.get(to.user_id, {}).get(to.device_id)
    if content is None:
        return []
    event = {"type": req.event_type, "sender": sender.user_id, "content": content}
    return to.receive_sync([event])


def room_event(
    content: dict[str, Any], sender: MatrixDevice, n: int = 1, room_id: str = "!r:kaari.test"
) -> dict[str, Any]:
    return {
        "type": "m.room.encrypted",
        "sender": sender.user_id,
        "content": content,
        "event_id": f"$e{n}",
        "origin_server_ts": 1_700_000_000_000 + n,
        "room_id": room_id,
    }
