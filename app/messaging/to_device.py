"""To-device messages at the Matrix paths (docs/matrix-api.md): room keys, withheld
notices, key requests, verification and call signalling travel device to device.

* ``PUT sendToDevice/{type}/{txn}`` stores one row per recipient device, numbered from the
  device's sequence (``device_sequences``, row-locked until the commit, so a device's rows
  appear in order); a repeated transaction id of the sending device stores nothing again.
* ``sender`` is the authenticated user. Recipients are the caller's own devices and those
  of users who share an open case with the caller; anyone else is silently skipped (as a
  Matrix server skips unknown users), so nothing is enumerable. ``*`` is every signed-in
  device of the user.
* A device's rows go out in its sync and are deleted when a later sync's ``since``
  acknowledges them; what is never acknowledged expires after
  ``KAARI_TO_DEVICE_RETENTION_DAYS``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from msgspec import Meta

from app.config import Settings
from app.core.matrix import MatrixError, MatrixIds, parse_device
from app.core.principal import Principal
from app.core.time import Clock
from app.keys.directory import KeyDirectory
from app.messaging import matrix_store as mx
from app.messaging import store
from app.realtime.notifier import Notifier
from app.storage.engine import Database

MAX_TARGETS = 1000
MAX_CONTENT_BYTES = 65_536


class SendToDevice(msgspec.Struct):
    messages: Annotated[
        dict[
            Annotated[str, Meta(max_length=255)],
            Annotated[
                dict[Annotated[str, Meta(max_length=64)], dict[str, Any]], Meta(max_length=100)
            ],
        ],
        Meta(max_length=200),
    ]


_encoder = msgspec.json.Encoder()


class ToDeviceService:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        keys: KeyDirectory,
        notifier: Notifier,
        ids: MatrixIds,
        clock: Clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.keys = keys
        self.notifier = notifier
        self.ids = ids

    async def send(
        self, principal: Principal, event_type: str, txn_id: str, body: SendToDevice
    ) -> dict[str, Any]:
        if not (0 < len(event_type) <= 255 and event_type.isprintable()):
            raise MatrixError(400, "M_INVALID_PARAM", "Bad event type", code="invalid_type")
        if not (0 < len(txn_id) <= 255 and txn_id.isprintable()):
            raise MatrixError(400, "M_INVALID_PARAM", "Bad transaction id", code="invalid_txn_id")
        wanted: dict[UUID, dict[str, dict[str, Any]]] = {}
        for mxid, by_device in body.messages.items():
            user_id = self.ids.parse_user(mxid)
            if user_id is not None:
                wanted[user_id] = by_device
        now = self.clock()
        expires = now + timedelta(days=self.settings.to_device_retention_days)
        async with self.db.transaction() as conn:
            if not await mx.record_to_device_txn(conn, principal.device_id, txn_id, expires):
                return {}  # a retry: already stored
            allowed = await self.keys.reachable(conn, principal, wanted)
            devices = await self.keys.live_devices(conn, allowed)
            by_user: dict[UUID, set[UUID]] = {}
            for device_id, user_id in devices.items():
                by_user.setdefault(user_id, set()).add(device_id)
            targets: dict[UUID, str] = {}
            for user_id in allowed:
                for device, content in wanted[user_id].items():
                    text = _encoder.encode(content).decode()
                    if len(text) > MAX_CONTENT_BYTES:
                        raise MatrixError(
                            413, "M_TOO_LARGE", "A message is at most 64 KiB", code="too_large"
                        )
                    if device == "*":
                        chosen = by_user.get(user_id, set())
                    else:
                        named = parse_device(device)
                        chosen = {named} & by_user.get(user_id, set()) if named else set()
                    for target in chosen:
                        targets[target] = text
            if len(targets) > MAX_TARGETS:
                raise MatrixError(
                    400, "M_INVALID_PARAM", "Too many recipient devices", code="too_many_devices"
                )
            if targets:
                seqs = await store.next_sequences(conn, targets.keys())
                await mx.insert_to_device(
                    conn,
                    [
                        {
                            "device_id": device_id,
                            "seq": seqs[device_id],
                            "sender_user_id": principal.user_id,
                            "sender_device_id": principal.device_id,
                            "type": event_type,
                            "content": text,
                            "expires_at": expires,
                        }
                        for device_id, text in targets.items()
                    ],
                )
        if targets:
            await self.notifier.wake_sync(targets)
        return {}
