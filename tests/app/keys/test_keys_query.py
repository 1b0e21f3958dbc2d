"""Querying keys, cross-signing, and a real Olm exchange through the directory."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

from conftest import World
from keys_support import audit_rows, make_device, row_counts, upload_device
from litestar.testing import TestClient
from support import Session, assert_problem, login

from app.config import Settings
from client.device import PeerDevice
from crypto.cross_signing import UserMasterKey, verify_cross_signed_device
from crypto.identity import verify_device_bundle
from crypto.payloads import TextMessage


def query(client: Any, session: Session, *users: uuid.UUID) -> dict[str, Any]:
    r = client.post(
        "/keys/query", json={"userIds": [str(u) for u in users]}, headers=session.headers
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()["users"]
    return out


def test_query_returns_case_members_devices_and_never_strangers(
    client: TestClient[Any], world: World, other_world: World, tmp_path: Path
) -> None:
    g, t = world.guardian, world.therapist
    tablet = login(client, g.email or "", device="tablet")
    phone = make_device(tmp_path, g)
    for s, d in (
        (g, phone),
        (tablet, make_device(tmp_path, tablet)),
        (t, make_device(tmp_path, t)),
    ):
        upload_device(client, s, d)
    upload_device(client, other_world.guardian, make_device(tmp_path, other_world.guardian))
    upload_device(client, world.admin, make_device(tmp_path, world.admin))

    got = query(
        client,
        t,
        g.user_id,
        t.user_id,
        world.guardian2.user_id,
        other_world.guardian.user_id,
        world.admin.user_id,
        uuid.uuid4(),
    )
    assert set(got) == {str(g.user_id), str(t.user_id), str(world.guardian2.user_id)}
    mine = got[str(g.user_id)]
    assert mine["deviceListVersion"] == 2  # two devices uploaded their bundles
    assert mine["masterKey"] is None
    assert set(mine["devices"]) == {str(g.device_id), str(tablet.device_id)}
    bundle = mine["devices"][str(g.device_id)]
    keys = verify_device_bundle(bundle)
    assert (keys.curve25519, keys.ed25519) == (phone.curve25519, phone.ed25519)
    assert got[str(world.guardian2.user_id)] == {
        "deviceListVersion": 0,
        "masterKey": None,
        "devices": {},
    }
    # the stranger sees nobody of the world, but themself
    assert set(query(client, other_world.guardian, g.user_id, other_world.guardian.user_id)) == {
        str(other_world.guardian.user_id)
    }
    # a revoked device drops out of queries
    assert client.delete(f"/devices/{tablet.device_id}", headers=g.headers).status_code == 204
    assert set(query(client, t, g.user_id)[str(g.user_id)]["devices"]) == {str(g.device_id)}


def test_bad_query_requests(client: TestClient[Any], world: World) -> None:
    for body in ({}, {"userIds": []}, {"userIds": ["x"]}, {"userIds": [str(uuid.uuid4())] * 51}):
        r = client.post("/keys/query", json=body, headers=world.therapist.headers)
        assert_problem(r, 422, "validation_error")


def test_master_key_and_cross_signatures(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path
) -> None:
    t, g = world.therapist, world.guardian
    master = UserMasterKey.generate(str(t.user_id))
    device = make_device(tmp_path, t)
    upload_device(client, t, device)
    bundle = device.signed_device_bundle()

    # signing before there is a master key
    sig = master.device_signature(bundle)
    r = client.post(
        "/keys/signatures", json={"deviceId": str(t.device_id), "signature": sig}, headers=t.headers
    )
    assert_problem(r, 409, "master_key_missing")

    # someone else's master key object, a forged one, a malformed one
    other = UserMasterKey.generate(str(g.user_id)).master_key_object()
    assert_problem(client.put("/keys/master", json=other, headers=t.headers), 403, "wrong_user")
    forged = master.master_key_object()
    forged["keys"] = UserMasterKey.generate(str(t.user_id)).master_key_object()["keys"]
    forged_id = next(iter(forged["keys"]))
    forged["signatures"] = {
        str(t.user_id): {
            forged_id: next(iter(master.master_key_object()["signatures"][str(t.user_id)].values()))
        }
    }
    assert_problem(client.put("/keys/master", json=forged, headers=t.headers), 422, "bad_signature")
    bad_usage = master.master_key_object()
    bad_usage["usage"] = ["self_signing"]
    assert_problem(
        client.put("/keys/master", json=bad_usage, headers=t.headers), 422, "invalid_key"
    )
    assert_problem(
        client.put("/keys/master", json={"user_id": str(t.user_id)}, headers=t.headers),
        422,
        "validation_error",
    )
    assert row_counts(settings)["master_keys"] == 0

    r = client.put("/keys/master", json=master.master_key_object(), headers=t.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "userId": str(t.user_id),
        "ed25519": master.public_key,
        "deviceListVersion": 2,
    }
    # idempotent; a different one is refused
    r = client.put("/keys/master", json=master.master_key_object(), headers=t.headers)
    assert r.status_code == 200
    assert r.json()["deviceListVersion"] == 2
    again = UserMasterKey.generate(str(t.user_id)).master_key_object()
    assert_problem(
        client.put("/keys/master", json=again, headers=t.headers), 409, "master_key_changed"
    )

    # a bad signature, another user's device, an unknown device
    wrong = UserMasterKey.generate(str(t.user_id)).device_signature(bundle)
    r = client.post(
        "/keys/signatures",
        json={"deviceId": str(t.device_id), "signature": wrong},
        headers=t.headers,
    )
    assert_problem(r, 422, "bad_signature")
    g_device = make_device(tmp_path, g)
    upload_device(client, g, g_device)
    for target in (g.device_id, uuid.uuid4()):
        r = client.post(
            "/keys/signatures", json={"deviceId": str(target), "signature": sig}, headers=t.headers
        )
        assert_problem(r, 404, "device_not_found")
    assert row_counts(settings)["device_signatures"] == 0

    r = client.post(
        "/keys/signatures", json={"deviceId": str(t.device_id), "signature": sig}, headers=t.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["deviceListVersion"] == 3

    # the guardian sees the master key and a cross-signed bundle
    got = query(client, g, t.user_id)[str(t.user_id)]
    assert got["masterKey"] == master.master_key_object()
    assert got["deviceListVersion"] == 3
    served = got["devices"][str(t.device_id)]
    verify_cross_signed_device(served, master.public_key)

    actions = [e.action for e in audit_rows(settings)]
    assert actions.count("keys.master_key_set") == 1
    assert actions.count("keys.device_signed") == 1


def test_a_cross_signed_bundle_upload_records_the_master_signature(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    t, g = world.therapist, world.guardian
    master = UserMasterKey.generate(str(t.user_id))
    r = client.put("/keys/master", json=master.master_key_object(), headers=t.headers)
    assert r.status_code == 200, r.text
    device = make_device(tmp_path, t, master=master)
    bundle = device.signed_device_bundle()
    assert len(bundle["signatures"][str(t.user_id)]) == 2
    upload_device(client, t, device)
    served = query(client, g, t.user_id)[str(t.user_id)]["devices"][str(t.device_id)]
    verify_cross_signed_device(served, master.public_key)
    # a forged master signature on the bundle is refused
    tablet = login(client, t.email or "", device="tablet")
    forged = copy.deepcopy(make_device(tmp_path, tablet).signed_device_bundle())
    forged["signatures"][str(t.user_id)][master.key_id] = master.device_signature(bundle)
    r = client.post("/keys/upload", json={"deviceKeys": forged}, headers=tablet.headers)
    assert_problem(r, 422, "bad_signature")


def test_two_real_devices_talk_through_the_directory(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    a_session, b_session = world.therapist, world.guardian
    a = make_device(tmp_path, a_session, "a")
    b = make_device(tmp_path, b_session, "b")
    upload_device(client, a_session, a)
    upload_device(client, b_session, b)

    # B looks A up and claims one of A's one-time keys
    bundle = query(client, b_session, a_session.user_id)[str(a_session.user_id)]["devices"][
        str(a_session.device_id)
    ]
    r = client.post(
        "/keys/claim", json={"devices": [str(a_session.device_id)]}, headers=b_session.headers
    )
    claimed = r.json()["oneTimeKeys"][str(a_session.device_id)]
    assert claimed["fallback"] is False
    peer = PeerDevice.from_bundle(bundle, claimed["key"])
    assert (peer.curve25519, peer.ed25519) == (a.curve25519, a.ed25519)

    (ciphertext,) = b.encrypt_for([peer], TextMessage(body="Eino is ill today, we cancel."))
    received = a.decrypt(ciphertext)
    assert isinstance(received.payload, TextMessage)
    assert received.payload.body == "Eino is ill today, we cancel."
    assert received.sender.device_id == str(b_session.device_id)
    # A's key count went down by the claimed key
    assert client.get("/keys/count", headers=a_session.headers).json()["oneTimeKeyCount"] == 49
