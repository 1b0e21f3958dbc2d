"""The first home visit against a real app: the therapist's invite QR joins a new family
account and verifies the therapist (a user-signing signature on the server), so the
therapist's cross-signed devices are verified for the family's devices and a strict send
reaches only them; a key that is not the QR's signs nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from conftest import World
from litestar.testing import TestClient
from mx_client_support import Devices, family_room
from support import PASSWORD, Session

from client.matrix import MatrixClient, MatrixError
from client.matrix.invite_qr import InviteQr
from client.matrix.verify import (
    VerificationFailed,
    accept_invite_from_qr,
    redeem_invite_from_qr,
    verify_from_qr,
)
from crypto.matrix.signing import Ed25519SigningKey
from crypto.matrix.trust import DeviceTrust


def _therapist(devices: Devices, world: World) -> tuple[MatrixClient, str]:
    terhi = devices.open(world.therapist, "terhi")
    terhi.bootstrap_cross_signing()
    qr = InviteQr.from_invite(terhi.http.create_case_invite(str(world.case_id)))
    return terhi, qr.encode()


def _new_family(devices: Devices, qr: str, name: str) -> tuple[Session, MatrixClient]:
    email = f"{name}@example.fi"
    login = accept_invite_from_qr(
        devices.http, qr, email=email, password=PASSWORD, display_name=name, device_name="phone"
    )
    session = Session(login.token, UUID(login.device_id), UUID(login.kaari_user_id), email)
    return session, devices.open(session, name)


def _trust(viewer: MatrixClient, of: MatrixClient) -> DeviceTrust:
    viewer.device.track_users([of.user_id])  # as sending into the room would
    viewer.query_keys()  # only what device_lists told us changed is asked again
    keys = viewer.device.directory.device(of.user_id, of.device_id)
    assert keys is not None
    return viewer.device.trust(keys)


def test_the_qr_joins_and_verifies_the_therapist_for_the_familys_devices(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi, qr = _therapist(devices, world)
    tablet = devices.login("therapist@example.fi", "tablet")[1]  # not cross-signed (yet)
    session, mia = _new_family(devices, qr, "mia")
    room = family_room(world.case_id)
    for c in (terhi, tablet, mia):
        c.sync()
    assert room in mia.http.sync(None)["rooms"]["join"]  # the QR's invite joined the case
    assert _trust(mia, terhi) is DeviceTrust.CROSS_SIGNED  # the server's word only

    result = verify_from_qr(mia, qr)
    assert result.user_id == terhi.user_id
    assert terhi.device.cross_signing is not None
    assert result.master_key == terhi.device.cross_signing.master.public_key
    assert result.verified_devices == [terhi.device_id]
    assert result.bootstrapped_cross_signing is True  # Mia had no cross-signing keys
    assert _trust(mia, terhi) is DeviceTrust.VERIFIED
    assert _trust(mia, tablet) is DeviceTrust.UNTRUSTED
    # The therapist sees Mia's new identity, her phone cross-signed by it (not verified).
    terhi.sync()
    assert _trust(terhi, mia) is DeviceTrust.CROSS_SIGNED

    # A strict send: the verified laptop reads it, the unverified tablet is told why not.
    event_id = mia.send_message(
        room, {"msgtype": "m.text", "body": "Tervetuloa"}, only_verified=True
    )
    assert [m["content"]["body"] for m in terhi.sync().messages] == ["Tervetuloa"]
    results = tablet.sync().to_device
    assert [(r.type, r.content.get("code")) for r in results if r.kind == "plain"] == [
        ("m.room_key.withheld", "m.unverified")
    ]
    assert [(p["event"]["event_id"], p["reason"]) for p in tablet.undecryptable()] == [
        (event_id, "withheld")
    ]

    # The therapist cross-signs her tablet: verified for Mia from then on, through the chain.
    terhi.verify_own_device(tablet.device_id)
    mia.sync()
    assert _trust(mia, tablet) is DeviceTrust.VERIFIED
    mia.send_message(room, {"msgtype": "m.text", "body": "Nyt tabletillekin"}, only_verified=True)
    assert [m["content"]["body"] for m in tablet.sync().messages] == ["Nyt tabletillekin"]

    # Mia's second device trusts her identity (shown by her phone) and so the therapist.
    mia_tablet = devices.login("mia@example.fi", "mia-tablet")[1]
    mia.sync()
    mia.verify_own_device(mia_tablet.device_id)
    assert mia.device.cross_signing is not None
    mia_tablet.trust_own_master_key(mia.device.cross_signing.master.public_key)
    mia_tablet.device.track_users([terhi.user_id])
    mia_tablet.sync()
    assert _trust(mia_tablet, terhi) is DeviceTrust.VERIFIED

    # The trust survives a restart of Mia's phone (it is in the device's store).
    mia.close()
    again = devices.open(session, "mia")
    assert _trust(again, terhi) is DeviceTrust.VERIFIED
    again.close()


def test_a_key_that_is_not_the_qrs_signs_nothing(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi, qr = _therapist(devices, world)
    mia = _new_family(devices, qr, "mia")[1]
    unused = InviteQr.from_invite(terhi.http.create_case_invite(str(world.case_id))).encode()
    # After the visit the therapist's keys are replaced (or the server lies about them).
    upload, signatures = terhi.device.bootstrap_cross_signing()
    auth = {"type": "m.login.password", "password": PASSWORD}
    terhi.http.device_signing_upload({**upload, "auth": auth})
    terhi.http.signatures_upload(signatures)
    with pytest.raises(VerificationFailed) as exc:
        verify_from_qr(mia, qr)
    assert exc.value.code == "master_key_mismatch"
    # Nothing was signed: Mia has no cross-signing keys and the therapist no signature of hers.
    assert mia.device.cross_signing is None
    mia.query_keys()
    assert mia.device.own_identity() is None
    assert mia.device.directory.identities.get(mia.user_id) is None
    master = mia.device.directory.identities[terhi.user_id].master
    assert set(master.raw.get("signatures", {})) == {terhi.user_id}
    assert _trust(mia, terhi) is DeviceTrust.CROSS_SIGNED
    # And a QR made before the reset no longer joins anyone either (the server's check).
    with pytest.raises(MatrixError) as refused:
        _new_family(devices, unused, "noora")
    assert (refused.value.status, refused.value.code) == (409, "inviter_key_mismatch")


def test_an_existing_guardian_redeems_the_qr_of_a_siblings_case(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi = devices.open(world.therapist, "terhi")
    terhi.bootstrap_cross_signing()
    r = client.post("/cases", json={"childDisplayName": "Aino"}, headers=world.therapist.headers)
    assert r.status_code == 201, r.text
    sibling = r.json()["id"]
    qr = InviteQr.from_invite(terhi.http.create_case_invite(sibling)).encode()
    anna = devices.open(world.guardian, "anna")
    anna.bootstrap_cross_signing()  # she set up her keys before
    assert redeem_invite_from_qr(anna, qr) == {"caseId": sibling, "role": "guardian"}
    result = verify_from_qr(anna, qr)
    assert result.bootstrapped_cross_signing is False
    assert result.verified_devices == [terhi.device_id]
    assert _trust(anna, terhi) is DeviceTrust.VERIFIED
    # Her other device does not hold the keys: it cannot sign and says where to scan.
    laptop = devices.login("guardian1@example.fi", "laptop")[1]
    with pytest.raises(VerificationFailed) as exc:
        verify_from_qr(laptop, qr)
    assert exc.value.code == "cross_signing_elsewhere"


def test_qrs_that_cannot_verify_say_why(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    devices = Devices(client, tmp_path)
    terhi, qr = _therapist(devices, world)
    anna = devices.open(world.guardian, "anna")
    # the second guardian has no cross-signing keys: nothing to verify
    g2 = devices.open(world.guardian2, "g2")
    forged = InviteQr(
        InviteQr.from_invite(terhi.http.create_case_invite(str(world.case_id))).code,
        g2.user_id,
        Ed25519SigningKey.generate().public_key,
    )
    with pytest.raises(VerificationFailed) as exc:
        verify_from_qr(anna, forged)
    assert exc.value.code == "inviter_not_cross_signed"
    with pytest.raises(VerificationFailed) as exc:
        verify_from_qr(terhi, qr)  # her own code
    assert exc.value.code == "own_invite"
    assert anna.device.cross_signing is None  # none of it created keys
