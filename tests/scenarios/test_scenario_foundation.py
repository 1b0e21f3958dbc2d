"""A newcomer's whole onboarding against a real `kaari serve` process, on SQLite and on
PostgreSQL; afterwards no password, token, invite code or pairing code appears in the
logs or, in plaintext, anywhere in the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import KaariServer, fresh_postgres_database, postgres_dump

PASSWORDS = {
    "admin": "admin-Passw0rd-9f2c1",
    "therapist": "therapist-Passw0rd-7a1d",
    "guardian": "guardian-Passw0rd-3e8b",
    "new": "guardian-New-Passw0rd-55aa",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KaariServer]:
    env = {"KAARI_DATA_DIR": str(tmp_path / "data")}
    with fresh_postgres_database() if request.param == "postgresql" else _nothing() as url:
        if url:
            env["KAARI_DATABASE_URL"] = url
        srv = KaariServer(env, tmp_path / "server.log")
        try:
            yield srv
        finally:
            srv.stop()


class _nothing:
    def __enter__(self) -> str:
        return ""

    def __exit__(self, *exc: object) -> None:
        return None


def test_onboarding_leaves_no_secret_in_logs_or_database(
    server: KaariServer, tmp_path: Path
) -> None:
    org_id = server.cli("admin", "create-org", "--name", "Terapia Oy")
    server.cli(
        "admin",
        "create-user",
        "--org",
        org_id,
        "--email",
        "admin@example.fi",
        "--display-name",
        "Admin",
        "--password-stdin",
        stdin=PASSWORDS["admin"] + "\n",
    )
    server.start()
    secrets: list[str] = list(PASSWORDS.values())
    with httpx.Client(base_url=server.url, timeout=10) as http:

        def login(email: str, password: str) -> dict[str, str]:
            r = http.post(
                "/auth/login", json={"email": email, "password": password, "device": {"name": "d"}}
            )
            assert r.status_code == 200, r.text
            secrets.append(r.json()["token"])
            return {"authorization": "Bearer " + r.json()["token"]}

        admin = login("admin@example.fi", PASSWORDS["admin"])
        code = http.post("/org/invites", json={"role": "therapist"}, headers=admin).json()["code"]
        secrets.append(code)
        r = http.post(
            "/invites/accept",
            json={
                "code": code,
                "email": "t@example.fi",
                "password": PASSWORDS["therapist"],
                "displayName": "Terhi",
                "device": {"name": "laptop"},
            },
        )
        assert r.status_code == 201, r.text
        secrets.append(r.json()["token"])
        therapist = {"authorization": "Bearer " + r.json()["token"]}
        case_id = http.post("/cases", json={"childDisplayName": "Eino"}, headers=therapist).json()[
            "id"
        ]
        r = http.post(
            f"/cases/{case_id}/periods",
            json={
                "payer": "kela",
                "startsOn": "2026-01-01",
                "endsOn": "2026-12-31",
                "sessionsGranted": 30,
            },
            headers=therapist,
        )
        assert r.status_code == 201, r.text
        code = http.post(f"/cases/{case_id}/invites", json={}, headers=therapist).json()["code"]
        secrets.append(code)
        r = http.post(
            "/invites/accept",
            json={
                "code": code,
                "email": "g@example.fi",
                "password": PASSWORDS["guardian"],
                "displayName": "Anna",
                "device": {"name": "phone"},
            },
        )
        assert r.status_code == 201, r.text
        guardian = {"authorization": "Bearer " + r.json()["token"]}
        secrets.append(r.json()["token"])
        pairing = http.post(f"/cases/{case_id}/pairing-codes", headers=guardian).json()["code"]
        secrets.append(pairing)
        r = http.post("/auth/pair", json={"code": pairing, "device": {"name": "tablet"}})
        assert r.status_code == 200, r.text
        child = {"authorization": "Bearer " + r.json()["token"]}
        secrets.append(r.json()["token"])
        assert [c["myRole"] for c in http.get("/cases", headers=child).json()] == ["child"]
        # failed attempts carry secrets in their bodies too
        http.post(
            "/auth/login",
            json={
                "email": "g@example.fi",
                "password": "wrong-" + PASSWORDS["guardian"],
                "device": {"name": "d"},
            },
        )
        secrets.append("wrong-" + PASSWORDS["guardian"])
        r = http.post(
            "/me/password",
            json={"currentPassword": PASSWORDS["guardian"], "newPassword": PASSWORDS["new"]},
            headers=guardian,
        )
        assert r.status_code == 200, r.text
        # revocation takes effect at once
        other = login("g@example.fi", PASSWORDS["new"])
        devices = http.get("/devices", headers=guardian).json()
        victim = next(d["id"] for d in devices if not d["current"])
        assert http.delete(f"/devices/{victim}", headers=guardian).status_code == 204
        assert http.get("/me", headers=other).status_code == 401
        assert (
            http.get(f"/cases/{case_id}/periods", headers=guardian).json()[0]["sessionsGranted"]
            == 30
        )
    server.stop()

    logs = server.log_path.read_text()
    assert '"route":"/auth/login"' in logs  # the request log is there, and JSON
    for secret in secrets:
        assert secret not in logs, "a secret reached the logs"
    if "KAARI_DATABASE_URL" in server.env:
        stored = postgres_dump(server.env["KAARI_DATABASE_URL"])
        assert "Terhi" in stored  # the dump does contain the data
        for secret in secrets:
            assert secret not in stored, "a secret is stored in plaintext"
    else:
        files = list((tmp_path / "data").glob("kaari.sqlite3*"))
        raw = b"".join(f.read_bytes() for f in files)
        assert b"Terhi" in raw
        for secret in secrets:
            assert secret.encode() not in raw, "a secret is stored in plaintext"
