"""Key backup at the Matrix paths: versions, keys written to the current version only
(403 M_WRONG_ROOM_KEYS_VERSION otherwise), the better key kept, each user's own."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from conftest import World
from litestar.testing import TestClient
from mx_support import V3, counts
from support import Session

from app.config import Settings

ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
ROOM = "!room:localhost"


def key(index: int, verified: bool = False, forwarded: int = 0) -> dict[str, Any]:
    return {
        "first_message_index": index,
        "forwarded_count": forwarded,
        "is_verified": verified,
        "session_data": {"ephemeral": "e", "ciphertext": f"c{index}", "mac": "m"},
    }


def new_version(client: Any, s: Session) -> str:
    r = client.post(
        f"{V3}/room_keys/version",
        json={"algorithm": ALGORITHM, "auth_data": {"public_key": "pk"}},
        headers=s.headers,
    )
    assert r.status_code == 200, r.text
    version: str = r.json()["version"]
    return version


def test_backup_routes_need_a_token(client: TestClient[Any]) -> None:
    for method, path in (
        ("POST", "/room_keys/version"),
        ("GET", "/room_keys/version"),
        ("GET", "/room_keys/keys?version=1"),
        ("PUT", "/room_keys/keys?version=1"),
        ("DELETE", "/room_keys/version/1"),
    ):
        r = client.request(method, V3 + path, json={})
        assert r.status_code == 401, path
        assert r.json()["errcode"] == "M_MISSING_TOKEN"


def test_versions_and_keys(client: TestClient[Any], world: World, settings: Settings) -> None:
    g, g2 = world.guardian, world.guardian2
    r = client.get(f"{V3}/room_keys/version", headers=g.headers)
    assert r.status_code == 404
    assert r.json()["errcode"] == "M_NOT_FOUND"
    r = client.post(
        f"{V3}/room_keys/version", json={"algorithm": "x", "auth_data": {}}, headers=g.headers
    )
    assert r.status_code == 400
    v1 = new_version(client, g)
    info = client.get(f"{V3}/room_keys/version", headers=g.headers).json()
    assert info == {
        "algorithm": ALGORITHM,
        "auth_data": {"public_key": "pk"},
        "count": 0,
        "etag": "0",
        "version": v1,
    }
    body = {"rooms": {ROOM: {"sessions": {"s1": key(5), "s2": key(0)}}}}
    r = client.put(f"{V3}/room_keys/keys", params={"version": v1}, json=body, headers=g.headers)
    assert r.json() == {"count": 2, "etag": "1"}
    # a worse key does not replace a better one; a better one does
    one = f"{V3}/room_keys/keys/{quote(ROOM)}/s1"
    r = client.put(one, params={"version": v1}, json=key(9), headers=g.headers)
    assert r.json() == {"count": 2, "etag": "1"}
    r = client.put(one, params={"version": v1}, json=key(7, verified=True), headers=g.headers)
    assert r.json() == {"count": 2, "etag": "2"}
    assert client.get(one, params={"version": v1}, headers=g.headers).json() == key(7, True)
    r = client.get(f"{V3}/room_keys/keys", params={"version": v1}, headers=g.headers)
    assert set(r.json()["rooms"][ROOM]["sessions"]) == {"s1", "s2"}
    r = client.get(
        f"{V3}/room_keys/keys/{quote('!other:localhost')}",
        params={"version": v1},
        headers=g.headers,
    )
    assert r.json() == {"sessions": {}}
    # another user sees none of it
    r = client.get(f"{V3}/room_keys/keys", params={"version": v1}, headers=g2.headers)
    assert r.status_code == 404
    r = client.put(f"{V3}/room_keys/keys", params={"version": v1}, json=body, headers=g2.headers)
    assert r.status_code == 404
    # a new version: the old one is stale for writes
    v2 = new_version(client, g)
    before = counts(settings)
    r = client.put(f"{V3}/room_keys/keys", params={"version": v1}, json=body, headers=g.headers)
    assert r.status_code == 403
    assert r.json()["errcode"] == "M_WRONG_ROOM_KEYS_VERSION"
    assert r.json()["current_version"] == v2
    bad = {"rooms": {ROOM: {"sessions": {"s": {"first_message_index": -1}}}}}
    r = client.put(f"{V3}/room_keys/keys", params={"version": v2}, json=bad, headers=g.headers)
    assert r.status_code == 422
    assert counts(settings) == before
    # auth_data may change, the algorithm not
    path = f"{V3}/room_keys/version/{v2}"
    r = client.put(path, json={"algorithm": ALGORITHM, "auth_data": {"a": 1}}, headers=g.headers)
    assert r.json() == {}
    r = client.put(path, json={"algorithm": "x", "auth_data": {}}, headers=g.headers)
    assert r.status_code == 400
    # deleting
    r = client.delete(one, params={"version": v1}, headers=g.headers)
    assert r.json() == {"count": 1, "etag": "3"}
    assert client.delete(f"{V3}/room_keys/version/{v2}", headers=g.headers).json() == {}
    assert client.delete(f"{V3}/room_keys/version/{v2}", headers=g.headers).json() == {}
    assert client.get(f"{V3}/room_keys/version", headers=g.headers).json()["version"] == v1
    assert client.delete(f"{V3}/room_keys/version/99", headers=g.headers).status_code == 404
