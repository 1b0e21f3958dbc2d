"""The invite carries the inviter's Matrix id and master key (for the first-visit QR);
accepting or redeeming with the QR's key refuses, and joins nothing, when it is not the
inviter's current master key."""

from __future__ import annotations

from typing import Any

from conftest import World
from litestar.testing import TestClient
from mx_support import V3, CrossSigningSet, MxDevice
from support import PASSWORD


def _invite(client: TestClient[Any], world: World) -> dict[str, Any]:
    r = client.post(
        f"/cases/{world.case_id}/invites", json={}, headers=MxDevice(world.therapist).headers
    )
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _accept(client: TestClient[Any], code: str, master_key: Any) -> Any:
    body = {
        "code": code,
        "email": "uusi@example.fi",
        "password": PASSWORD,
        "displayName": "Uusi",
        "device": {"name": "phone"},
        "inviterMasterKey": master_key,
    }
    return client.post("/invites/accept", json=body)


def test_the_invite_names_the_inviter_and_a_wrong_qr_key_joins_nothing(
    client: TestClient[Any], world: World
) -> None:
    t = MxDevice(world.therapist)
    before = _invite(client, world)
    assert before["inviterUserId"] == t.user
    assert before["inviterMasterKey"] is None  # no cross-signing keys yet
    keys = CrossSigningSet(t.user)
    r = client.post(f"{V3}/keys/device_signing/upload", json=keys.upload_body(), headers=t.headers)
    assert r.status_code == 200, r.text
    invite = _invite(client, world)
    assert invite["inviterMasterKey"] == keys.master.public
    other = CrossSigningSet(t.user).master.public
    r = _accept(client, invite["code"], other)
    assert r.status_code == 409
    assert r.json()["code"] == "inviter_key_mismatch"
    assert _accept(client, invite["code"], "not a key").status_code == 422
    r = _accept(client, invite["code"], keys.master.public)  # the invite was not spent
    assert r.status_code == 201, r.text


def test_redeem_checks_the_qr_key_too(client: TestClient[Any], world: World) -> None:
    t = MxDevice(world.therapist)
    keys = CrossSigningSet(t.user)
    r = client.post(f"{V3}/keys/device_signing/upload", json=keys.upload_body(), headers=t.headers)
    assert r.status_code == 200, r.text
    code = _invite(client, world)["code"]
    g = MxDevice(world.guardian)
    wrong = CrossSigningSet(t.user).master.public
    r = client.post(
        "/invites/redeem", json={"code": code, "inviterMasterKey": wrong}, headers=g.headers
    )
    assert r.status_code == 409
    assert r.json()["code"] == "inviter_key_mismatch"
    right = {"code": code, "inviterMasterKey": keys.master.public}
    # the right key passes the check: what stops this guardian now is being a member already
    r = client.post("/invites/redeem", json=right, headers=g.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "already_member"
