"""Trust decisions on top of cross-signing, and QR verification of a master key.

A device is *verified* when a chain of signatures leads to it from our own master key:
our master -> our user-signing key -> their master -> their self-signing key -> the
device (for our own devices: our master -> our self-signing key -> the device). It is
*cross-signed* when its owner's self-signing key signed it, whether or not we verified
the owner. Kaari's first home visit verifies the therapist by comparing the master key in
the invite QR with the one the server returns, then signing it with the user-signing key.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from crypto.matrix.cross_signing import CrossSigningKeys, UserIdentity, signature_upload_body
from crypto.matrix.device_keys import DeviceKeys
from crypto.matrix.errors import KeyFormatError
from crypto.matrix.signing import has_valid_signature


class DeviceTrust(enum.Enum):
    UNTRUSTED = "untrusted"
    CROSS_SIGNED = "cross_signed"  # signed by its owner's self-signing key, owner not verified
    VERIFIED = "verified"  # a signature chain from our own master key


def identity_is_verified(own: UserIdentity | None, identity: UserIdentity | None) -> bool:
    """Whether we verified ``identity`` (it is ours, or our user-signing key signed its master)."""
    if own is None or identity is None:
        return False
    if identity.user_id == own.user_id:
        return identity.master.public_key == own.master.public_key
    return own.has_signed_master_of(identity)


def device_trust(
    own: UserIdentity | None, owner: UserIdentity | None, device: DeviceKeys
) -> DeviceTrust:
    """Trust in ``device`` given our trusted identity ``own`` and the device owner's identity.

    ``own`` must be trusted by the caller (we hold its private keys, or pinned it);
    ``owner`` is what ``keys/query`` returned for the device's user.
    """
    if owner is None or owner.user_id != device.user_id or not owner.device_is_cross_signed(device):
        return DeviceTrust.UNTRUSTED
    if identity_is_verified(own, owner):
        return DeviceTrust.VERIFIED
    return DeviceTrust.CROSS_SIGNED


def verify_master_key_from_qr(
    scanned_master_key: str, identity: UserIdentity, own: CrossSigningKeys
) -> dict[str, Any]:
    """Compare the scanned master key with the server's and sign it with our user-signing key.

    Returns the ``keys/signatures/upload`` body. Raises :class:`KeyFormatError` with code
    ``master_key_mismatch`` when the server's master key is not the one shown in person.
    """
    if identity.master.public_key != scanned_master_key:
        raise KeyFormatError(
            "the master key from the server is not the one in the QR code", "master_key_mismatch"
        )
    signed = own.sign_user(identity)
    return signature_upload_body((identity.user_id, identity.master.public_key, signed))


def sign_own_device_body(own: CrossSigningKeys, device: DeviceKeys) -> dict[str, Any]:
    """``keys/signatures/upload`` body signing one of our devices with the self-signing key."""
    return signature_upload_body((device.user_id, device.device_id, own.sign_own_device(device)))


def signed_by_device(obj: Mapping[str, Any], device: DeviceKeys) -> bool:
    """Whether ``device``'s Ed25519 key signed ``obj`` (e.g. a backup's ``auth_data``)."""
    return has_valid_signature(obj, device.user_id, f"ed25519:{device.device_id}", device.ed25519)
