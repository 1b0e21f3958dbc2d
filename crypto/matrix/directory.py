"""What the device knows about other devices: the verified answers of ``keys/query``.

Device-list tracking as the spec describes it: tracked users are queried when first
tracked and again when ``device_lists.changed`` names them; a change that arrives while a
query is in flight keeps the user outdated (the in-flight answer is not the newest).
Devices whose keys are not self-signed are dropped; a device id whose keys change is
refused (keeps the first keys), as the Rust machine does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crypto.matrix.cross_signing import UserIdentity, identity_from_query
from crypto.matrix.device_keys import DeviceKeys, parse_device_keys
from crypto.matrix.errors import KeyFormatError


@dataclass
class DirectoryChanges:
    """What one ``keys/query`` answer changed."""

    new_devices: list[DeviceKeys] = field(default_factory=list)
    removed_devices: list[DeviceKeys] = field(default_factory=list)
    refused_devices: list[tuple[str, str, str]] = field(default_factory=list)  # user, device, why
    identity_changed: list[str] = field(default_factory=list)  # master key replaced


class DeviceDirectory:
    def __init__(self) -> None:
        self.devices: dict[str, dict[str, DeviceKeys]] = {}
        self.identities: dict[str, UserIdentity] = {}
        self.tracked: set[str] = set()
        self.outdated: set[str] = set()
        self._generation: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}

    def track(self, users: Iterable[str]) -> None:
        for user in users:
            if user not in self.tracked:
                self.tracked.add(user)
                self.mark_changed([user])

    def mark_changed(self, users: Iterable[str]) -> None:
        for user in users:
            if user in self.tracked:
                self.outdated.add(user)
                self._generation[user] = self._generation.get(user, 0) + 1

    def mark_left(self, users: Iterable[str]) -> None:
        for user in users:
            self.tracked.discard(user)
            self.outdated.discard(user)

    def query_body(self) -> dict[str, Any] | None:
        """``POST keys/query`` body for the outdated users, or ``None``."""
        users = sorted(self.outdated - set(self._in_flight))
        if not users:
            return None
        for user in users:
            self._in_flight[user] = self._generation.get(user, 0)
            self.outdated.discard(user)
        return {"device_keys": {user: [] for user in users}}

    def on_query_response(self, response: Mapping[str, Any]) -> DirectoryChanges:
        changes = DirectoryChanges()
        answered = response.get("device_keys")
        answered = answered if isinstance(answered, Mapping) else {}
        for user, generation in list(self._in_flight.items()):
            del self._in_flight[user]
            if self._generation.get(user, 0) != generation:
                self.outdated.add(user)  # changed while the query was in flight
            self._update_user(user, answered.get(user), response, changes)
        return changes

    def _update_user(
        self,
        user: str,
        devices: object,
        response: Mapping[str, Any],
        changes: DirectoryChanges,
    ) -> None:
        known = self.devices.setdefault(user, {})
        seen: dict[str, DeviceKeys] = {}
        for device_id, obj in devices.items() if isinstance(devices, Mapping) else []:
            try:
                keys = parse_device_keys(obj, user, device_id)
            except KeyFormatError as exc:
                changes.refused_devices.append((user, device_id, exc.code))
                continue
            old = known.get(device_id)
            if old is not None and (old.ed25519, old.curve25519) != (keys.ed25519, keys.curve25519):
                changes.refused_devices.append((user, device_id, "keys_changed"))
                seen[device_id] = old
                continue
            if old is None:
                changes.new_devices.append(keys)
            seen[device_id] = keys
        for device_id, old in known.items():
            if device_id not in seen:
                changes.removed_devices.append(old)
        self.devices[user] = seen
        try:
            identity = identity_from_query(response, user)
        except KeyFormatError:
            identity = None
        previous = self.identities.get(user)
        if identity is None:
            return
        if previous is not None and previous.master.public_key != identity.master.public_key:
            changes.identity_changed.append(user)
        self.identities[user] = identity

    def device(self, user: str, device_id: str) -> DeviceKeys | None:
        return self.devices.get(user, {}).get(device_id)

    def user_devices(self, user: str) -> list[DeviceKeys]:
        return list(self.devices.get(user, {}).values())

    def by_curve(self, user: str, curve25519: str) -> DeviceKeys | None:
        for device in self.devices.get(user, {}).values():
            if device.curve25519 == curve25519:
                return device
        return None

    def owner_of_curve(self, curve25519: str) -> DeviceKeys | None:
        for devices in self.devices.values():
            for device in devices.values():
                if device.curve25519 == curve25519:
                    return device
        return None
