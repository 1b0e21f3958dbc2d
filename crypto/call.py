"""Signed SDP for video calls: a compromised server cannot sit in the middle.

The DTLS fingerprints in an SDP pin the peers' DTLS certificates. Each device
signs ``{purpose, callId, sdpSha256, fingerprints, signer, recipient}``
(canonical JSON) with its Ed25519 device key; the other peer checks the
signature against the device key it already trusts, that the SDP it received
hashes to ``sdpSha256`` and carries exactly those fingerprints, and that the
signature names this call and itself as the recipient, so an offer or answer
cannot be replayed into another call or to another peer (nor reflected back
to its sender).
"""

from __future__ import annotations

import hashlib
import hmac
import re

import msgspec

from crypto.canonical import b64encode, canonical_json, decode_key
from crypto.errors import SignatureError
from crypto.payloads import CallSdpSignature, PartyKeys
from crypto.signing import Signer, verify_signature

_FINGERPRINT = re.compile(r"^a=fingerprint:(\S+ \S+)\s*$", re.MULTILINE)


def dtls_fingerprints(sdp: str) -> list[str]:
    """The ``a=fingerprint:`` values of an SDP, in order."""
    return _FINGERPRINT.findall(sdp)


def _signed_bytes(
    call_id: str,
    sdp_sha256: str,
    fingerprints: list[str],
    signer: PartyKeys,
    recipient: PartyKeys,
) -> bytes:
    return canonical_json(
        {
            "purpose": "kaari.call.sdp.v1",
            "callId": call_id,
            "fingerprints": fingerprints,
            "recipient": msgspec.to_builtins(recipient),
            "sdpSha256": sdp_sha256,
            "signer": msgspec.to_builtins(signer),
        }
    )


def sign_sdp(
    call_id: str, sdp: str, signer: PartyKeys, recipient: PartyKeys, sign: Signer
) -> CallSdpSignature:
    """Sign an SDP for ``recipient`` in call ``call_id`` (``sign`` = the signer's device key)."""
    fingerprints = dtls_fingerprints(sdp)
    if not fingerprints:
        raise SignatureError("SDP carries no DTLS fingerprint")
    digest = b64encode(hashlib.sha256(sdp.encode("utf-8")).digest())
    signature = sign(_signed_bytes(call_id, digest, fingerprints, signer, recipient))
    return CallSdpSignature(
        call_id=call_id,
        sdp_sha256=digest,
        fingerprints=fingerprints,
        signer=signer,
        recipient=recipient,
        signature=signature,
    )


def verify_sdp(
    signed: CallSdpSignature,
    sdp: str,
    call_id: str,
    expected_signer: PartyKeys,
    me: PartyKeys,
) -> None:
    """Check before applying a remote SDP; raise :class:`SignatureError`.

    ``expected_signer`` is the peer device this call is with (keys from the
    trusted directory), ``me`` the receiving device. Checks the signer, the
    call, the recipient, the SDP's hash and fingerprints, then the signature.
    """
    if signed.signer != expected_signer:
        raise SignatureError("SDP signed by another device than expected")
    if signed.call_id != call_id:
        raise SignatureError("SDP signature is for another call")
    if signed.recipient != me:
        raise SignatureError("SDP signature is addressed to another device")
    digest = hashlib.sha256(sdp.encode("utf-8")).digest()
    if not hmac.compare_digest(digest, decode_key(signed.sdp_sha256)):
        raise SignatureError("SDP does not match its signed hash")
    if dtls_fingerprints(sdp) != signed.fingerprints:
        raise SignatureError("SDP fingerprints differ from the signed ones")
    verify_signature(
        _signed_bytes(
            signed.call_id, signed.sdp_sha256, signed.fingerprints, signed.signer, signed.recipient
        ),
        signed.signature,
        expected_signer.ed25519,
    )
