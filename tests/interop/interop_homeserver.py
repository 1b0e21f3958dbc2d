"""A small in-test homeserver: the E2E endpoints' state and answers, in the spec's shapes.

It does what the notes say the real server must: set ``sender`` to the authenticated
user, merge uploaded signatures into the stored keys (a signature by X's user-signing key
on Y's master key is shown only to X), hand out each one-time key once (the fallback key
when none are left, not deleted), report one-time key counts and unused fallback key
types, and flag ``device_lists.changed`` for users sharing a room on every key change.
Signatures are checked on upload with :mod:`crypto.matrix.signing` as the server will.
"""

from __future__ import annotations

import copy
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from crypto.matrix.device_keys import parse_device_keys, parse_signed_key
from crypto.matrix.signing import has_valid_signature

SERVER = "kaari.test"


class ServerError(Exception):
    def __init__(self, status: int, errcode: str, error: str = "") -> None:
        super().__init__(f"{status} {errcode} {error}")
        self.status = status
        self.errcode = errcode


@dataclass
class _Device:
    keys: dict[str, Any] | None = None
    otks: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    fallback: tuple[str, dict[str, Any]] | None = None
    fallback_used: bool = False
    inbox: list[dict[str, Any]] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    left: set[str] = field(default_factory=set)


@dataclass
class _Room:
    members: set[str]
    timeline: list[dict[str, Any]] = field(default_factory=list)


class Homeserver:
    def __init__(self) -> None:
        self.devices: dict[str, dict[str, _Device]] = {}
        self.cross_signing: dict[str, dict[str, dict[str, Any]]] = {}
        self.rooms: dict[str, _Room] = {}
        self.backups: dict[str, list[dict[str, Any]]] = {}  # user -> versions
        self.backup_keys: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.claims: list[tuple[str, str, str]] = []  # (user, device, key id) handed out

    # -- helpers --------------------------------------------------------------------------

    def _device(self, user: str, device: str) -> _Device:
        return self.devices.setdefault(user, {}).setdefault(device, _Device())

    def _sharing(self, user: str) -> set[str]:
        users = {user}
        for room in self.rooms.values():
            if user in room.members:
                users |= room.members
        return users

    def notify_change(self, user: str) -> None:
        for other in self._sharing(user):
            for device in self.devices.get(other, {}).values():
                device.changed.add(user)

    def create_room(self, room_id: str, members: set[str]) -> None:
        self.rooms[room_id] = _Room(set(members))
        for user in members:
            for other in members:
                for device in self.devices.get(user, {}).values():
                    device.changed.add(other)

    def leave_room(self, room_id: str, user: str) -> None:
        self.rooms[room_id].members.discard(user)
        self.notify_change(user)

    def delete_device(self, user: str, device: str) -> None:
        del self.devices[user][device]
        self.notify_change(user)

    # -- keys -----------------------------------------------------------------------------

    def keys_upload(self, user: str, device_id: str, body: dict[str, Any]) -> dict[str, Any]:
        device = self._device(user, device_id)
        if "device_keys" in body:
            keys = parse_device_keys(body["device_keys"], user, device_id)
            if device.keys is not None:
                old = parse_device_keys(device.keys, user, device_id)
                if (old.ed25519, old.curve25519) != (keys.ed25519, keys.curve25519):
                    raise ServerError(400, "M_INVALID_PARAM", "device keys changed")
                merged = copy.deepcopy(device.keys)
                for signer, sigs in body["device_keys"].get("signatures", {}).items():
                    merged.setdefault("signatures", {}).setdefault(signer, {}).update(sigs)
                device.keys = merged
            else:
                device.keys = copy.deepcopy(body["device_keys"])
                self.notify_change(user)
        own = parse_device_keys(device.keys, user, device_id) if device.keys else None
        for key_id, obj in body.get("one_time_keys", {}).items():
            assert own is not None
            parse_signed_key(key_id, obj, own)
            device.otks.setdefault(key_id, obj)
        for key_id, obj in body.get("fallback_keys", {}).items():
            assert own is not None
            if not parse_signed_key(key_id, obj, own).fallback:
                raise ServerError(400, "M_INVALID_PARAM", "fallback key without fallback: true")
            device.fallback = (key_id, obj)
            device.fallback_used = False
        return {"one_time_key_counts": {"signed_curve25519": len(device.otks)}}

    def _visible_key(self, requester: str, obj: dict[str, Any], owner: str) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        sigs = out.get("signatures", {})
        out["signatures"] = {s: v for s, v in sigs.items() if s in (owner, requester)}
        return out

    def keys_query(self, requester: str, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "device_keys": {},
            "failures": {},
            "master_keys": {},
            "self_signing_keys": {},
            "user_signing_keys": {},
        }
        for user in body.get("device_keys", {}):
            out["device_keys"][user] = {
                d: copy.deepcopy(dev.keys)
                for d, dev in self.devices.get(user, {}).items()
                if dev.keys is not None
            }
            cs = self.cross_signing.get(user)
            if cs:
                out["master_keys"][user] = self._visible_key(requester, cs["master"], user)
                out["self_signing_keys"][user] = copy.deepcopy(cs["self_signing"])
                if user == requester:
                    out["user_signing_keys"][user] = copy.deepcopy(cs["user_signing"])
        return out

    def keys_claim(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for target, devices in body.get("one_time_keys", {}).items():
            for device_id, algorithm in devices.items():
                device = self.devices.get(target, {}).get(device_id)
                if device is None:
                    continue
                found = [k for k in device.otks if k.startswith(algorithm + ":")]
                if found:
                    key_id = found[0]
                    obj = device.otks.pop(key_id)
                elif device.fallback is not None:
                    key_id, obj = device.fallback
                    device.fallback_used = True
                else:
                    continue
                self.claims.append((target, device_id, key_id))
                out.setdefault(target, {})[device_id] = {key_id: copy.deepcopy(obj)}
        return {"one_time_keys": out, "failures": {}}

    def device_signing_upload(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        keys = self.cross_signing.setdefault(user, {})
        for field_name, usage in (
            ("master_key", "master"),
            ("self_signing_key", "self_signing"),
            ("user_signing_key", "user_signing"),
        ):
            if field_name in body:
                keys[usage] = copy.deepcopy(body[field_name])
        master = next(iter(keys["master"]["keys"].values()))
        for usage in ("self_signing", "user_signing"):
            if usage in keys and not has_valid_signature(
                keys[usage], user, f"ed25519:{master}", master
            ):
                raise ServerError(400, "M_INVALID_SIGNATURE", f"{usage} not signed by master")
        self.notify_change(user)
        return {}

    def _signer_key(self, signer: str, key_id: str) -> str | None:
        name = key_id.partition(":")[2]
        device = self.devices.get(signer, {}).get(name)
        if device is not None and device.keys is not None:
            return str(device.keys["keys"][f"ed25519:{name}"])
        for obj in self.cross_signing.get(signer, {}).values():
            if name in obj["keys"].values():
                return name
        return None

    def signatures_upload(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        failures: dict[str, Any] = {}
        for target, objects in body.items():
            for key_id, signed in objects.items():
                stored = self._stored_object(target, key_id)
                if stored is None:
                    failures.setdefault(target, {})[key_id] = {"errcode": "M_NOT_FOUND"}
                    continue
                for sig_key_id, sig in signed.get("signatures", {}).get(user, {}).items():
                    public = self._signer_key(user, sig_key_id)
                    candidate = copy.deepcopy(stored)
                    candidate.setdefault("signatures", {}).setdefault(user, {})[sig_key_id] = sig
                    if public is None or not has_valid_signature(
                        candidate, user, sig_key_id, public
                    ):
                        failures.setdefault(target, {})[key_id] = {"errcode": "M_INVALID_SIGNATURE"}
                        continue
                    stored.setdefault("signatures", {}).setdefault(user, {})[sig_key_id] = sig
                self.notify_change(target)
        return {"failures": failures}

    def _stored_object(self, target: str, key_id: str) -> dict[str, Any] | None:
        device = self.devices.get(target, {}).get(key_id)
        if device is not None and device.keys is not None:
            return device.keys
        for obj in self.cross_signing.get(target, {}).values():
            if key_id in obj["keys"].values():
                return obj
        return None

    # -- to-device and rooms --------------------------------------------------------------

    def send_to_device(self, user: str, event_type: str, body: dict[str, Any]) -> dict[str, Any]:
        for target, devices in body["messages"].items():
            for device_id, content in devices.items():
                targets = list(self.devices.get(target, {})) if device_id == "*" else [device_id]
                for d in targets:
                    if d in self.devices.get(target, {}):
                        self._device(target, d).inbox.append(
                            {"type": event_type, "sender": user, "content": copy.deepcopy(content)}
                        )
        return {}

    def send_room_event(
        self, user: str, room_id: str, event_type: str, content: dict[str, Any]
    ) -> dict[str, Any]:
        room = self.rooms[room_id]
        if user not in room.members:
            raise ServerError(403, "M_FORBIDDEN", "not a member")
        n = next(self._ids)
        event = {
            "type": event_type,
            "sender": user,
            "content": copy.deepcopy(content),
            "event_id": f"$event{n}",
            "origin_server_ts": 1_700_000_000_000 + n,
            "room_id": room_id,
        }
        room.timeline.append(event)
        return {"event_id": event["event_id"]}

    def sync(self, user: str, device_id: str) -> dict[str, Any]:
        device = self._device(user, device_id)
        events, device.inbox = device.inbox, []
        changed, device.changed = sorted(device.changed), set()
        left, device.left = sorted(device.left), set()
        return {
            "to_device": {"events": events},
            "device_lists": {"changed": changed, "left": left},
            "device_one_time_keys_count": {"signed_curve25519": len(device.otks)},
            "device_unused_fallback_key_types": (
                ["signed_curve25519"] if device.fallback and not device.fallback_used else []
            ),
        }

    # -- key backup -----------------------------------------------------------------------

    def backup_create(self, user: str, body: dict[str, Any]) -> dict[str, Any]:
        versions = self.backups.setdefault(user, [])
        version = str(len(versions) + 1)
        versions.append({**copy.deepcopy(body), "version": version})
        return {"version": version}

    def backup_info(self, user: str) -> dict[str, Any]:
        versions = self.backups.get(user)
        if not versions:
            raise ServerError(404, "M_NOT_FOUND", "no backup")
        latest = versions[-1]
        keys = self.backup_keys.get((user, latest["version"]), {})
        return {**copy.deepcopy(latest), "count": len(keys), "etag": str(len(keys))}

    def backup_put(self, user: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
        if not self.backups.get(user) or self.backups[user][-1]["version"] != version:
            raise ServerError(403, "M_WRONG_ROOM_KEYS_VERSION", "stale backup version")
        store = self.backup_keys.setdefault((user, version), {})
        for room_id, room in body["rooms"].items():
            for session_id, data in room["sessions"].items():
                key = f"{room_id}|{session_id}"
                old = store.get(key)
                if old is None or _better(data, old):
                    store[key] = copy.deepcopy(data)
        return {"count": len(store), "etag": str(len(store))}

    def backup_get(self, user: str, version: str) -> dict[str, Any]:
        rooms: dict[str, Any] = {}
        for key, data in self.backup_keys.get((user, version), {}).items():
            room_id, session_id = key.split("|", 1)
            rooms.setdefault(room_id, {"sessions": {}})["sessions"][session_id] = copy.deepcopy(
                data
            )
        return {"rooms": rooms}


def _better(new: dict[str, Any], old: dict[str, Any]) -> bool:
    if new["is_verified"] != old["is_verified"]:
        return bool(new["is_verified"])
    if new["first_message_index"] != old["first_message_index"]:
        return bool(new["first_message_index"] < old["first_message_index"])
    return bool(new["forwarded_count"] < old["forwarded_count"])
