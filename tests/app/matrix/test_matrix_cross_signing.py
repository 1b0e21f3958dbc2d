"""Cross-signing at the Matrix paths: device_signing/upload with Kaari's re-auth, signature
uploads merged into queries, the user-signing key and its signatures kept to their owner."""

from __future__ import annotations

from typing import Any

from conftest import World
from litestar.testing import TestClient
from mx_support import V3, CrossSigningSet, MxDevice, counts
from support import PASSWORD

from app.config import Settings
from crypto.signing import verify_signed_json


def query(client: TestClient[Any], asker: MxDevice, *users: str) -> dict[str, Any]:
    body = {"device_keys": {u: [] for u in users}}
    r = client.post(f"{V3}/keys/query", json=body, headers=asker.headers)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_first_upload_needs_no_password_a_replacement_does(
    client: TestClient[Any], world: World, settings: Settings
) -> None:
    g = MxDevice(world.guardian)
    keys = CrossSigningSet(g.user)
    path = f"{V3}/keys/device_signing/upload"
    # a self-signing key not signed by the master key
    bad = keys.upload_body()
    bad["self_signing_key"] = keys.self_signing.key_object()
    r = client.post(path, json=bad, headers=g.headers)
    assert r.status_code == 400
    assert r.json()["errcode"] == "M_INVALID_SIGNATURE"
    other = CrossSigningSet(MxDevice(world.guardian2).user)
    r = client.post(path, json=other.upload_body(), headers=g.headers)
    assert r.status_code == 403
    assert counts(settings)["mx_cross_signing_keys"] == 0
    assert client.post(path, json=keys.upload_body(), headers=g.headers).json() == {}
    assert client.post(path, json=keys.upload_body(), headers=g.headers).json() == {}  # a retry
    new = CrossSigningSet(g.user)
    r = client.post(path, json=new.upload_body(), headers=g.headers)
    assert r.status_code == 401
    body = r.json()
    assert body["flows"] == [{"stages": ["m.login.password"]}]
    assert body["session"]
    assert body["code"] == "reauth_required"
    wrong = {**new.upload_body(), "auth": {"type": "m.login.password", "password": "nope"}}
    r = client.post(path, json=wrong, headers=g.headers)
    assert r.status_code == 401
    assert r.json()["errcode"] == "M_FORBIDDEN"
    out = query(client, g, g.user)
    assert out["master_keys"][g.user]["keys"] == {keys.master.key_id: keys.master.public}
    right = {**new.upload_body(), "auth": {"type": "m.login.password", "password": PASSWORD}}
    assert client.post(path, json=right, headers=g.headers).json() == {}
    out = query(client, g, g.user)
    assert out["master_keys"][g.user]["keys"] == {new.master.key_id: new.master.public}


def test_signatures_are_checked_merged_and_kept_to_whom_they_belong(
    client: TestClient[Any], world: World
) -> None:
    g, t = MxDevice(world.guardian), MxDevice(world.therapist)
    g.upload(client)
    t.upload(client)
    gk, tk = CrossSigningSet(g.user), CrossSigningSet(t.user)
    for d, k in ((g, gk), (t, tk)):
        r = client.post(f"{V3}/keys/device_signing/upload", json=k.upload_body(), headers=d.headers)
        assert r.status_code == 200, r.text
    # the guardian's self-signing key signs the guardian's device
    signed_device = gk.self_signing.sign(g.device_keys())
    # the therapist's user-signing key signs the guardian's master key (verification)
    signed_master = tk.user_signing.sign(gk.master.key_object())
    forged = gk.self_signing.sign(g.device_keys())
    forged["signatures"][g.user][gk.self_signing.key_id] = signed_master["signatures"][t.user][
        tk.user_signing.key_id
    ]
    r = client.post(
        f"{V3}/keys/signatures/upload", json={g.user: {g.device: forged}}, headers=g.headers
    )
    assert r.json()["failures"][g.user][g.device]["errcode"] == "M_INVALID_SIGNATURE"
    r = client.post(
        f"{V3}/keys/signatures/upload",
        json={g.user: {g.device: signed_device}},
        headers=g.headers,
    )
    assert r.json() == {"failures": {}}
    r = client.post(
        f"{V3}/keys/signatures/upload",
        json={g.user: {gk.master.public: signed_master}},
        headers=t.headers,
    )
    assert r.json() == {"failures": {}}
    # anyone of the case sees the device cross-signed
    for asker in (g, t):
        out = query(client, asker, g.user, t.user)
        device = out["device_keys"][g.user][g.device]
        verify_signed_json(device, g.user, gk.self_signing.key_id, gk.self_signing.public)
        verify_signed_json(device, g.user, f"ed25519:{g.device}", g.account.ed25519)
        assert set(out["self_signing_keys"]) == {g.user, t.user}
        # the user-signing key only to its owner
        assert set(out["user_signing_keys"]) == {asker.user}
    # the therapist's signature on the guardian's master key: for the therapist only
    theirs = query(client, t, g.user)["master_keys"][g.user]["signatures"]
    assert tk.user_signing.key_id in theirs[t.user]
    mine = query(client, g, g.user)["master_keys"][g.user].get("signatures", {})
    assert t.user not in mine
    # a signature over an object that differs from the stored key is refused
    changed = dict(gk.master.key_object())
    changed["usage"] = ["master", "x"]
    r = client.post(
        f"{V3}/keys/signatures/upload",
        json={g.user: {gk.master.public: tk.user_signing.sign(changed)}},
        headers=t.headers,
    )
    assert r.json()["failures"][g.user][gk.master.public]["errcode"] == "M_INVALID_PARAM"
