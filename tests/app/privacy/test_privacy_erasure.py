"""DELETE /me: a guardian erases their account. What they held is gone from the database
file (SQLite) or the dump (PostgreSQL) and the blob store; what stays is pseudonymised;
the other members see them leave and stop encrypting to them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from conftest import World
from litestar.testing import TestClient
from privacy_support import send_event
from servers import postgres_dump
from support import PASSWORD, assert_problem, login

from app.config import Settings
from app.messaging.service import thread_id_of
from client.matrix import MatrixClient, MatrixHttp

V3 = "/_matrix/client/v3"


def erase(client: Any, headers: dict[str, str], password: str | None = PASSWORD) -> Any:
    body = {} if password is None else {"password": password}
    return client.request("DELETE", "/me", json=body, headers=headers)


def stored(settings: Settings, tmp_path: Path) -> bytes:
    """What the server keeps: the database (file and log, or a dump) and the blobs."""
    if settings.database_url.startswith("postgresql"):
        parts = [postgres_dump(settings.database_url).encode()]
    else:
        parts = []
    skip = tmp_path / "devices"
    for path in tmp_path.rglob("*"):
        if path.is_file() and skip not in path.parents:
            parts.append(path.read_bytes())
    return b"\n".join(parts)


def test_a_guardian_erases_their_account(
    client: TestClient[Any], world: World, settings: Settings, tmp_path: Path
) -> None:
    mikko, terhi = world.guardian2, world.therapist
    r = client.patch("/me", json={"displayName": "Mikko Virtanen"}, headers=mikko.headers)
    assert r.status_code == 200, r.text
    assert mikko.email is not None
    phone = login(client, mikko.email, device="Mikon puhelin")
    devices = tmp_path / "devices"
    m = MatrixClient.open(MatrixHttp(client, phone.token), devices / "m", os.urandom(32))
    t = MatrixClient.open(MatrixHttp(client, terhi.token), devices / "t", os.urandom(32))
    m.bootstrap_cross_signing()
    m.create_backup()
    t.sync()
    family = f"!{thread_id_of(world.case_id, 'family')}:localhost"
    event_id = m.send_text(family, "Eino on kipeä")
    r = client.get(f"{V3}/rooms/{quote(family)}/messages", headers=terhi.headers)
    (event,) = [e for e in r.json()["chunk"] if e["event_id"] == event_id]
    ciphertext = event["content"]["ciphertext"]
    identity_key = m.device.account.curve25519
    blob = os.urandom(1000) + b"MIKKO-BLOB-MARKER"
    thread = thread_id_of(world.case_id, "family")
    r = client.post(
        f"/threads/{thread}/attachments",
        content=blob,
        headers={**phone.headers, "content-type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    t.sync()
    assert t.texts(family) == ["Eino on kipeä"]

    # refused: a therapist, a wrong password, no password; nothing is erased by them
    assert_problem(erase(client, terhi.headers), 403, "erasure_not_allowed")
    assert_problem(erase(client, world.admin.headers), 403, "erasure_not_allowed")
    assert_problem(erase(client, phone.headers, "wrong password"), 401, "invalid_credentials")
    assert erase(client, phone.headers, None).status_code in (400, 422)
    assert erase(client, {}).status_code == 401
    assert client.get("/me", headers=phone.headers).status_code == 200

    r = erase(client, phone.headers)
    assert r.status_code == 204, r.text

    # signed out everywhere, and the address no longer signs in
    for session in (phone, mikko):
        assert client.get("/me", headers=session.headers).status_code == 401
    r = client.post(
        "/auth/login",
        json={"email": mikko.email, "password": PASSWORD, "device": {"name": "x"}},
    )
    assert r.status_code == 401
    # the others see him leave; his keys and messages are gone from the server
    r = client.get(f"/cases/{world.case_id}/members", headers=terhi.headers)
    assert str(mikko.user_id) not in [x["userId"] for x in r.json()]
    r = client.get(f"{V3}/rooms/{quote(family)}/joined_members", headers=terhi.headers)
    assert m.user_id not in r.json()["joined"]
    r = client.post(
        f"{V3}/keys/query", json={"device_keys": {m.user_id: []}}, headers=terhi.headers
    )
    assert r.json()["device_keys"].get(m.user_id, {}) == {}
    r = client.get(f"{V3}/rooms/{quote(family)}/messages", headers=terhi.headers)
    chunk = r.json()["chunk"]
    assert event_id not in [e["event_id"] for e in chunk]
    leaves = [
        e
        for e in chunk
        if e["type"] == "m.room.member"
        and e.get("state_key") == m.user_id
        and e["content"].get("membership") == "leave"
    ]
    assert len(leaves) == 1
    t.sync()  # the therapist's device drops his devices: nothing more is encrypted to them
    assert t.device.directory.user_devices(m.user_id) == []
    # the erasure is in the audit trail, by the pseudonymous id only
    r = client.get("/org/audit", headers=world.admin.headers)
    assert r.status_code == 200, r.text
    assert "account.erased" in r.text

    # nothing of him remains where the server keeps data
    everything = stored(settings, tmp_path)
    for left in (
        mikko.email.encode(),
        b"Mikko Virtanen",
        b"Mikon puhelin",
        ciphertext.encode(),
        identity_key.encode(),
        b"MIKKO-BLOB-MARKER",
    ):
        assert left not in everything, left
    m.close()
    t.close()


def test_an_admin_erases_a_closed_case(
    client: TestClient[Any], world: World, settings: Settings, tmp_path: Path
) -> None:
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post(
        "/auth/pair", json={"code": r.json()["code"], "device": {"name": "Einon tabletti"}}
    )
    assert r.status_code == 200, r.text
    child_headers = {"authorization": f"Bearer {r.json()['token']}"}
    child_room = f"!{thread_id_of(world.case_id, 'child')}:localhost"
    family = f"!{thread_id_of(world.case_id, 'family')}:localhost"
    send_event(client, child_headers, child_room, "c1", "AwgCHILDCASEMARKER")
    send_event(client, world.therapist.headers, family, "t1", "AwgFAMILYCASEMARKER")
    r = client.post(
        f"/threads/{thread_id_of(world.case_id, 'family')}/attachments",
        content=b"CASE-BLOB-MARKER" * 10,
        headers={**world.guardian.headers, "content-type": "application/octet-stream"},
    )
    assert r.status_code == 201, r.text
    path = f"/org/cases/{world.case_id}"

    # refused: not closed yet, the wrong role, an unknown case
    assert_problem(client.delete(path, headers=world.admin.headers), 409, "case_not_closed")
    assert_problem(client.delete(path, headers=world.therapist.headers), 403, "erasure_not_allowed")
    assert_problem(client.delete(path, headers=world.guardian.headers), 403, "erasure_not_allowed")
    r = client.delete(f"/org/cases/{os.urandom(16).hex()[:8]}-0000-4000-8000-000000000000",
                      headers=world.admin.headers)  # fmt: skip
    assert_problem(r, 404, "case_not_found")
    assert client.delete("/org/cases/not-a-uuid", headers=world.admin.headers).status_code in (
        400,
        404,
    )
    assert client.delete(path).status_code == 401
    r = client.post(f"/org/cases/{world.case_id}/close", headers=world.admin.headers)
    assert r.status_code == 204, r.text

    r = client.delete(path, headers=world.admin.headers)
    assert r.status_code == 204, r.text

    # the child's tablet is signed out; the family no longer has the case or its rooms
    assert client.get("/me", headers=child_headers).status_code == 401
    r = client.get("/cases", headers=world.guardian.headers)
    assert str(world.case_id) not in [c["id"] for c in r.json()]
    r = client.get(f"{V3}/rooms/{quote(family)}/messages", headers=world.guardian.headers)
    assert r.status_code == 404
    r = client.get("/org/audit", headers=world.admin.headers)
    assert "case.erased" in r.text
    # nothing of the case's content or the child's devices is left
    everything = stored(settings, tmp_path)
    for left in (b"AwgCHILDCASEMARKER", b"AwgFAMILYCASEMARKER", b"CASE-BLOB-MARKER",
                 b"Einon tabletti"):  # fmt: skip
        assert left not in everything, left
