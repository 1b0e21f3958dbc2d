"""Device key bundles and signed one-time keys: formats and pure verification.

Wire formats (Matrix-compatible shapes, Kaari algorithm names)::

    device bundle = {
      "user_id": "...", "device_id": "...",
      "algorithms": ["kaari.olm.v1", "kaari.megolm.v1"],
      "keys": {"curve25519:<device_id>": "<b64>", "ed25519:<device_id>": "<b64>"},
      "signatures": {"<user_id>": {"ed25519:<device_id>": "<b64 sig>"}}
    }
    one-time key  = {"key": "<curve25519 b64>", "signatures": {...}}
    fallback key  = {"key": "<curve25519 b64>", "fallback": true, "signatures": {...}}

One-time and fallback keys are uploaded under ``"signed_curve25519:<key id>"``.

This module imports pynacl only; the server's key directory uses
:func:`verify_device_bundle` and :func:`verify_one_time_key`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from crypto.canonical import decode_key
from crypto.errors import BundleError, EncodingError, SignatureError
from crypto.signing import verify_signed_json

OLM_ALGORITHM = "kaari.olm.v1"
MEGOLM_ALGORITHM = "kaari.megolm.v1"
ALGORITHMS = (OLM_ALGORITHM, MEGOLM_ALGORITHM)
ONE_TIME_KEY_ALGORITHM = "signed_curve25519"

_ID = re.compile(r"^[A-Za-z0-9._=:@/+-]{1,255}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9+/]{1,64}$")


class DeviceKeys(msgspec.Struct, frozen=True):
    """The verified public keys of one device."""

    user_id: str
    device_id: str
    curve25519: str
    ed25519: str
    algorithms: tuple[str, ...] = ALGORITHMS


def check_identifier(value: object, what: str) -> str:
    """Return ``value`` if it is a plausible user or device id, else raise."""
    if not isinstance(value, str) or not _ID.match(value):
        raise BundleError(f"{what} is not a valid identifier")
    return value


def device_bundle(user_id: str, device_id: str, curve25519: str, ed25519: str) -> dict[str, Any]:
    """The unsigned device bundle for these keys."""
    return {
        "user_id": user_id,
        "device_id": device_id,
        "algorithms": list(ALGORITHMS),
        "keys": {f"curve25519:{device_id}": curve25519, f"ed25519:{device_id}": ed25519},
    }


def verify_device_bundle(bundle: Mapping[str, Any]) -> DeviceKeys:
    """Check a device bundle's structure and self-signature; return its keys.

    Pure function (pynacl only). Raises :class:`BundleError` for a malformed
    bundle and :class:`SignatureError` (its parent) for a bad signature. Extra
    signatures (e.g. the user's master key) are allowed and not checked here;
    see crypto/matrix/trust.py for the cross-signing chain.
    """
    if not isinstance(bundle, Mapping):
        raise BundleError("bundle must be a JSON object")
    allowed = {"user_id", "device_id", "algorithms", "keys", "signatures", "unsigned"}
    extra = set(bundle) - allowed
    if extra:
        raise BundleError(f"unexpected fields: {sorted(extra)}")
    user_id = check_identifier(bundle.get("user_id"), "user_id")
    device_id = check_identifier(bundle.get("device_id"), "device_id")
    algorithms = bundle.get("algorithms")
    if (
        not isinstance(algorithms, list)
        or not 1 <= len(algorithms) <= 8
        or not all(isinstance(a, str) and len(a) <= 64 for a in algorithms)
    ):
        raise BundleError("algorithms must be a short list of strings")
    if OLM_ALGORITHM not in algorithms:
        raise BundleError(f"bundle does not support {OLM_ALGORITHM}")
    keys = bundle.get("keys")
    expected = {f"curve25519:{device_id}", f"ed25519:{device_id}"}
    if not isinstance(keys, Mapping) or set(keys) != expected:
        raise BundleError("keys must hold exactly this device's curve25519 and ed25519 keys")
    curve = keys[f"curve25519:{device_id}"]
    ed = keys[f"ed25519:{device_id}"]
    try:
        decode_key(curve)
        decode_key(ed)
    except (EncodingError, TypeError) as exc:
        raise BundleError(f"bad key encoding: {exc}") from exc
    try:
        verify_signed_json(bundle, user_id, f"ed25519:{device_id}", ed)
    except SignatureError as exc:
        raise BundleError(f"device self-signature invalid: {exc}") from exc
    return DeviceKeys(user_id, device_id, curve, ed, tuple(algorithms))


def one_time_key_object(curve25519: str, *, fallback: bool = False) -> dict[str, Any]:
    """The unsigned one-time (or fallback) key object."""
    obj: dict[str, Any] = {"key": curve25519}
    if fallback:
        obj["fallback"] = True
    return obj


def verify_one_time_key(
    key_obj: Mapping[str, Any],
    user_id: str,
    device_id: str,
    ed25519_key_b64: str,
    *,
    fallback: bool | None = None,
) -> str:
    """Verify a signed one-time or fallback key; return its Curve25519 key (base64).

    ``fallback``: ``True`` requires a fallback key, ``False`` a one-time key,
    ``None`` accepts either. Pure function (pynacl only). Raises
    :class:`BundleError`.
    """
    if not isinstance(key_obj, Mapping):
        raise BundleError("one-time key must be a JSON object")
    if set(key_obj) - {"key", "fallback", "signatures", "unsigned"}:
        raise BundleError("unexpected fields in one-time key")
    is_fallback = key_obj.get("fallback", False)
    if not isinstance(is_fallback, bool):
        raise BundleError("fallback must be a boolean")
    if fallback is not None and is_fallback != fallback:
        raise BundleError("fallback key where a one-time key was expected, or vice versa")
    key = key_obj.get("key")
    if not isinstance(key, str):
        raise BundleError("one-time key must be a base64 string")
    try:
        decode_key(key)
    except EncodingError as exc:
        raise BundleError(f"bad one-time key: {exc}") from exc
    try:
        verify_signed_json(key_obj, user_id, f"ed25519:{device_id}", ed25519_key_b64)
    except SignatureError as exc:
        raise BundleError(f"one-time key signature invalid: {exc}") from exc
    return key


def parse_one_time_key_id(full_id: str) -> str:
    """``"signed_curve25519:AAAAAQ"`` -> ``"AAAAAQ"``; raise :class:`BundleError`."""
    algorithm, _, key_id = full_id.partition(":")
    if algorithm != ONE_TIME_KEY_ALGORITHM or not _KEY_ID.match(key_id):
        raise BundleError(f"bad one-time key id {full_id!r}")
    return key_id
