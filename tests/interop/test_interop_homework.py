"""Homework content in the case's homework room between the Python reference client and
OlmMachines of matrix-sdk-crypto-wasm, through a real ``kaari serve``: the therapist's
Python device sets a task; a caregiver with the homework grant, on an OlmMachine, fetches
the content event by id (``rooms/{id}/event/{eventId}``) and decrypts its title; a
guardian's OlmMachine ticks with an ``org.kaari.homework.note`` event that the therapist's
Python device reads back under the tick."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
from interop_peers import NodeDriver
from rust_client import V3, RustClient
from servers import KaariServer
from test_interop_server import KEY, PASSWORD, onboard, server

from client.api import Api
from client.homework import Homework, Schedule
from client.matrix import MatrixClient, MatrixHttp

__all__ = ["server"]  # the fixture
HELSINKI = ZoneInfo("Europe/Helsinki")


def _caregiver(url: str, case_id: str, guardian_token: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=30) as http:
        h = {"authorization": f"Bearer {guardian_token}"}
        r = http.post(
            f"/cases/{case_id}/invites",
            json={"role": "caregiver", "scopes": ["homework"]},
            headers=h,
        )
        assert r.status_code == 201, r.text
        body = {
            "code": r.json()["code"],
            "email": "daycare@example.fi",
            "password": PASSWORD,
            "displayName": "Päiväkoti",
            "device": {"name": "phone", "platform": "web"},
        }
        r = http.post("/invites/accept", json=body)
        assert r.status_code in (200, 201), r.text
        out: dict[str, Any] = r.json()
        return out


def test_homework_events_between_python_and_olm_machines(
    node_driver: NodeDriver, server: KaariServer, tmp_path: Path
) -> None:
    people = onboard(server)
    t_token, g_token = people["therapist"]["token"], people["guardian"]["token"]
    api = Api(server.url, token=t_token)
    (case,) = api.get("/cases")
    caregiver = _caregiver(server.url, case["id"], g_token)
    terhi_mx = MatrixClient.open(MatrixHttp.connect(server.url, t_token), tmp_path / "t", KEY)
    terhi = Homework(terhi_mx, api)
    daycare = RustClient(node_driver, "daycare", server.url, caregiver["token"])
    anna = RustClient(node_driver, "anna", server.url, g_token)
    try:
        for c in (daycare, anna):
            c.sync()
        terhi_mx.sync()
        now = datetime.now(HELSINKI)
        task = terhi.assign(
            case["id"], "Pyöräile kauppaan", "Kypärä päähän",
            schedule=Schedule.daily(), starts_on=now.date(),
        )  # fmt: skip
        room = task.room_id
        # the caregiver's OlmMachine: the key arrives over to-device, the event by its id
        daycare.sync()
        r = daycare.http.get(f"{V3}/rooms/{quote(room)}/event/{quote(task.content_event_id)}")
        assert r.status_code == 200, r.text
        got = daycare.decrypt(room, r.json())
        assert "error" not in got, got
        assert got["event"]["type"] == "org.kaari.homework.task"
        assert got["event"]["content"]["title"] == "Pyöräile kauppaan"
        assert got["event"]["content"]["task_id"] == task.id
        assert got["sender"] == terhi_mx.user_id
        # the guardian's OlmMachine ticks with a note event in the same room
        anna.sync()
        epoch = anna.prepare(room)
        note = {"task_id": task.id, "day": now.date().isoformat(), "note": "Hienosti!"}
        content = anna.driver.call(
            "encrypt_room", name="anna", room=room, type="org.kaari.homework.note", content=note
        )
        r = anna.http.put(
            f"{V3}/rooms/{quote(room)}/send/m.room.encrypted/n1",
            params={"kaari_device_epoch": epoch},
            json=content,
        )
        assert r.status_code == 200, r.text
        r = anna.http.put(
            f"/homework/{task.id}/ticks/{now.date().isoformat()}",
            json={"clientTime": now.isoformat(), "noteEventId": r.json()["event_id"]},
        )
        assert r.status_code == 201, r.text
        (tick,) = terhi.ticks(task.id)
        assert (tick.note, tick.note_readable) == ("Hienosti!", True)
    finally:
        terhi_mx.close()
        terhi_mx.http.close()
        api.close()
        daycare.close()
        anna.close()
