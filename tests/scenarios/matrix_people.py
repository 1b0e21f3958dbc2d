"""A family and its therapist on the Matrix device protocol, onboarded through a real
server's CLI and HTTP API: each person's phone (and Anna's tablet) is a signed-in Kaari
device with a reference Matrix client (client/matrix) opened on demand, its own encrypted
store and secret kept for reopening. Nothing here uses the old device protocol.

* ``enrol(server)``: the admin from the CLI; Terhi (therapist) by invite, the
  case of Eino, Anna and Mikko (guardians) by invite, Anna's tablet by sign-in, Eino's
  tablet by pairing (also behind tests/scenarios/matrix_onboarding.py's ``onboard``);
* ``onboard(server, root)``: that, and the case's family, child and homework rooms;
* ``people.open(name)``: that device's :class:`client.matrix.MatrixClient` (keys uploaded);
  ``people.login(email, name)``: another device of a person;
* :class:`LiveEvents`: a device's WebSocket for live events only (``event`` frames).
"""

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
#: the onboarded devices by name: who they belong to
NAMES = ("therapist", "anna", "tablet", "mikko", "eino")


@dataclass
class Person:
    """One signed-in device of a person."""

    name: str
    token: str
    user_id: str
    device_id: str
    api: Api


@dataclass
class MatrixPeople:
    url: str
    root: Path
    devices: dict[str, Person]
    case_id: str
    family_room: str = ""
    child_room: str = ""
    homework_room: str = ""
    secrets: list[str] = field(default_factory=list)  # tokens, codes, passwords
    _store_secrets: dict[str, bytes] = field(default_factory=dict)

    @property
    def therapist(self) -> Person:
        return self.devices["therapist"]

    @property
    def guardian(self) -> Person:
        return self.devices["anna"]

    @property
    def guardian_tablet(self) -> Person:
        return self.devices["tablet"]

    @property
    def guardian2(self) -> Person:
        return self.devices["mikko"]

    @property
    def child(self) -> Person:
        return self.devices["eino"]

    def open(self, name: str, url: str | None = None) -> MatrixClient:
        """The device's Matrix client (its store under ``root/name``), keys uploaded."""
        secret = self._store_secrets.setdefault(name, os.urandom(32))
        http = MatrixHttp.connect(url or self.url, self.devices[name].token)
        return MatrixClient.open(http, self.root / name, secret)

    def api(self, name: str, url: str | None = None) -> Api:
        """A Kaari API session of the device (another base URL: another instance)."""
        return Api(url or self.url, token=self.devices[name].token)

    def login(self, email: str, name: str) -> Person:
        """Another device of a person, signed in with the password."""
        api = Api(self.url)
        body = api.login(email, PASSWORD, name)
        self.secrets.append(body["token"])
        person = _person(name, body, api)
        self.devices[name] = person
        return person


def _person(name: str, body: dict[str, Any], api: Api) -> Person:
    api._signed_in(body)
    return Person(name, body["token"], body["user"]["id"], body["deviceId"], api)


@dataclass
class Enrolled:
    """Everyone's first signed-in device (by name, ``NAMES``), the case, and every
    secret the onboarding handled (for the privacy checks)."""

    devices: dict[str, Person]
    case_id: str
    secrets: list[str]


def enrol(server: KaariServer, url: str | None = None) -> Enrolled:
    """Admin from the CLI; then invites, a case and a paired child over HTTP."""
    url = url or server.url
    org = server.cli("admin", "create-org", "--name", "Terapia Oy")
    server.cli(
        "admin", "create-user", "--org", org, "--email", "admin@example.fi",
        "--display-name", "Admin", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    if server.proc is None:
        server.start()
    found: list[str] = [PASSWORD]
    admin = Api(url)
    found.append(admin.login("admin@example.fi", PASSWORD, "admin laptop")["token"])

    def accept(code: str, email: str, display_name: str, name: str) -> Person:
        found.append(code)
        body = {
            "code": code,
            "email": email,
            "password": PASSWORD,
            "displayName": display_name,
            "device": {"name": "phone", "platform": "android"},
        }
        answer: dict[str, Any] = Api(url).post("/invites/accept", body)
        found.append(answer["token"])
        return _person(name, answer, Api(url))

    therapist = accept(
        admin.post("/org/invites", {"role": "therapist"})["code"],
        "terhi@example.fi", "Terhi", "therapist",
    )  # fmt: skip
    case_id = str(therapist.api.post("/cases", {"childDisplayName": "Eino"})["id"])

    def invite() -> str:
        return str(therapist.api.post(f"/cases/{case_id}/invites", {})["code"])

    anna = accept(invite(), "anna@example.fi", "Anna", "anna")
    mikko = accept(invite(), "mikko@example.fi", "Mikko", "mikko")
    tablet_api = Api(url)
    tablet_body = tablet_api.login("anna@example.fi", PASSWORD, "Anna's tablet")
    found.append(tablet_body["token"])
    pairing = str(anna.api.post(f"/cases/{case_id}/pairing-codes")["code"])
    found.append(pairing)
    child_api = Api(url)
    child_body = child_api.pair(pairing, "Eino's tablet")
    found.append(child_body["token"])
    devices = {
        "therapist": therapist,
        "anna": anna,
        "tablet": _person("tablet", tablet_body, tablet_api),
        "mikko": mikko,
        "eino": _person("eino", child_body, child_api),
    }
    return Enrolled(devices, case_id, found)


def onboard(server: KaariServer, root: Path, url: str | None = None) -> MatrixPeople:
    """``enrol``, then the case's family, child and homework rooms."""
    url = url or server.url
    enrolled = enrol(server, url)
    people = MatrixPeople(
        url=url,
        root=root,
        devices=enrolled.devices,
        case_id=enrolled.case_id,
        secrets=enrolled.secrets,
    )
    case_id, therapist = enrolled.case_id, people.therapist
    people.family_room = therapist.api.get(f"/cases/{case_id}/appointments/room")["roomId"]
    people.homework_room = therapist.api.get(f"/cases/{case_id}/homework/room")["roomId"]
    # the child's rooms are its child room and the homework room
    rooms = set(MatrixHttp.connect(url, people.child.token).sync(None)["rooms"]["join"])
    (people.child_room,) = rooms - {people.homework_room}
    return people


class LiveEvents:
    """A device's WebSocket, for its live events only (``event`` frames: cancellations,
    ticks, device-list changes; names and ids, never content); pings are answered.
    Messages come by Matrix sync."""

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
        """Read frames for up to ``seconds``."""
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

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == name]
