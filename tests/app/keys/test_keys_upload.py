"""Key upload and count: only the device's own, verified keys; identity keys are fixed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import World
from keys_support import audit_rows, full_upload, make_device, row_counts, upload_device
from litestar.testing import TestClient
from support import assert_problem, login

from app.config import Settings
from crypto.olm import OlmAccount

ENDPOINTS = [
    ("post", "/keys/upload", {}),
    ("get", "/keys/count", None),
    ("post", "/keys/claim", {"devices": []}),
    ("post", "/keys/query", {"userIds": []}),
    ("put", "/keys/master", {}),
    ("post", "/keys/signatures", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_every_key_endpoint_needs_a_token(
    client: TestClient[Any], method: str, path: str, body: Any
) -> None:
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    r = getattr(client, method)(path, **kwargs)
    assert_problem(r, 401, "unauthenticated")
    r = getattr(client, method)(path, headers={"authorization": "Bearer nope"}, **kwargs)
    assert_problem(r, 401, "session_invalid")


def test_upload_then_count(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path
) -> None:
    g = world.guardian
    r = client.get("/keys/count", headers=g.headers)
    assert r.status_code == 200
    assert r.json() == {"oneTimeKeyCount": 0, "fallbackKey": False, "fallbackKeyUsed": False}
    device = make_device(tmp_path, g)
    assert upload_device(client, g, device) == {
        "oneTimeKeyCount": 50,
        "fallbackKey": True,
        "fallbackKeyUsed": False,
    }
    assert client.get("/keys/count", headers=g.headers).json()["oneTimeKeyCount"] == 50
    # topping up: the device asks for the count and uploads only what is missing
    assert device.one_time_keys_to_upload(50) == {}
    counts = row_counts(settings)
    assert counts["device_keys"] == 1
    assert counts["one_time_keys"] == 50
    assert counts["fallback_keys"] == 1
    # audit: ids and counts, no key material
    (event,) = audit_rows(settings)
    assert event.action == "keys.uploaded"
    assert event.target_id == str(g.device_id)
    assert event.details == {
        "deviceKeys": True,
        "crossSigned": False,
        "oneTimeKeys": 50,
        "fallbackKey": True,
    }
    assert device.curve25519 not in json.dumps(event.details)


def test_a_retried_upload_is_accepted_and_changes_nothing(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path
) -> None:
    g = world.guardian
    device = make_device(tmp_path, g)
    body = full_upload(device)
    for _ in range(3):
        r = client.post("/keys/upload", json=body, headers=g.headers)
        assert r.status_code == 200, r.text
        assert r.json()["oneTimeKeyCount"] == 50
    assert row_counts(settings)["one_time_keys"] == 50
    assert len(audit_rows(settings)) == 1
    # the bundle alone, again: fine
    r = client.post("/keys/upload", json={"deviceKeys": body["deviceKeys"]}, headers=g.headers)
    assert r.status_code == 200, r.text


def test_one_time_keys_need_the_device_keys_first(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path
) -> None:
    g = world.guardian
    device = make_device(tmp_path, g)
    r = client.post(
        "/keys/upload",
        json={"oneTimeKeys": device.one_time_keys_to_upload(0)},
        headers=g.headers,
    )
    assert_problem(r, 422, "device_keys_missing")
    assert sum(row_counts(settings).values()) == 0


def test_a_device_uploads_only_its_own_bundle(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path
) -> None:
    g, g2 = world.guardian, world.guardian2
    other = make_device(tmp_path, g2)
    r = client.post("/keys/upload", json=full_upload(other), headers=g.headers)
    assert_problem(r, 403, "wrong_device")
    # same user, another of its devices
    tablet = login(client, g.email or "", device="tablet")
    r = client.post(
        "/keys/upload", json=full_upload(make_device(tmp_path, tablet)), headers=g.headers
    )
    assert_problem(r, 403, "wrong_device")
    assert sum(row_counts(settings).values()) == 0


def test_bad_signatures_and_malformed_bundles_are_refused(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path
) -> None:
    g = world.guardian
    device = make_device(tmp_path, g)
    good = full_upload(device)
    user, dev = str(g.user_id), str(g.device_id)

    forged = copy.deepcopy(good)
    forged["deviceKeys"]["keys"][f"curve25519:{dev}"] = OlmAccount.create(user, dev).curve25519
    r = client.post("/keys/upload", json=forged, headers=g.headers)
    assert_problem(r, 422, "bad_signature")

    wrong_algos = copy.deepcopy(good)
    wrong_algos["deviceKeys"]["algorithms"] = ["m.olm.v1"]
    r = client.post("/keys/upload", json=wrong_algos, headers=g.headers)
    assert_problem(r, 422, "invalid_bundle")

    bad_key = copy.deepcopy(good)
    bad_key["deviceKeys"]["keys"][f"ed25519:{dev}"] = "not base64!"
    r = client.post("/keys/upload", json=bad_key, headers=g.headers)
    assert_problem(r, 422, "invalid_bundle")

    # a one-time key signed by someone else: the whole upload is refused
    stranger = OlmAccount.create(user, dev)
    stranger.generate_one_time_keys(1)
    bad_otk = copy.deepcopy(good)
    bad_otk["oneTimeKeys"].update(
        {k.replace(":", ":Z", 1): v for k, v in stranger.unpublished_one_time_keys().items()}
    )
    r = client.post("/keys/upload", json=bad_otk, headers=g.headers)
    assert_problem(r, 422, "bad_signature")

    # a fallback key under oneTimeKeys, and a one-time key under fallbackKeys
    swapped = copy.deepcopy(good)
    swapped["oneTimeKeys"], swapped["fallbackKeys"] = (
        good["fallbackKeys"],
        dict(list(good["oneTimeKeys"].items())[:1]),
    )
    r = client.post("/keys/upload", json=swapped, headers=g.headers)
    assert_problem(r, 422, "invalid_key")

    bad_id = copy.deepcopy(good)
    key_id, obj = next(iter(good["oneTimeKeys"].items()))
    bad_id["oneTimeKeys"] = {"curve25519:" + key_id.split(":")[1]: obj}
    r = client.post("/keys/upload", json=bad_id, headers=g.headers)
    assert_problem(r, 422, "invalid_key")

    assert sum(row_counts(settings).values()) == 0
    assert audit_rows(settings) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(extra=1),
        lambda b: b["deviceKeys"].update(unsigned={"x": 1}),
        lambda b: b["deviceKeys"].update(user_id="x" * 300),
        lambda b: b["deviceKeys"].update(signatures={}),
        lambda b: b.update(oneTimeKeys={f"signed_curve25519:K{i}": {} for i in range(101)}),
        lambda b: b.update(fallbackKeys={"a": {}, "b": {}}),
        lambda b: next(iter(b["oneTimeKeys"].values())).update(key="A" * 65),
        lambda b: b.update(deviceKeys=[]),
    ],
)
def test_bad_input_is_a_validation_error_and_stores_nothing(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path, mutate: Any
) -> None:
    g = world.guardian
    body = full_upload(make_device(tmp_path, g))
    mutate(body)
    r = client.post("/keys/upload", json=body, headers=g.headers)
    assert_problem(r, 422, "validation_error")
    assert sum(row_counts(settings).values()) == 0


def test_identity_keys_are_fixed_once_uploaded(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path
) -> None:
    g = world.guardian
    upload_device(client, g, make_device(tmp_path, g, "first"))
    before = row_counts(settings)
    again = make_device(tmp_path, g, "second")  # same ids, new keys
    r = client.post("/keys/upload", json=full_upload(again), headers=g.headers)
    assert_problem(r, 409, "device_keys_changed")
    assert row_counts(settings) == before


def test_a_key_id_keeps_its_key(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path
) -> None:
    g = world.guardian
    device = make_device(tmp_path, g)
    body = full_upload(device)
    first_id = sorted(body["oneTimeKeys"])[0]
    r = client.post(
        "/keys/upload",
        json={
            "deviceKeys": body["deviceKeys"],
            "oneTimeKeys": {first_id: body["oneTimeKeys"][first_id]},
        },
        headers=g.headers,
    )
    assert r.status_code == 200, r.text
    # the same id with another (validly signed) key of this device: 409, and nothing of it stored
    other_keys = list(body["oneTimeKeys"].values())
    clash = {first_id: other_keys[1], sorted(body["oneTimeKeys"])[2]: other_keys[2]}
    r = client.post("/keys/upload", json={"oneTimeKeys": clash}, headers=g.headers)
    assert_problem(r, 409, "one_time_key_conflict")
    assert client.get("/keys/count", headers=g.headers).json()["oneTimeKeyCount"] == 1

    # fallback: same id, other key -> 409; a new id rotates it
    fb_id = next(iter(body["fallbackKeys"]))
    r = client.post("/keys/upload", json={"fallbackKeys": body["fallbackKeys"]}, headers=g.headers)
    assert r.status_code == 200, r.text
    assert r.json()["fallbackKey"] is True
    rotated = device.rotate_fallback_key()
    ((new_id, new_obj),) = rotated.items()
    assert new_id != fb_id
    r = client.post("/keys/upload", json={"fallbackKeys": {fb_id: new_obj}}, headers=g.headers)
    assert_problem(r, 409, "fallback_key_conflict")
    r = client.post("/keys/upload", json={"fallbackKeys": rotated}, headers=g.headers)
    assert r.status_code == 200, r.text
    assert row_counts(settings)["fallback_keys"] == 1


def test_a_device_cannot_hoard_one_time_keys(
    client: TestClient[Any], settings: Settings, world: World, tmp_path: Path
) -> None:
    g = world.guardian
    account = OlmAccount.create(str(g.user_id), str(g.device_id))
    r = client.post(
        "/keys/upload", json={"deviceKeys": account.signed_device_bundle()}, headers=g.headers
    )
    assert r.status_code == 200, r.text
    for _ in range(2):
        account.generate_one_time_keys(100)
        r = client.post(
            "/keys/upload",
            json={"oneTimeKeys": account.unpublished_one_time_keys()},
            headers=g.headers,
        )
        assert r.status_code == 200, r.text
        account.mark_keys_as_published()
    account.generate_one_time_keys(1)
    r = client.post(
        "/keys/upload", json={"oneTimeKeys": account.unpublished_one_time_keys()}, headers=g.headers
    )
    assert_problem(r, 422, "too_many_one_time_keys")
    assert client.get("/keys/count", headers=g.headers).json()["oneTimeKeyCount"] == 200
