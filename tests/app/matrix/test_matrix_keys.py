"""The key directory at the Matrix paths: whoami, keys/upload, keys/query, keys/claim."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import World, build_world
from litestar.testing import AsyncTestClient, TestClient
from mx_support import V3, MxDevice, counts, mxid
from support import run

from app.config import Settings
from app.main import create_app
from crypto.signing import verify_signed_json


def claim_body(*devices: MxDevice) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in devices:
        out.setdefault(d.user, {})[d.device] = "signed_curve25519"
    return {"one_time_keys": out}


def test_every_endpoint_needs_a_token_and_answers_matrix_errors(client: TestClient[Any]) -> None:
    for method, path in (
        ("GET", "/account/whoami"),
        ("POST", "/keys/upload"),
        ("POST", "/keys/query"),
        ("POST", "/keys/claim"),
        ("POST", "/keys/device_signing/upload"),
        ("POST", "/keys/signatures/upload"),
    ):
        r = client.request(method, V3 + path, json={})
        assert r.status_code == 401, path
        body = r.json()
        assert body["errcode"] == "M_MISSING_TOKEN"
        assert body["code"] == "unauthenticated"
        assert body["error"]
        r = client.request(method, V3 + path, json={}, headers={"authorization": "Bearer nope"})
        assert r.status_code == 401
        assert r.json()["errcode"] == "M_UNKNOWN_TOKEN"


def test_whoami_and_the_matrix_user_id_on_login_and_me(
    client: TestClient[Any], world: World
) -> None:
    g = world.guardian
    r = client.get(f"{V3}/account/whoami", headers=g.headers)
    assert r.status_code == 200
    assert r.json() == {
        "user_id": mxid(g.user_id),
        "device_id": str(g.device_id),
        "is_guest": False,
    }
    assert client.get("/me", headers=g.headers).json()["matrixUserId"] == mxid(g.user_id)


def test_upload_checks_signatures_and_counts_keys(
    client: TestClient[Any], world: World, settings: Settings
) -> None:
    d = MxDevice(world.guardian)
    before = counts(settings)
    # one-time keys before the device keys
    r = client.post(
        f"{V3}/keys/upload", json={"one_time_keys": d.one_time_keys(2)}, headers=d.headers
    )
    assert r.status_code == 400
    assert r.json()["code"] == "device_keys_missing"
    d.account.mark_keys_as_published()  # (those two were refused: never on the server)
    # a bad signature on the device keys
    bad = d.device_keys()
    bad["algorithms"] = ["m.olm.v1.curve25519-aes-sha2"]  # changed after signing
    r = client.post(f"{V3}/keys/upload", json={"device_keys": bad}, headers=d.headers)
    assert r.status_code == 400
    assert r.json()["errcode"] == "M_INVALID_SIGNATURE"
    # another device's keys
    other = MxDevice(world.guardian2)
    r = client.post(
        f"{V3}/keys/upload", json={"device_keys": other.device_keys()}, headers=d.headers
    )
    assert r.status_code == 403
    assert r.json()["errcode"] == "M_FORBIDDEN"
    # an unsigned curve25519 one-time key is not accepted
    r = client.post(
        f"{V3}/keys/upload",
        json={"device_keys": d.device_keys(), "one_time_keys": {"curve25519:AAAA": "x" * 43}},
        headers=d.headers,
    )
    assert r.status_code == 400
    assert counts(settings) == before
    assert d.upload(client, 5) == {"one_time_key_counts": {"signed_curve25519": 5}}
    # a one-time key signed by someone else
    forged = other.one_time_keys(1)
    r = client.post(f"{V3}/keys/upload", json={"one_time_keys": forged}, headers=d.headers)
    assert r.status_code == 400
    assert r.json()["errcode"] == "M_INVALID_SIGNATURE"
    # the same device keys again are harmless; new keys add up; other keys are refused
    r = client.post(
        f"{V3}/keys/upload",
        json={"device_keys": d.device_keys(), "one_time_keys": d.one_time_keys(3)},
        headers=d.headers,
    )
    assert r.json() == {"one_time_key_counts": {"signed_curve25519": 8}}
    d.account.mark_keys_as_published()
    r = client.post(
        f"{V3}/keys/upload", json={"device_keys": other.device_keys()}, headers=other.headers
    )
    assert r.status_code == 200
    stranger = MxDevice(world.guardian)  # a new account under the same device id
    r = client.post(
        f"{V3}/keys/upload", json={"device_keys": stranger.device_keys()}, headers=d.headers
    )
    assert r.status_code == 409
    assert r.json()["code"] == "device_keys_changed"
    r = client.post(f"{V3}/keys/upload", json={}, headers=d.headers)
    assert r.json() == {"one_time_key_counts": {"signed_curve25519": 8}}


def test_query_shows_only_case_members_and_names_only_to_the_owner(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    g, t, x = MxDevice(world.guardian), MxDevice(world.therapist), MxDevice(other_world.guardian)
    for d in (g, t, x):
        d.upload(client, 1)
    body = {"device_keys": {g.user: [], t.user: [t.device], x.user: [], "@nobody:else": []}}
    r = client.post(f"{V3}/keys/query", json=body, headers=g.headers)
    assert r.status_code == 200
    out = r.json()
    assert set(out["device_keys"]) == {g.user, t.user}
    mine = out["device_keys"][g.user][g.device]
    assert set(mine["unsigned"]) == {"device_display_name"}
    theirs = out["device_keys"][t.user][t.device]
    assert "unsigned" not in theirs
    verify_signed_json(theirs, t.user, f"ed25519:{t.device}", t.account.ed25519)
    assert out["failures"] == {}
    # the foreign user asking about the case's users learns nothing
    r = client.post(f"{V3}/keys/query", json=body, headers=x.headers)
    assert set(r.json()["device_keys"]) == {x.user}
    # a device filter that names no device gives an empty map
    r = client.post(f"{V3}/keys/query", json={"device_keys": {t.user: ["nope"]}}, headers=g.headers)
    assert r.json()["device_keys"] == {t.user: {}}
    r = client.post(f"{V3}/keys/query", json={"device_keys": "x"}, headers=g.headers)
    assert r.status_code == 422
    assert r.json()["errcode"] == "M_BAD_JSON"


def test_claims_hand_out_each_key_once_then_the_fallback_key(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    g, t, x = MxDevice(world.guardian), MxDevice(world.therapist), MxDevice(other_world.guardian)
    g.upload(client, 2)
    x.upload(client, 2)
    seen = set()
    for _ in range(2):
        r = client.post(f"{V3}/keys/claim", json=claim_body(g), headers=t.headers)
        assert r.status_code == 200
        ((key_id, obj),) = r.json()["one_time_keys"][g.user][g.device].items()
        assert key_id.startswith("signed_curve25519:")
        assert "fallback" not in obj
        verify_signed_json(obj, g.user, f"ed25519:{g.device}", g.account.ed25519)
        seen.add(obj["key"])
    assert len(seen) == 2
    r = client.post(f"{V3}/keys/upload", json={}, headers=g.headers)
    assert r.json() == {"one_time_key_counts": {"signed_curve25519": 0}}
    fallbacks = []
    for _ in range(2):
        r = client.post(f"{V3}/keys/claim", json=claim_body(g), headers=t.headers)
        ((_, obj),) = r.json()["one_time_keys"][g.user][g.device].items()
        assert obj["fallback"] is True
        fallbacks.append(obj)
    assert fallbacks[0] == fallbacks[1]  # not deleted: the same key until the device rotates
    # a foreign device is left out, and so is a device of the wrong user
    body = claim_body(x)
    body["one_time_keys"][g.user] = {t.device: "signed_curve25519"}
    r = client.post(f"{V3}/keys/claim", json=body, headers=t.headers)
    assert r.json() == {"one_time_keys": {}, "failures": {}}
    r = client.post(f"{V3}/keys/upload", json={}, headers=x.headers)
    assert r.json() == {"one_time_key_counts": {"signed_curve25519": 2}}


def test_concurrent_claims_never_hand_out_a_key_twice(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        world = build_world(client, settings, prefix="c")
        target = MxDevice(world.guardian)
        target.upload(client, 20)
        claimers = [world.therapist, world.guardian2]

    async def race() -> list[Any]:
        async with AsyncTestClient(create_app(settings)) as ac:
            return await asyncio.gather(
                *(
                    ac.post(
                        f"{V3}/keys/claim",
                        json=claim_body(target),
                        headers=claimers[n % 2].headers,
                    )
                    for n in range(40)
                )
            )

    results = run(race())
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    got = [r.json()["one_time_keys"][target.user][target.device] for r in results]
    keys = [next(iter(k.values())) for k in got]
    one_time = [k["key"] for k in keys if not k.get("fallback")]
    fallback = [k["key"] for k in keys if k.get("fallback")]
    assert len(one_time) == 20
    assert len(set(one_time)) == 20
    assert len(fallback) == 20
    assert len(set(fallback)) == 1
