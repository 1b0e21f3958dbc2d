"""Claiming one-time keys: each at most once, then the fallback key; only reachable devices."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from conftest import World
from keys_support import make_device, row_counts, upload_device
from litestar.testing import AsyncTestClient, TestClient
from support import Session, assert_problem, login, run

from app.config import Settings
from app.main import create_app
from crypto.identity import verify_device_bundle, verify_one_time_key
from crypto.olm import OlmAccount


def upload_account(
    client: Any, session: Session, one_time: int, *, fallback: bool = True
) -> OlmAccount:
    """Upload a bare Olm account's bundle, ``one_time`` one-time keys and a fallback key."""
    account = OlmAccount.create(str(session.user_id), str(session.device_id))
    account.generate_one_time_keys(one_time)
    body: dict[str, Any] = {
        "deviceKeys": account.signed_device_bundle(),
        "oneTimeKeys": account.unpublished_one_time_keys(),
    }
    if fallback:
        account.generate_fallback_key()
        body["fallbackKeys"] = account.unpublished_fallback_key()
    r = client.post("/keys/upload", json=body, headers=session.headers)
    assert r.status_code == 200, r.text
    account.mark_keys_as_published()
    return account


def claim(client: Any, session: Session, *devices: uuid.UUID) -> dict[str, Any]:
    r = client.post(
        "/keys/claim", json={"devices": [str(d) for d in devices]}, headers=session.headers
    )
    assert r.status_code == 200, r.text
    keys: dict[str, Any] = r.json()["oneTimeKeys"]
    return keys


def test_claims_hand_out_each_key_once_then_the_fallback_key(
    client: TestClient[Any], world: World
) -> None:
    g, t = world.guardian, world.therapist
    account = upload_account(client, g, 2)
    bundle = verify_device_bundle(account.signed_device_bundle())
    seen = set()
    for _ in range(2):
        got = claim(client, t, g.device_id)[str(g.device_id)]
        assert got["userId"] == str(g.user_id)
        assert got["fallback"] is False
        assert got["keyId"].startswith("signed_curve25519:")
        key = verify_one_time_key(
            got["key"], str(g.user_id), str(g.device_id), bundle.ed25519, fallback=False
        )
        seen.add(key)
    assert len(seen) == 2
    counts = client.get("/keys/count", headers=g.headers).json()
    assert counts == {"oneTimeKeyCount": 0, "fallbackKey": True, "fallbackKeyUsed": False}
    fallbacks = [claim(client, t, g.device_id)[str(g.device_id)] for _ in range(2)]
    for got in fallbacks:
        assert got["fallback"] is True
        assert got["key"]["fallback"] is True
        verify_one_time_key(
            got["key"], str(g.user_id), str(g.device_id), bundle.ed25519, fallback=True
        )
    assert fallbacks[0] == fallbacks[1]  # the same fallback key until the device rotates it
    counts = client.get("/keys/count", headers=g.headers).json()
    assert counts == {"oneTimeKeyCount": 0, "fallbackKey": True, "fallbackKeyUsed": True}
    # rotating clears the "used" mark
    account.generate_fallback_key()
    r = client.post(
        "/keys/upload",
        json={"fallbackKeys": account.unpublished_fallback_key()},
        headers=g.headers,
    )
    assert r.json()["fallbackKeyUsed"] is False
    assert claim(client, t, g.device_id)[str(g.device_id)]["key"] != fallbacks[0]["key"]


def test_a_claimed_key_uploaded_again_is_not_handed_out_again(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    g, t = world.guardian, world.therapist
    account = OlmAccount.create(str(g.user_id), str(g.device_id))
    account.generate_one_time_keys(1)
    body = {
        "deviceKeys": account.signed_device_bundle(),
        "oneTimeKeys": account.unpublished_one_time_keys(),
    }
    assert client.post("/keys/upload", json=body, headers=g.headers).status_code == 200
    assert len(claim(client, t, g.device_id)) == 1
    # the client retries its (already stored) upload after the key was claimed
    r = client.post("/keys/upload", json=body, headers=g.headers)
    assert r.status_code == 200, r.text
    assert r.json()["oneTimeKeyCount"] == 0
    assert claim(client, t, g.device_id) == {}  # no fallback key uploaded: absent


def test_one_claim_covers_several_devices_and_users(
    client: TestClient[Any], world: World, tmp_path: Path
) -> None:
    g, g2, t = world.guardian, world.guardian2, world.therapist
    tablet = login(client, g.email or "", device="tablet")
    for s in (g, g2, tablet):
        upload_device(client, s, make_device(tmp_path, s))
    got = claim(client, t, g.device_id, g2.device_id, tablet.device_id, g.device_id)
    assert set(got) == {str(g.device_id), str(g2.device_id), str(tablet.device_id)}
    assert got[str(tablet.device_id)]["userId"] == str(g.user_id)
    # a user's own other devices are reachable too
    assert set(claim(client, g, tablet.device_id)) == {str(tablet.device_id)}


def test_unreachable_devices_are_absent(
    client: TestClient[Any], settings: Settings, world: World, other_world: World, tmp_path: Path
) -> None:
    g, t = world.guardian, world.therapist
    foreign = other_world.guardian
    admin = world.admin  # same organisation, but in no case with the therapist
    tablet = login(client, g.email or "", device="tablet")
    for s in (g, foreign, admin, tablet):
        upload_account(client, s, 3)
    no_keys = world.guardian2  # has a device, never uploaded keys
    r = client.delete(f"/devices/{tablet.device_id}", headers=g.headers)
    assert r.status_code == 204, r.text
    before = row_counts(settings)
    got = claim(
        client,
        t,
        foreign.device_id,
        admin.device_id,
        tablet.device_id,
        no_keys.device_id,
        uuid.uuid4(),
        g.device_id,
    )
    assert set(got) == {str(g.device_id)}
    assert claim(client, foreign, g.device_id, t.device_id) == {}
    # nothing but the one reachable key was consumed
    for s, left in ((foreign, 3), (admin, 3)):
        assert client.get("/keys/count", headers=s.headers).json()["oneTimeKeyCount"] == left
    assert row_counts(settings) == before


def test_bad_claim_requests(client: TestClient[Any], world: World) -> None:
    t = world.therapist
    for body in (
        {},
        {"devices": []},
        {"devices": ["not-a-uuid"]},
        {"devices": [str(uuid.uuid4()) for _ in range(101)]},
        {"devices": [str(uuid.uuid4())], "userIds": []},
    ):
        r = client.post("/keys/claim", json=body, headers=t.headers)
        assert_problem(r, 422, "validation_error")


def test_concurrent_claims_never_hand_out_a_key_twice(settings: Settings) -> None:
    from conftest import build_world

    with TestClient(create_app(settings)) as client:
        world = build_world(client, settings, prefix="c")
        target = world.guardian
        upload_account(client, target, 20)
        claimers = [world.therapist, world.guardian2]

    async def race() -> list[Any]:
        async with AsyncTestClient(create_app(settings)) as ac:
            return await asyncio.gather(
                *(
                    ac.post(
                        "/keys/claim",
                        json={"devices": [str(target.device_id)]},
                        headers=claimers[n % 2].headers,
                    )
                    for n in range(50)
                )
            )

    results = run(race())
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    got = [r.json()["oneTimeKeys"][str(target.device_id)] for r in results]
    one_time = [k["key"]["key"] for k in got if not k["fallback"]]
    fallback = [k["key"]["key"] for k in got if k["fallback"]]
    assert len(one_time) == 20
    assert len(set(one_time)) == 20  # never the same one-time key twice
    assert len(fallback) == 30
    assert len(set(fallback)) == 1
    assert set(fallback).isdisjoint(one_time)
    with TestClient(create_app(settings)) as client:
        counts = client.get("/keys/count", headers=target.headers).json()
    assert counts == {"oneTimeKeyCount": 0, "fallbackKey": True, "fallbackKeyUsed": True}


def test_claims_are_rate_limited_per_device(
    client: Any, settings: Settings, world: World, tmp_path: Path
) -> None:
    from app.keys.service import CLAIMS_PER_MINUTE

    target = make_device(tmp_path, world.guardian)
    upload_device(client, world.guardian, target)
    body = {"devices": [str(world.guardian.device_id)]}
    for _ in range(CLAIMS_PER_MINUTE):
        r = client.post("/keys/claim", json=body, headers=world.therapist.headers)
        assert r.status_code == 200, r.text
    r = client.post("/keys/claim", json=body, headers=world.therapist.headers)
    problem = assert_problem(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) > 0
    assert problem["retryAfter"] > 0
    # another device of the same organisation is not affected
    r = client.post("/keys/claim", json=body, headers=world.guardian2.headers)
    assert r.status_code == 200, r.text
