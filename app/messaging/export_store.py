"""The messaging domain's section of the GDPR export: what the user sent (room events and
to-device messages are ciphertexts; the user's devices hold the keys), what waits in
their devices' mailboxes, the rooms they are in, the deliveries to their devices, and the
attachments they uploaded with their encrypted blobs (base64)."""

from __future__ import annotations

import base64

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.export import ExportSubject, Section
from app.storage.blobs import BlobStore
from app.storage.export import table_rows
from app.storage.schema import attachments, deliveries, envelopes, mailbox
from app.storage.schema_matrix import (
    room_deliveries,
    room_events,
    room_members,
    to_device_messages,
)


async def export(conn: AsyncConnection, subject: ExportSubject, *, blobs: BlobStore) -> Section:
    user, mine = subject.user_id, subject.device_ids
    uploaded = await table_rows(conn, attachments, attachments.c.uploader_user_id == user)
    for row in uploaded:
        data = bytearray()
        if blobs.exists(row["id"]):
            async for chunk in await blobs.open(row["id"]):
                data.extend(chunk)
        row["blob"] = base64.b64encode(bytes(data)).decode()
    return {
        "roomEventsSent": await table_rows(conn, room_events, room_events.c.sender_user_id == user),
        "rooms": await table_rows(conn, room_members, room_members.c.user_id == user),
        "toDeviceWaiting": await table_rows(
            conn, to_device_messages, to_device_messages.c.device_id.in_(mine)
        ),
        "deliveriesToMyDevices": await table_rows(
            conn, room_deliveries, room_deliveries.c.device_id.in_(mine)
        ),
        "attachmentsUploaded": uploaded,
        "earlierFormat": {
            "envelopesSent": await table_rows(conn, envelopes, envelopes.c.sender_user_id == user),
            "mailbox": await table_rows(conn, mailbox, mailbox.c.device_id.in_(mine)),
            "deliveries": await table_rows(conn, deliveries, deliveries.c.user_id == user),
        },
    }
