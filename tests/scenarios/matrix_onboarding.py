"""A family and its therapist, onboarded through a real server's CLI and HTTP API: one
signed-in Kaari session per phone, tablet and laptop, a Matrix device (client/matrix) on
each (``Devices``) with helpers to read their rooms, and a listener for the live events
of a device's WebSocket."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers import KaariServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from client.api import Api
from client.matrix import MatrixClient, MatrixHttp

PASSWORD = "scenario-Passw0rd-4b7e"


@dataclass
class People:
    therapist: Api
    guardian: Api
    guardian_tablet: Api
    guardian2: Api
    child: Api
    case_id: str
    family_thread: str
    child_thread: str
    secrets: list[str] = field(default_factory=list)  # tokens, codes, passwords

    @property
    def sessions(self) -> list[Api]:
        return [self.therapist, self.guardian, self.guardian_tablet, self.guardian2, self.child]


def session_for(url: str, body: dict[str, Any]) -> Api:
    api = Api(url, token=body["token"])
    api._signed_in(body)
    return api


def onboard(server: KaariServer, url: str | None = None) -> People:
    """Admin from the CLI; then invites, a case and a paired child over HTTP."""
    url = url or server.url
    org = server.cli("admin", "create-org", "--name", "Terapia Oy")
    server.cli(
        "admin", "create-user", "--org", org, "--email", "admin@example.fi",
        "--display-name", "Admin", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    if server.proc is None:
        server.start()
    api = Api(url)
    found: list[str] = [PASSWORD]
    admin = api.login("admin@example.fi", PASSWORD, "admin laptop")
    found.append(admin["token"])

    def accept(code: str, email: str, name: str) -> dict[str, Any]:
        found.append(code)
        body: dict[str, Any] = Api(url).post(
            "/invites/accept",
            {
                "code": code,
                "email": email,
                "password": PASSWORD,
                "displayName": name,
                "device": {"name": "phone", "platform": "android"},
            },
        )
        found.append(body["token"])
        return body

    code = api.post("/org/invites", {"role": "therapist"})["code"]
    therapist = accept(code, "terhi@example.fi", "Terhi")
    t_api = Api(url, token=therapist["token"])
    case_id = t_api.post("/cases", {"childDisplayName": "Eino"})["id"]
    guardian = accept(
        t_api.post(f"/cases/{case_id}/invites", {})["code"], "anna@example.fi", "Anna"
    )
    guardian2 = accept(
        t_api.post(f"/cases/{case_id}/invites", {})["code"], "mikko@example.fi", "Mikko"
    )
    tablet = Api(url).login("anna@example.fi", PASSWORD, "Anna's tablet")
    found.append(tablet["token"])
    g_api = Api(url, token=guardian["token"])
    pairing = g_api.post(f"/cases/{case_id}/pairing-codes")["code"]
    found.append(pairing)
    child = Api(url).pair(pairing, "Eino's tablet")
    found.append(child["token"])
    people = People(
        therapist=session_for(url, therapist),
        guardian=session_for(url, guardian),
        guardian_tablet=session_for(url, tablet),
        guardian2=session_for(url, guardian2),
        child=session_for(url, child),
        case_id=case_id,
        family_thread="",
        child_thread="",
        secrets=found,
    )
    kinds = {t["kind"]: t["id"] for t in people.therapist.threads()}
    people.family_thread, people.child_thread = kinds["family"], kinds["child"]
    return people


class LiveEvents:
    """A device's WebSocket, for its live events only (``event`` frames: cancellations,
    ticks, device-list changes); pings are answered. Messages come by Matrix sync."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.events: list[dict[str, Any]] = []
        self._ws: ClientConnection | None = None

    def connect(self, timeout: float = 10.0) -> None:
        ws = connect(self.api.ws_url(self.api.ws_ticket()), open_timeout=timeout)
        ws.__enter__()  # this object owns the connection (closed in close())
        hello = json.loads(ws.recv(timeout=timeout))
        if hello.get("type") != "hello":
            ws.close()
            raise ConnectionError("the server did not greet with hello")
        self._ws = ws

    def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(OSError, ConnectionClosed):
                ws.close()

    def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while self._ws is not None and (left := deadline - time.monotonic()) > 0:
            try:
                frame = json.loads(self._ws.recv(timeout=left))
            except TimeoutError:
                return
            except ConnectionClosed:
                self._ws = None
                return
            if frame.get("type") == "ping":
                self._ws.send('{"type":"pong"}')
            elif frame.get("type") == "event":
                self.events.append(frame)

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], seconds: float) -> None:
        """Poll until ``predicate(every event so far)`` holds or time runs out."""
        deadline = time.monotonic() + seconds
        while not predicate(self.events) and time.monotonic() < deadline:
            self.poll(min(0.2, max(0.0, deadline - time.monotonic())))


SERVER_NAME = "localhost"


class Devices:
    """A Matrix device for each onboarded phone (same Kaari device and token)."""

    def __init__(self, people: People, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.secrets: dict[str, bytes] = {}
        self.tokens = {
            "therapist": str(people.therapist.token),
            "anna": str(people.guardian.token),
            "tablet": str(people.guardian_tablet.token),
            "mikko": str(people.guardian2.token),
            "eino": str(people.child.token),
        }

    def open(self, name: str, url: str | None = None) -> MatrixClient:
        secret = self.secrets.setdefault(name, os.urandom(32))
        http = MatrixHttp.connect(url or self.url, self.tokens[name])
        return MatrixClient.open(http, self.root / name, secret)


def room(thread_id: str) -> str:
    return f"!{thread_id}:{SERVER_NAME}"


def bodies(client: MatrixClient, room_id: str) -> list[str]:
    """What the app was handed in the room, in order: texts, and files by name."""
    out = []
    for m in client.messages(room_id):
        content = m["content"]
        out.append(content["body"] if content.get("msgtype") != "m.file" else "file")
    return out


def sync_until(client: MatrixClient, room_id: str, want: int, seconds: float = 10.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while len(bodies(client, room_id)) < want and time.monotonic() < deadline:
        client.sync(timeout_ms=1000)
    return bodies(client, room_id)
