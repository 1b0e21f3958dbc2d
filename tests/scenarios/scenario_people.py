"""A family and its therapist, onboarded through a real server's CLI and HTTP API, each
person with real client devices (keys, Olm sessions, encrypted local stores)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servers import KaariServer

from client.api import Api
from client.device import Device
from client.live import Live
from client.messenger import Messenger
from crypto.payloads import TextMessage

PASSWORD = "scenario-Passw0rd-4b7e"


@dataclass
class People:
    therapist: Messenger
    guardian: Messenger
    guardian_tablet: Messenger
    guardian2: Messenger
    child: Messenger
    case_id: str
    family_thread: str
    child_thread: str
    secrets: list[str] = field(default_factory=list)  # tokens, codes, passwords

    @property
    def devices(self) -> list[Messenger]:
        return [self.therapist, self.guardian, self.guardian_tablet, self.guardian2, self.child]


def device_for(url: str, body: dict[str, Any], tmp: Path, name: str) -> Messenger:
    api = Api(url, token=body["token"])
    device = Device.create(
        tmp / f"{name}-{body['deviceId']}",
        secrets.token_bytes(32),
        body["user"]["id"],
        body["deviceId"],
    )
    messenger = Messenger(api, device)
    messenger.publish_keys()
    return messenger


def onboard(server: KaariServer, tmp: Path, url: str | None = None) -> People:
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
        therapist=device_for(url, therapist, tmp, "therapist"),
        guardian=device_for(url, guardian, tmp, "guardian"),
        guardian_tablet=device_for(url, tablet, tmp, "guardian-tablet"),
        guardian2=device_for(url, guardian2, tmp, "guardian2"),
        child=device_for(url, child, tmp, "child"),
        case_id=case_id,
        family_thread="",
        child_thread="",
        secrets=found,
    )
    kinds = {t["kind"]: t["id"] for t in people.therapist.api.threads()}
    people.family_thread, people.child_thread = kinds["family"], kinds["child"]
    return people


def texts(messages: list[Any]) -> list[str]:
    return [m.payload.body for m in messages if isinstance(m.payload, TextMessage)]


def live_until(live: Live, want: int, seconds: float = 10.0) -> list[Any]:
    """Poll a live connection until ``want`` new messages arrived (or time is up)."""
    return live.wait_for(lambda got: len(got) >= want, seconds)
