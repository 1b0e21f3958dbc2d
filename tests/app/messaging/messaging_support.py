"""Helpers for the thread and attachment tests: a case's people over the test client, and
files encrypted on the device (crypto.attachments) as the Matrix client does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conftest import World
from db_support import table_counts
from support import Session, login, session_from

from app.config import Settings
from app.storage.schema import attachments
from client.api import Api
from crypto.attachments import encrypt_stream
from crypto.payloads import AttachmentPointer


def pair_child(client: Any, world: World) -> Session:
    r = client.post(f"/cases/{world.case_id}/pairing-codes", headers=world.guardian.headers)
    assert r.status_code == 201, r.text
    r = client.post("/auth/pair", json={"code": r.json()["code"], "device": {"name": "tablet"}})
    assert r.status_code in (200, 201), r.text
    return session_from(r.json())


def api(client: Any, session: Session) -> Api:
    out = Api(http=client, token=session.token)
    out.user_id, out.device_id = session.user_id, session.device_id
    return out


@dataclass
class Family:
    therapist: Api
    guardian: Api
    guardian_phone2: Api
    guardian2: Api
    child: Api
    family_thread: str
    child_thread: str


def family(client: Any, world: World) -> Family:
    g_second = login(client, world.guardian.email or "", device="tablet")
    f = Family(
        therapist=api(client, world.therapist),
        guardian=api(client, world.guardian),
        guardian_phone2=api(client, g_second),
        guardian2=api(client, world.guardian2),
        child=api(client, pair_child(client, world)),
        family_thread="",
        child_thread="",
    )
    threads = {t["kind"]: t["id"] for t in f.therapist.threads()}
    f.family_thread, f.child_thread = threads["family"], threads["child"]
    return f


def send_file(
    sender: Api, thread: str, chunks: list[bytes], media_type: str, name: str | None = None
) -> AttachmentPointer:
    """Encrypt on the device and upload: the pointer a room event would carry."""
    stream = encrypt_stream(chunks)
    blob = sender.upload_attachment(thread, iter(stream))
    return stream.pointer(str(blob["id"]), media_type, name)


def counts(settings: Settings) -> dict[str, int]:
    """Rows in the attachment table (to prove a refused request stored nothing)."""
    return table_counts(settings, (attachments,))
