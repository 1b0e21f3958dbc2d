"""The messaging domain's section of the GDPR export: what the user sent (room events and
to-device messages are ciphertexts; the user's devices hold the keys), what waits in
their devices' to-device mailboxes, the rooms they are in, the deliveries to their devices, and the
attachments they uploaded with their encrypted blobs (base64)."""

from __future__ import annotations

import base64
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.export import ExportSubject, Section
from app.storage.blobs import BlobStore
from app.storage.export import table_rows
from app.storage.schema import attachments, threads
from app.storage.schema_matrix import (
    room_acks,
    room_deliveries,
    room_events,
    room_members,
    to_device_messages,
    to_device_txns,
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
    }


async def erase(conn: AsyncConnection, subject: ExportSubject, now: datetime) -> list[UUID]:
    """The user's encrypted room events, the to-device messages from or to their devices,
    their devices' positions and deliveries, and their attachments go (the membership
    events stay: they say who was in the room when). The attachments' blob ids, for the
    caller to delete from the blob store after the commit."""
    user, mine = subject.user_id, subject.device_ids
    await conn.execute(
        room_events.delete().where(
            room_events.c.sender_user_id == user, room_events.c.type == "m.room.encrypted"
        )
    )
    await conn.execute(
        to_device_messages.delete().where(
            sa.or_(
                to_device_messages.c.device_id.in_(mine),
                to_device_messages.c.sender_user_id == user,
            )
        )
    )
    await conn.execute(to_device_txns.delete().where(to_device_txns.c.device_id.in_(mine)))
    await conn.execute(room_acks.delete().where(room_acks.c.device_id.in_(mine)))
    await conn.execute(room_deliveries.delete().where(room_deliveries.c.device_id.in_(mine)))
    query = sa.select(attachments.c.id).where(attachments.c.uploader_user_id == user)
    blob_ids = list((await conn.execute(query)).scalars().all())
    await conn.execute(attachments.delete().where(attachments.c.uploader_user_id == user))
    return blob_ids


async def erase_case(conn: AsyncConnection, case_id: UUID, now: datetime) -> list[UUID]:
    """The case's rooms lose their whole history (events, membership, deliveries) and
    their attachments; the blob ids, to delete after the commit."""
    rooms = sa.select(threads.c.id).where(threads.c.case_id == case_id)
    events = sa.select(room_events.c.pos).where(room_events.c.room_id.in_(rooms))
    await conn.execute(room_deliveries.delete().where(room_deliveries.c.event_pos.in_(events)))
    await conn.execute(room_events.delete().where(room_events.c.room_id.in_(rooms)))
    await conn.execute(room_members.delete().where(room_members.c.room_id.in_(rooms)))
    query = sa.select(attachments.c.id).where(attachments.c.thread_id.in_(rooms))
    blob_ids = list((await conn.execute(query)).scalars().all())
    await conn.execute(attachments.delete().where(attachments.c.thread_id.in_(rooms)))
    return blob_ids
