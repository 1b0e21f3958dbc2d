"""Rooms, to-device messages and sync at the Matrix client-server paths
(docs/matrix-api.md): thin handlers over ``RoomService``, ``ToDeviceService`` and
``SyncService``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.core.body import raw_json_body
from app.core.matrix import MatrixError
from app.core.principal import Principal
from app.core.wire import INT64_MAX
from app.messaging.receipts import DeliveryReceipts
from app.messaging.rooms import EPOCH_PARAM, NOTIFY_PARAM, RoomService, parse_position
from app.messaging.sync import SyncService
from app.messaging.to_device import SendToDevice, ToDeviceService
from app.quotas import quota

MATRIX_PATH = "/_matrix/client/v3"


class MatrixRoomController(Controller):
    path = MATRIX_PATH
    tags = ["matrix"]

    @put("/sendToDevice/{event_type:str}/{txn_id:str}", opt=quota("to_device_send"))
    async def send_to_device(
        self,
        event_type: FromPath[str],
        txn_id: FromPath[str],
        data: JSONBody[SendToDevice],
        principal: NamedDependency[Principal],
        to_device: NamedDependency[ToDeviceService],
    ) -> dict[str, Any]:
        return await to_device.send(principal, event_type, txn_id, data)

    @put("/rooms/{room_id:str}/send/{event_type:str}/{txn_id:str}", opt=quota("message_send"))
    async def send(
        self,
        request: Request[Any, Any, Any],
        room_id: FromPath[str],
        event_type: FromPath[str],
        txn_id: FromPath[str],
        principal: NamedDependency[Principal],
        rooms: NamedDependency[RoomService],
        epoch: Annotated[str | None, QueryParameter(name=EPOCH_PARAM, max_length=64)] = None,
        notice_hint: Annotated[Literal["0", "1"], QueryParameter(name=NOTIFY_PARAM)] = "1",
    ) -> dict[str, str]:
        """Kaari extensions: ``?kaari_device_epoch=`` names the device set encrypted for;
        ``?kaari_notify=0``: no "new message" notice (another notice announces it)."""
        body = await raw_json_body(request)
        return await rooms.send(
            principal, room_id, event_type, txn_id, body, epoch, notify=notice_hint == "1"
        )

    @get("/rooms/{room_id:str}/messages")
    async def messages(
        self,
        room_id: FromPath[str],
        principal: NamedDependency[Principal],
        rooms: NamedDependency[RoomService],
        frm: Annotated[str | None, QueryParameter(name="from", max_length=100)] = None,
        to: Annotated[str | None, QueryParameter(name="to", max_length=100)] = None,
        direction: Annotated[str, QueryParameter(name="dir", max_length=1)] = "b",
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=1000)] = 10,
        filter_: Annotated[str | None, QueryParameter(name="filter", max_length=2048)] = None,
    ) -> dict[str, Any]:
        if direction not in ("b", "f"):
            raise MatrixError(400, "M_INVALID_PARAM", "dir is b or f", code="invalid_dir")
        return await rooms.messages(
            principal, room_id, parse_position(frm), parse_position(to), direction == "b", limit
        )

    @get("/rooms/{room_id:str}/event/{event_id:str}")
    async def event(
        self,
        room_id: FromPath[str],
        event_id: FromPath[str],
        principal: NamedDependency[Principal],
        rooms: NamedDependency[RoomService],
    ) -> dict[str, Any]:
        return await rooms.event(principal, room_id, event_id)

    @get("/rooms/{room_id:str}/kaari.deliveries/{event_id:str}")
    async def deliveries(
        self,
        room_id: FromPath[str],
        event_id: FromPath[str],
        principal: NamedDependency[Principal],
        receipts: NamedDependency[DeliveryReceipts],
    ) -> dict[str, Any]:
        """Kaari extension: which devices have received the caller's own event."""
        return await receipts.deliveries(principal, room_id, event_id)

    @get("/rooms/{room_id:str}/joined_members")
    async def joined_members(
        self,
        room_id: FromPath[str],
        principal: NamedDependency[Principal],
        rooms: NamedDependency[RoomService],
    ) -> dict[str, Any]:
        return await rooms.joined_members(principal, room_id)

    @get("/sync")
    async def sync(
        self,
        principal: NamedDependency[Principal],
        sync: NamedDependency[SyncService],
        since: Annotated[str | None, QueryParameter(name="since", max_length=100)] = None,
        timeout_ms: Annotated[int, QueryParameter(name="timeout", ge=0, le=INT64_MAX)] = 0,
        filter_: Annotated[str | None, QueryParameter(name="filter", max_length=2048)] = None,
        full_state: Annotated[bool, QueryParameter(name="full_state")] = False,
        set_presence: Annotated[
            str | None, QueryParameter(name="set_presence", max_length=20)
        ] = None,
    ) -> dict[str, Any]:
        return await sync.sync(principal, since, timeout_ms)

    @get("/keys/changes")
    async def key_changes(
        self,
        principal: NamedDependency[Principal],
        sync: NamedDependency[SyncService],
        frm: Annotated[str, QueryParameter(name="from", max_length=100)],
        to: Annotated[str, QueryParameter(name="to", max_length=100)],
    ) -> dict[str, Any]:
        return await sync.key_changes(principal, frm, to)
