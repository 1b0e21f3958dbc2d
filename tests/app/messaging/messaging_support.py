"""Helpers for the messaging tests: real client devices (keys, Olm) over the test client."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from conftest import World
from db_support import table_counts
from support import Session, login, session_from

from app.config import Settings
from app.storage.schema import attachments, deliveries, envelopes, mailbox
from client.api import Api
from client.device import Device
from client.messenger import Messenger


def messenger(client: Any, tmp_path: Path, session: Session, name: str) -> Messenger:
    """A signed-in device with its keys published."""
    api = Api(http=client, token=session.token)
    api.user_id, api.device_id = session.user_id, session.device_id
    device = Device.create(
        tmp_path / f"{name}-{session.device_id}",
        secrets.token_bytes(32),
        str(session.user_id),
        str(session.device_id),
    )
    m = Messenger(api, device)
    m.publish_keys()
    return m


def pair_child(client: Any, world: World) -> Session:
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code in (200, 201), r.text
    return session_from(r.json())


@dataclass
class Family:
    therapist: Messenger
    guardian: Messenger
    guardian_phone2: Messenger
    guardian2: Messenger
    child: Messenger
    family_thread: str
    child_thread: str

    @property
    def all(self) -> list[Messenger]:
        return [self.therapist, self.guardian, self.guardian_phone2, self.guardian2, self.child]


def family(client: Any, tmp_path: Path, world: World) -> Family:
    g_second = login(client, world.guardian.email or "", device="tablet")
    child = pair_child(client, world)
    f = Family(
        therapist=messenger(client, tmp_path, world.therapist, "therapist"),
        guardian=messenger(client, tmp_path, world.guardian, "guardian"),
        guardian_phone2=messenger(client, tmp_path, g_second, "guardian-2nd"),
        guardian2=messenger(client, tmp_path, world.guardian2, "guardian2"),
        child=messenger(client, tmp_path, child, "child"),
        family_thread="",
        child_thread="",
    )
    threads = {t["kind"]: t["id"] for t in f.therapist.api.threads()}
    f.family_thread, f.child_thread = threads["family"], threads["child"]
    return f


def counts(settings: Settings) -> dict[str, int]:
    """Rows in the messaging tables (to prove a refused request stored nothing)."""
    return table_counts(settings, (envelopes, mailbox, deliveries, attachments))


def uid(value: str | UUID) -> str:
    return str(value)
