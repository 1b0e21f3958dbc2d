"""Call offers and answers authenticated end to end by the Matrix device (no I/O).

The DTLS fingerprints in an SDP pin the peers' DTLS certificates, so whoever can change
them can sit in the middle of a call. Each offer or answer travels with an Olm-encrypted
to-device event of type ``org.kaari.call.sdp`` (``m.olm.v1.curve25519-aes-sha2``, the
same format as every other to-device event) whose content is::

    {"call_id": "<the call room id>", "kind": "offer" | "answer",
     "sdp_sha256": "<unpadded base64 of SHA-256 of the SDP's UTF-8 bytes>",
     "fingerprints": ["sha-256 AB:CD:...", ...]}

Olm binds it to the sending device's Curve25519/Ed25519 keys and, through the plaintext's
``recipient`` and ``recipient_keys``, to the receiving device; a replayed Olm message does
not decrypt twice. The receiver checks, before applying the SDP: the event decrypted
(:class:`~crypto.matrix.device.ToDeviceResult` ``decrypted``), is of this type, comes from
the peer user and device the call is with (as ``keys/query`` returned them), that device
is cross-signed by its owner (or verified, if asked), and the content names this call,
this kind, the SDP's hash and exactly its fingerprints. Any failure raises
:class:`CallAuthError` with a stable ``code``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any

from crypto.matrix.canonical import b64encode
from crypto.matrix.device import ENCRYPTED, MatrixDevice, ToDeviceResult
from crypto.matrix.errors import MatrixCryptoError
from crypto.matrix.trust import DeviceTrust

CALL_SDP = "org.kaari.call.sdp"
KINDS = ("offer", "answer")

_FINGERPRINT = re.compile(r"^a=fingerprint:(\S+ \S+)\s*$", re.MULTILINE)


class CallAuthError(MatrixCryptoError):
    """An offer or answer that is not the peer device's own: never applied."""

    code = "call_auth_invalid"


def dtls_fingerprints(sdp: str) -> list[str]:
    """The ``a=fingerprint:`` values of an SDP, in order."""
    return _FINGERPRINT.findall(sdp)


def sdp_sha256(sdp: str) -> str:
    return b64encode(hashlib.sha256(sdp.encode("utf-8")).digest())


def call_sdp_content(call_id: str, kind: str, sdp: str) -> dict[str, Any]:
    """The content of the ``org.kaari.call.sdp`` event that authenticates ``sdp``."""
    if kind not in KINDS:
        raise CallAuthError(f"not an offer or answer: {kind}", "bad_kind")
    fingerprints = dtls_fingerprints(sdp)
    if not fingerprints:
        raise CallAuthError("the SDP carries no DTLS fingerprint", "no_fingerprint")
    return {
        "call_id": call_id,
        "kind": kind,
        "sdp_sha256": sdp_sha256(sdp),
        "fingerprints": fingerprints,
    }


def check_call_sdp(
    result: ToDeviceResult,
    trust: DeviceTrust,
    *,
    call_id: str,
    kind: str,
    sdp: str,
    peer_user: str,
    peer_device: str,
    require_verified: bool = False,
) -> None:
    """Raise :class:`CallAuthError` unless ``result`` authenticates ``sdp`` from the peer.

    ``result`` is the processed to-device event that came with the SDP, ``trust`` the
    receiver's trust in its sending device (:meth:`MatrixDevice.trust`).
    """
    if result.kind != "decrypted" or result.olm is None:
        reason = result.error.code if result.error is not None else result.kind
        raise CallAuthError(f"the authentication did not decrypt: {reason}", "not_decrypted")
    if result.type != CALL_SDP:
        raise CallAuthError(f"not a call authentication: {result.type}", "wrong_type")
    device = result.olm.sender_device
    if result.sender != peer_user or device is None or device.user_id != peer_user:
        raise CallAuthError("sent by another user than the peer", "wrong_sender")
    if device.device_id != peer_device:
        raise CallAuthError("sent by another device than the peer", "wrong_device")
    wanted = (
        (DeviceTrust.VERIFIED,)
        if require_verified
        else (DeviceTrust.VERIFIED, DeviceTrust.CROSS_SIGNED)
    )
    if trust not in wanted:
        raise CallAuthError(f"the peer device is {trust.value}", "untrusted_device")
    content: Mapping[str, Any] = result.content
    if content.get("call_id") != call_id:
        raise CallAuthError("authenticates another call", "wrong_call")
    if content.get("kind") != kind:
        raise CallAuthError("authenticates another kind of SDP", "wrong_kind")
    signed = content.get("sdp_sha256")
    if not isinstance(signed, str) or not hmac.compare_digest(signed, sdp_sha256(sdp)):
        raise CallAuthError("the SDP does not match its authenticated hash", "sdp_changed")
    if content.get("fingerprints") != dtls_fingerprints(sdp):
        raise CallAuthError(
            "the SDP's fingerprints are not the authenticated ones", "fingerprints_changed"
        )


def encrypt_call_sdp(
    device: MatrixDevice, peer_user: str, peer_device: str, *, call_id: str, kind: str, sdp: str
) -> dict[str, Any]:
    """The Olm ``m.room.encrypted`` content authenticating ``sdp`` to one peer device.

    Needs the peer's device keys (``keys/query``) and an Olm session (``keys/claim``).
    """
    content = call_sdp_content(call_id, kind, sdp)
    return device.encrypt_to_device(peer_user, peer_device, CALL_SDP, content)


def authenticate_call_sdp(
    device: MatrixDevice,
    peer_user: str,
    peer_device: str,
    encrypted: object,
    *,
    call_id: str,
    kind: str,
    sdp: str,
    require_verified: bool = False,
) -> None:
    """Decrypt the peer's authentication (``peer_user`` is the relay's authenticated
    sender) and check it against ``sdp``; raise :class:`CallAuthError`."""
    if not isinstance(encrypted, Mapping):
        raise CallAuthError("the SDP comes without its authentication", "missing_auth")
    event = {"type": ENCRYPTED, "sender": peer_user, "content": encrypted}
    (result,) = device.receive_sync([event])
    sender = result.olm.sender_device if result.olm is not None else None
    trust = device.trust(sender) if sender is not None else DeviceTrust.UNTRUSTED
    check_call_sdp(
        result,
        trust,
        call_id=call_id,
        kind=kind,
        sdp=sdp,
        peer_user=peer_user,
        peer_device=peer_device,
        require_verified=require_verified,
    )
