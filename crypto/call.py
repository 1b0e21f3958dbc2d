"""Signed SDP for video calls: a compromised server cannot sit in the middle.

The DTLS fingerprints in an SDP pin the peers' DTLS certificates. Each device
signs ``{callId, sdpSha256, fingerprints, signer}`` (canonical JSON) with its
Ed25519 device key; the other peer checks the signature against the device key
it already trusts, and that the SDP it received hashes to ``sdpSha256`` and
carries exactly those fingerprints.
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
    call_id: str, sdp_sha256: str, fingerprints: list[str], signer: PartyKeys
) -> bytes:
    return canonical_json(
        {
            "callId": call_id,
            "fingerprints": fingerprints,
            "sdpSha256": sdp_sha256,
            "signer": msgspec.to_builtins(signer),
        }
    )


def sign_sdp(call_id: str, sdp: str, signer: PartyKeys, sign: Signer) -> CallSdpSignature:
    """Sign an SDP's DTLS fingerprints with the device key (``sign`` = device signer)."""
    fingerprints = dtls_fingerprints(sdp)
    if not fingerprints:
        raise SignatureError("SDP carries no DTLS fingerprint")
    digest = b64encode(hashlib.sha256(sdp.encode("utf-8")).digest())
    signature = sign(_signed_bytes(call_id, digest, fingerprints, signer))
    return CallSdpSignature(
        call_id=call_id,
        sdp_sha256=digest,
        fingerprints=fingerprints,
        signer=signer,
        signature=signature,
    )


def verify_sdp(
    signed: CallSdpSignature, sdp: str, call_id: str, expected_signer: PartyKeys
) -> None:
    """Check the signature, the signer, the call and the SDP; raise :class:`SignatureError`."""
    if signed.signer != expected_signer:
        raise SignatureError("SDP signed by another device than expected")
    if signed.call_id != call_id:
        raise SignatureError("SDP signature is for another call")
    digest = hashlib.sha256(sdp.encode("utf-8")).digest()
    if not hmac.compare_digest(digest, decode_key(signed.sdp_sha256)):
        raise SignatureError("SDP does not match its signed hash")
    if dtls_fingerprints(sdp) != signed.fingerprints:
        raise SignatureError("SDP fingerprints differ from the signed ones")
    verify_signature(
        _signed_bytes(signed.call_id, signed.sdp_sha256, signed.fingerprints, signed.signer),
        signed.signature,
        expected_signer.ed25519,
    )
