"""Device keys and one-time/fallback keys in the shapes of ``keys/upload``, ``query`` and ``claim``.

Device keys::

    {"user_id": "@u:s", "device_id": "D",
     "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
     "keys": {"curve25519:D": "<curve>", "ed25519:D": "<ed>"},
     "signatures": {"@u:s": {"ed25519:D": "<sig>"}}}

A one-time key is ``"signed_curve25519:<id>": {"key": "<curve>", "signatures": ...}`` and a
fallback key is the same object with ``"fallback": true``. This module is pure (pynacl):
the server uses it to refuse unsigned uploads, the device to check what it is handed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crypto.matrix import ids
from crypto.matrix.canonical import decode_key
from crypto.matrix.errors import EncodingError, KeyFormatError, SignatureError
from crypto.matrix.signing import verify_json

OLM_ALGORITHM = "m.olm.v1.curve25519-aes-sha2"
MEGOLM_ALGORITHM = "m.megolm.v1.aes-sha2"
SIGNED_CURVE25519 = "signed_curve25519"
DEVICE_ALGORITHMS = (OLM_ALGORITHM, MEGOLM_ALGORITHM)


@dataclass(frozen=True)
class DeviceKeys:
    """Verified (self-signed) device keys of one device, with the JSON they came in."""

    user_id: str
    device_id: str
    curve25519: str
    ed25519: str
    algorithms: tuple[str, ...]
    raw: Mapping[str, Any]

    def display_name(self) -> str | None:
        unsigned = self.raw.get("unsigned")
        name = unsigned.get("device_display_name") if isinstance(unsigned, Mapping) else None
        return name if isinstance(name, str) else None


def parse_device_keys(
    obj: object, user_id: str | None = None, device_id: str | None = None
) -> DeviceKeys:
    """Check the shape and the self-signature of device keys; raise :class:`KeyFormatError`.

    ``user_id``/``device_id``, when given, must match the object (a keys/query answer is
    keyed by them, and a server could otherwise file one device's keys under another).
    """
    if not isinstance(obj, Mapping):
        raise KeyFormatError("device keys must be an object")
    uid = ids.user_id(obj.get("user_id"))
    did = ids.device_id(obj.get("device_id"))
    if user_id is not None and uid != user_id:
        raise KeyFormatError("device keys of another user")
    if device_id is not None and did != device_id:
        raise KeyFormatError("device keys of another device")
    algorithms = obj.get("algorithms")
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise KeyFormatError("algorithms must be a list of strings")
    keys = obj.get("keys")
    if not isinstance(keys, Mapping):
        raise KeyFormatError("keys must be an object")
    curve = keys.get(f"curve25519:{did}")
    ed = keys.get(f"ed25519:{did}")
    try:
        decode_key(curve)
        decode_key(ed)
    except EncodingError as exc:
        raise KeyFormatError(f"device keys need curve25519 and ed25519 keys: {exc}") from exc
    assert isinstance(curve, str)
    assert isinstance(ed, str)
    try:
        verify_json(obj, uid, f"ed25519:{did}", ed)
    except SignatureError as exc:
        raise KeyFormatError(f"device keys are not self-signed: {exc}", "bad_signature") from exc
    return DeviceKeys(uid, did, curve, ed, tuple(algorithms), obj)


@dataclass(frozen=True)
class OneTimeKey:
    """A verified signed Curve25519 one-time or fallback key."""

    key_id: str
    curve25519: str
    fallback: bool


def parse_signed_key(key_id: str, obj: object, device: DeviceKeys) -> OneTimeKey:
    """Check one ``signed_curve25519:<id>`` key object against the device that owns it."""
    algorithm, _, name = key_id.partition(":")
    if algorithm != SIGNED_CURVE25519 or not name:
        raise KeyFormatError(f"unsupported one-time key algorithm in {key_id!r}")
    if not isinstance(obj, Mapping):
        raise KeyFormatError("a signed one-time key must be an object")
    if set(obj) - {"key", "signatures", "fallback", "unsigned"}:
        raise KeyFormatError("unexpected fields in a signed one-time key")
    fallback = obj.get("fallback", False)
    if not isinstance(fallback, bool):
        raise KeyFormatError("fallback must be a boolean")
    curve = obj.get("key")
    try:
        decode_key(curve)
    except EncodingError as exc:
        raise KeyFormatError(f"one-time key: {exc}") from exc
    assert isinstance(curve, str)
    try:
        verify_json(obj, device.user_id, f"ed25519:{device.device_id}", device.ed25519)
    except SignatureError as exc:
        raise KeyFormatError(
            f"one-time key not signed by its device: {exc}", "bad_signature"
        ) from exc
    return OneTimeKey(key_id, curve, fallback)


def parse_claimed_key(keys: object, device: DeviceKeys) -> OneTimeKey:
    """The single key a ``keys/claim`` answer holds for ``device``."""
    if not isinstance(keys, Mapping) or len(keys) != 1:
        raise KeyFormatError("a claim answer holds exactly one key per device")
    ((key_id, obj),) = keys.items()
    return parse_signed_key(str(key_id), obj, device)
