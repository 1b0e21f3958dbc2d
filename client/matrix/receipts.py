"""Read receipts, end to end encrypted (docs/messaging.md, *Read receipts*; DESIGN §6).

A receipt is an ordinary Megolm room event of type :data:`READ_EVENT` with content
``{"event_id": "$…"}``: its sender has read that event and everything before it. The
server stores only ``m.room.encrypted`` and learns nothing of who read what. The rules
(no I/O here):

- only a decrypted event whose session matches a known device of its sender counts (a
  device not in the room never gets the room key, and the server refuses a non-member's
  send), and its content must name an event id;
- a member's receipt never moves backwards: one whose target is not later (by the
  target's ``origin_server_ts``) than the one kept is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
