"""Read receipts, end to end encrypted (docs/messaging.md, *Read receipts*; DESIGN §6).

A receipt is an ordinary Megolm room event of type :data:`READ_EVENT` with content
``{"event_id": "$…"}``: its sender has read that event and everything before it. The
server stores only ``m.room.encrypted`` and learns nothing of who read what. The rules:

- only a decrypted event whose session matches a known device of its sender counts (a
  device not in the room never gets the room key, and the server refuses a non-member's
  send), and its content must name an event id;
- a member's receipt never moves backwards: one whose target is not later (by the
  target's ``origin_server_ts``) than the one kept is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from client.matrix.http import MatrixError, MatrixHttp
from client.matrix.store import DeviceStore

READ_EVENT = "org.kaari.read"


def target(message: Mapping[str, Any]) -> str | None:
    """The event id a decrypted receipt covers up to; None when it is not a valid one."""
    if message.get("type") != READ_EVENT or message.get("sender_device") is None:
        return None
    content = message.get("content")
    event_id = content.get("event_id") if isinstance(content, Mapping) else None
    return event_id if isinstance(event_id, str) and event_id.startswith("$") else None


def moves_forward(known: Mapping[str, Any] | None, at: int) -> bool:
    """Whether a receipt whose target was sent at ``at`` replaces the ``known`` one."""
    return known is None or at > int(known.get("at", -1))


def take(
    store: DeviceStore, http: MatrixHttp, messages: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Keep the receipts among newly decrypted ``messages`` that move their sender's
    forward (in the caller's transaction); those, per room and user."""
    moved: dict[str, dict[str, dict[str, Any]]] = {}
    known = store.receipts()
    for message in messages:
        event_id, room_id = target(message), str(message["room_id"])
        at = sent_at(store, http, room_id, event_id) if event_id else None
        user = str(message["sender"])
        if at is None or not moves_forward(known.get(room_id, {}).get(user), at):
            continue
        receipt = {"event_id": event_id, "ts": message["origin_server_ts"], "at": at}
        known.setdefault(room_id, {})[user] = receipt
        moved.setdefault(room_id, {})[user] = receipt
    if moved:
        store.set_receipts(known)
    return moved


def sent_at(store: DeviceStore, http: MatrixHttp, room_id: str, event_id: str) -> int | None:
    """When an event of the room was sent (``origin_server_ts``); None if the room has no
    such event (a recorded message, else asked of the server)."""
    known = store.message(event_id)
    if known is not None:
        ts = known.get("origin_server_ts") if known["room_id"] == room_id else None
    else:
        try:
            ts = http.room_event(room_id, event_id).get("origin_server_ts")
        except MatrixError:
            return None
    return ts if isinstance(ts, int) else None
