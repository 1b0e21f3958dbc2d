"""A family and its therapist, onboarded through a real server's CLI and HTTP API
(matrix_people's ``enrol``) as one signed-in Kaari session per phone and tablet, a Matrix
device (client/matrix) on each (``Devices``) with helpers to read their rooms, and
matrix_people's listener for the live events of a device's WebSocket."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from scenarios.matrix_people import PASSWORD, LiveEvents, enrol
from servers import KaariServer

from client.api import Api
from client.matrix import MatrixClient, MatrixHttp

__all__ = ["PASSWORD", "Devices", "LiveEvents", "People", "bodies", "onboard", "room", "sync_until"]


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


def onboard(server: KaariServer, url: str | None = None) -> People:
    """matrix_people's ``enrol`` (admin, invites, the case, a paired child), as one Kaari
    API session per device and the case's two threads."""
    enrolled = enrol(server, url)
    d = enrolled.devices
    people = People(
        therapist=d["therapist"].api,
        guardian=d["anna"].api,
        guardian_tablet=d["tablet"].api,
        guardian2=d["mikko"].api,
        child=d["eino"].api,
        case_id=enrolled.case_id,
        family_thread="",
        child_thread="",
        secrets=enrolled.secrets,
    )
    kinds = {t["kind"]: t["id"] for t in people.therapist.threads()}
    people.family_thread, people.child_thread = kinds["family"], kinds["child"]
    return people


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
