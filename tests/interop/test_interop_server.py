"""OlmMachines of matrix-sdk-crypto-wasm as clients of a real ``kaari serve``: Megolm
messages both ways in a case's family room, and a device that appears late makes the
send hit the device-set check (409) and the resend reach it; the same with the Python
reference client (client/matrix) as one of the devices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from interop_peers import NodeDriver
from rust_client import DeviceSetChanged, RustClient
from servers import KaariServer, fresh_postgres_database

from app.messaging.service import thread_id_of
from client.matrix import DeviceSetChanged as PyDeviceSetChanged
from client.matrix import MatrixClient, MatrixHttp

PASSWORD = "interop-Passw0rd-61c2"
KEY = bytes(range(32))


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KaariServer]:
    env = {"KAARI_DATA_DIR": str(tmp_path / "data"), "KAARI_SERVER_NAME": "kaari.test"}
    with fresh_postgres_database() if request.param == "postgresql" else _Nothing() as url:
        if url:
            env["KAARI_DATABASE_URL"] = url
        srv = KaariServer(env, tmp_path / "server.log")
        try:
            yield srv
        finally:
            srv.stop()


class _Nothing:
    def __enter__(self) -> str:
        return ""

    def __exit__(self, *exc: object) -> None:
        return None


def onboard(server: KaariServer) -> dict[str, Any]:
    org = server.cli("admin", "create-org", "--name", "Terapia Oy")
    server.cli(
        "admin", "create-user", "--org", org, "--email", "admin@example.fi",
        "--display-name", "Admin", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    server.start()
    http = httpx.Client(base_url=server.url, timeout=30)

    def login(email: str, device: str) -> dict[str, Any]:
        body = {"email": email, "password": PASSWORD, "device": {"name": device}}
        r = http.post("/auth/login", json=body)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def accept(code: str, email: str, name: str) -> dict[str, Any]:
        body = {
            "code": code,
            "email": email,
            "password": PASSWORD,
            "displayName": name,
            "device": {"name": "laptop", "platform": "web"},
        }
        r = http.post("/invites/accept", json=body)
        assert r.status_code in (200, 201), r.text
        out: dict[str, Any] = r.json()
        return out

    admin = login("admin@example.fi", "admin")
    h = {"authorization": f"Bearer {admin['token']}"}
    code = http.post("/org/invites", json={"role": "therapist"}, headers=h).json()["code"]
    therapist = accept(code, "terhi@example.fi", "Terhi")
    th = {"authorization": f"Bearer {therapist['token']}"}
    case_id = http.post("/cases", json={"childDisplayName": "Eino"}, headers=th).json()["id"]
    code = http.post(f"/cases/{case_id}/invites", json={}, headers=th).json()["code"]
    guardian = accept(code, "anna@example.fi", "Anna")
    assert guardian["user"]["matrixUserId"].endswith(":kaari.test")
    return {
        "therapist": therapist,
        "guardian": guardian,
        "login": login,
        "room": f"!{thread_id_of(UUID(case_id), 'family')}:kaari.test",
    }


def test_megolm_both_ways_and_a_late_device_through_the_409_path(
    node_driver: NodeDriver, server: KaariServer
) -> None:
    people = onboard(server)
    room = people["room"]
    terhi = RustClient(node_driver, "terhi", server.url, people["therapist"]["token"])
    anna = RustClient(node_driver, "anna", server.url, people["guardian"]["token"])
    tablet: RustClient | None = None
    try:
        for c in (terhi, anna):
            c.sync()
        # the therapist writes, the guardian reads; then the other way round
        epoch = terhi.prepare(room)
        terhi.send_text(room, "Hei Anna", "t1", epoch)
        anna.sync()
        assert anna.texts(room) == ["Hei Anna"]
        epoch = anna.prepare(room)
        anna.send_text(room, "Hei Terhi", "a1", epoch)
        terhi.sync()
        assert terhi.texts(room) == ["Hei Anna", "Hei Terhi"]  # her own too
        # a new device of the guardian appears after the therapist prepared the room
        epoch = terhi.prepare(room)
        tablet = RustClient(
            node_driver, "tablet", server.url, people["login"]("anna@example.fi", "tablet")["token"]
        )
        tablet.sync()
        with pytest.raises(DeviceSetChanged) as refused:
            terhi.send_text(room, "Kotitehtävä", "t2", epoch)
        # what the client does on 409: sync (device lists), query, share, encrypt, resend
        terhi.sync()
        epoch = terhi.prepare(room)
        assert epoch == refused.value.args[0]
        terhi.send_text(room, "Kotitehtävä", "t3", epoch)
        tablet.sync()
        anna.sync()
        # the tablet reads what was sent after it appeared (history: key backup, not here)
        assert tablet.texts(room)[-1] == "Kotitehtävä"
        assert anna.texts(room) == ["Hei Anna", "Hei Terhi", "Kotitehtävä"]
    finally:
        for c in (terhi, anna, tablet):
            if c is not None:
                c.close()


def test_a_python_client_and_an_olm_machine_in_one_room(
    node_driver: NodeDriver, server: KaariServer, tmp_path: Path
) -> None:
    """The reference client (client/matrix) and an OlmMachine: messages both ways, and the
    Python side as the sender through the device-set check when a Rust device appears late."""
    people = onboard(server)
    room = people["room"]
    terhi = MatrixClient.open(
        MatrixHttp.connect(server.url, people["therapist"]["token"]), tmp_path / "terhi", KEY
    )
    anna = RustClient(node_driver, "anna", server.url, people["guardian"]["token"])
    tablet: RustClient | None = None
    try:
        terhi.sync()
        anna.sync()
        terhi.send_text(room, "Hei Anna")
        anna.sync()
        assert anna.texts(room) == ["Hei Anna"]
        anna.send_text(room, "Hei Terhi", "a1", anna.prepare(room))
        got = terhi.sync().messages  # her own message comes back in the same sync
        assert [m["content"]["body"] for m in got] == ["Hei Anna", "Hei Terhi"]
        assert got[1]["sender"] == anna.user
        assert got[1]["sender_device"] == anna.device
        assert got[1]["authenticated"] is True
        assert terhi.texts(room) == ["Hei Anna", "Hei Terhi"]
        # the guardian's tablet (an OlmMachine) signs in after the Python client read the epoch
        refused: list[str] = []
        joined_members, send_room_event = terhi.http.joined_members, terhi.http.send_room_event

        def members_then_a_new_device(room_id: str) -> tuple[list[str], str]:
            nonlocal tablet
            answer = joined_members(room_id)
            if tablet is None:
                token = people["login"]("anna@example.fi", "tablet")["token"]
                tablet = RustClient(node_driver, "tablet", server.url, token)
                tablet.sync()
            return answer

        def send(
            room_id: str, txn_id: str, content: dict[str, Any], epoch: str, *, notify: bool = True
        ) -> str:
            try:
                return send_room_event(room_id, txn_id, content, epoch, notify=notify)
            except PyDeviceSetChanged as exc:
                refused.append(exc.epoch)
                raise

        terhi.http.joined_members = members_then_a_new_device  # type: ignore[method-assign]
        terhi.http.send_room_event = send  # type: ignore[method-assign]
        terhi.send_text(room, "Kotitehtävä")
        assert len(refused) == 1
        assert tablet is not None
        tablet.sync()
        anna.sync()
        assert tablet.texts(room)[-1] == "Kotitehtävä"
        assert anna.texts(room) == ["Hei Anna", "Hei Terhi", "Kotitehtävä"]
        # and the tablet writes back to the Python client
        tablet.send_text(room, "Tabletilta", "tb1", tablet.prepare(room))
        terhi.sync()
        assert terhi.texts(room) == ["Hei Anna", "Hei Terhi", "Kotitehtävä", "Tabletilta"]
    finally:
        terhi.close()
        terhi.http.close()
        for c in (anna, tablet):
            if c is not None:
                c.close()
