"""Verifying the therapist from the first-visit QR code (issue 13), on a signed-in device.

The QR (:mod:`client.matrix.invite_qr`) carries the invite and the inviter's master
cross-signing key, seen in person. Joining checks the key on the server
(``inviterMasterKey`` → 409 ``inviter_key_mismatch``); this module does the device's own
check, the one the family relies on: query the inviter's keys, compare the master key the
server returns with the QR's, sign it with our user-signing key and upload the signature.
From then on every device the inviter cross-signed is *verified* for each of our devices
that trusts our own identity (a chain from our master key), not only cross-signed.

Nothing is signed or uploaded before the comparison succeeds; our own cross-signing keys
are created (first upload, no password) only when the user has none at all.

For the CLI and apps::

    login = accept_invite_from_qr(http, qr_text, email=…, password=…, display_name=…,
                                  device_name=…)           # a new account, or
    redeem_invite_from_qr(client, qr_text)                  # an existing one joins the case
    result = verify_from_qr(client, qr_text)                # -> QrVerification
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from client.matrix.client import MatrixClient
from client.matrix.http import Login, MatrixHttp
from client.matrix.invite_qr import InviteQr, parse_invite_qr
from crypto.matrix.errors import MatrixCryptoError
from crypto.matrix.trust import DeviceTrust, identity_is_verified


class VerificationFailed(Exception):
    """The inviter could not be verified; nothing was signed.

    ``code``: ``master_key_mismatch`` (the server's master key is not the QR's: do not trust
    this account's keys, ask the therapist), ``inviter_not_cross_signed``, ``own_invite``,
    ``cross_signing_elsewhere`` (another device of the user holds the cross-signing keys:
    scan there, or verify this device from there first), ``cross_signing_replaced`` (the
    user's published keys are no longer this device's), ``signature_refused``.
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class QrVerification:
    user_id: str
    master_key: str
    #: The inviter's devices now verified for us (the ones their self-signing key signed).
    verified_devices: list[str]
    #: Whether this call created our user's cross-signing keys.
    bootstrapped_cross_signing: bool


def _qr(qr: InviteQr | str) -> InviteQr:
    return qr if isinstance(qr, InviteQr) else parse_invite_qr(qr)


def accept_invite_from_qr(
    http: httpx.Client,
    qr: InviteQr | str,
    *,
    email: str,
    password: str,
    display_name: str,
    device_name: str,
) -> Login:
    """A new account from the QR's invite, refused (409) unless the key is the inviter's."""
    invite = _qr(qr)
    return MatrixHttp.accept_invite(
        http,
        invite.code,
        email=email,
        password=password,
        display_name=display_name,
        device_name=device_name,
        inviter_master_key=invite.inviter_master_key,
    )


def redeem_invite_from_qr(client: MatrixClient, qr: InviteQr | str) -> dict[str, Any]:
    """Join the QR's case with the signed-in account; the server checks the key too."""
    invite = _qr(qr)
    return client.http.redeem_invite(invite.code, invite.inviter_master_key)


def verify_from_qr(client: MatrixClient, qr: InviteQr | str) -> QrVerification:
    """Verify the QR's inviter: compare, sign with our user-signing key, upload, confirm."""
    invite = _qr(qr)
    inviter, own_user = invite.inviter_user_id, client.user_id
    if inviter == own_user:
        raise VerificationFailed("this is your own invite", "own_invite")
    device = client.device
    device.track_users([inviter, own_user])
    device.directory.mark_changed([inviter, own_user])  # the current keys, not a cached answer
    client.query_keys()
    identity = device.directory.identities.get(inviter)
    if identity is None:
        raise VerificationFailed(
            "the inviter has no cross-signing keys on the server", "inviter_not_cross_signed"
        )
    if identity.master.public_key != invite.inviter_master_key:
        raise VerificationFailed(
            "the server's master key for the inviter is not the one in the QR code; "
            "do not trust this account's keys and ask the inviter to show the code again",
            "master_key_mismatch",
        )
    bootstrapped = ensure_cross_signing(client)
    try:
        body = device.verify_user_from_qr(inviter, invite.inviter_master_key)
    except MatrixCryptoError as exc:  # compared above; the device compares again
        raise VerificationFailed(str(exc), exc.code or "master_key_mismatch") from exc
    answer = client.http.signatures_upload(body)
    if answer.get("failures"):
        raise VerificationFailed("the server refused the signature", "signature_refused")
    device.directory.mark_changed([inviter])  # the master key now carries our signature
    client.query_keys()
    identity = device.directory.identities.get(inviter)
    if not identity_is_verified(device.own_identity(), identity):
        raise VerificationFailed("the signature did not reach the server", "signature_refused")
    verified = [
        d.device_id
        for d in device.directory.user_devices(inviter)
        if device.trust(d) is DeviceTrust.VERIFIED
    ]
    return QrVerification(inviter, invite.inviter_master_key, sorted(verified), bootstrapped)


def ensure_cross_signing(client: MatrixClient) -> bool:
    """Make sure this device holds our user's current cross-signing keys; True if created.

    Call after a fresh ``keys/query`` of our own user (as :func:`verify_from_qr` does).
    """
    device = client.device
    published = device.directory.identities.get(client.user_id)
    if device.cross_signing is None:
        if published is not None:
            raise VerificationFailed(
                "another of your devices holds your cross-signing keys: scan the code there",
                "cross_signing_elsewhere",
            )
        client.bootstrap_cross_signing()
        return True
    if published is not None and not device.cross_signing.matches(published):
        raise VerificationFailed(
            "your cross-signing keys were replaced on another device", "cross_signing_replaced"
        )
    return False
